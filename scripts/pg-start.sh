#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for tests and prints its URL on stdout:
#
#   url=$(scripts/pg-start.sh /tmp/errata-pg)   # postgres://errata-pg@127.0.0.1:PORT/errata
#   ERRATA_STORE=$url python3 tests/e2e/test_v1_routes.py
#   scripts/pg-stop.sh /tmp/errata-pg
#
# The cluster lives in DIR/data (initdb on first use, trust auth, superuser
# errata-pg), listens on 127.0.0.1 only, on a free port remembered in DIR/port
# so a restart of the same DIR keeps its URL; its Unix socket and log
# (DIR/postgres.log) are in DIR too. PostgreSQL refuses to run as root: as root
# the script creates the system user errata-pg (if missing) and runs the
# server as that user. $PG_BIN overrides /usr/lib/postgresql/15/bin.
set -euo pipefail

DIR=${1:?usage: pg-start.sh DIR}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=errata-pg
DB=errata

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

if [ "$(id -u)" -eq 0 ]; then
  if ! id "$PG_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER" >/dev/null
  fi
  chown -R "$PG_USER" "$DIR"
  chmod 700 "$DIR"
  as_pg() { runuser -u "$PG_USER" -- "$@"; }
else
  as_pg() { "$@"; }
fi

if [ ! -f "$DIR/data/PG_VERSION" ]; then
  as_pg "$PG_BIN/initdb" -D "$DIR/data" -U "$PG_USER" -A trust -E UTF8 --locale=C.UTF-8 \
    >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
fi

if [ -f "$DIR/port" ]; then
  PORT=$(cat "$DIR/port")
else
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "$PORT" >"$DIR/port"
  [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$DIR/port"
fi

if ! as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
  as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR -c fsync=on -c max_connections=300" \
    start >/dev/null || { tail -n 20 "$DIR/postgres.log" >&2; exit 1; }
fi

for _ in $(seq 1 100); do
  if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U "$PG_USER" -d postgres; then break; fi
  sleep 0.1
done
"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U "$PG_USER" -d postgres \
  || { echo "postgres on port $PORT is not ready" >&2; exit 1; }

if [ "$("$PG_BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$PG_USER" -d postgres -Atc \
        "SELECT 1 FROM pg_database WHERE datname='$DB'")" != 1 ]; then
  "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$PG_USER" "$DB"
fi

echo "postgres://$PG_USER@127.0.0.1:$PORT/$DB"
