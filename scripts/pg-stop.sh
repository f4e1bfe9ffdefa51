#!/usr/bin/env bash
# Stops the PostgreSQL that scripts/pg-start.sh DIR started (fast shutdown).
# The cluster stays in DIR: pg-start.sh DIR starts it again on the same port;
# rm -rf DIR throws it away.
set -euo pipefail

DIR=${1:?usage: pg-stop.sh DIR}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=errata-pg

[ -f "$DIR/data/PG_VERSION" ] || { echo "no cluster in $DIR" >&2; exit 1; }
if [ "$(id -u)" -eq 0 ]; then
  as_pg() { runuser -u "$PG_USER" -- "$@"; }
else
  as_pg() { "$@"; }
fi
if as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
  as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -w -t 60 stop -m fast >/dev/null
fi
