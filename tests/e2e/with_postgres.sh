#!/usr/bin/env bash
# Runs one e2e test against the PostgreSQL the ctest fixture started
# (postgres.start writes its URL to $ERRATA_PG_URL_FILE).
set -euo pipefail
url=$(cat "${ERRATA_PG_URL_FILE:?}")
ERRATA_STORE="$url" exec "$@"
