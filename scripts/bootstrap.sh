#!/usr/bin/env bash
# Installs the Debian 12 packages errata needs to build, test and benchmark.
# Idempotent: only missing packages are installed.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev sqlite3
  libicu-dev                                     # the learner search's case and accent folding
  librocksdb-dev                                 # --store rocksdb: (docs/rocksdb.md)
  libjemalloc-dev                                # the server's allocator (docs/allocator.md)
  libpq-dev postgresql
  libhiredis-dev redis-server
  libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  wrk curl python3 nginx
  chromium fonts-liberation fonts-dejavu-core   # the browser test of /dashboard (tests/browser)
)
# npm builds the /docs assets (web/docs); the machine image usually has it.
if ! command -v npm >/dev/null 2>&1; then PKGS+=(nodejs npm); fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "bootstrap: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
