#!/usr/bin/env bash
# The speed of `errata copy` (docs/copy.md): loads a synthetic dataset into
# SQLite over HTTP once (USERS learners, ERRORS errors), copies it into
# RocksDB once, then times each binary's copies in every direction,
# alternating the binaries each round so drift on a shared machine hits both.
# One line per copy: wall seconds, user and system CPU, bytes written.
#
#   bench/copy.sh BIN [BIN_B]
#   USERS=1000000 ERRORS=20000000 COPIES="rocksdb-sqlite" bench/copy.sh BIN   # full W6
# Env: USERS (default 100000), ERRORS (default 2000000), ROUNDS (default 1),
# COPIES (any of sqlite-sqlite rocksdb-sqlite sqlite-rocksdb rocksdb-rocksdb
# sqlite-postgres postgres-rocksdb; default all), PG_URL (a server's URL:
# the copies into PostgreSQL use a new database on it; without it, a
# PostgreSQL of its own is started on loopback, fsync on, and stopped).
# VERIFY=1: after each copy, also time `errata compare` of the two stores
# (it must find the same records). The load itself uses the first binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
A=${1:?usage: $0 BIN [BIN_B]}
BINS=("$A")
[[ -n "${2:-}" ]] && BINS+=("$2")
USERS=${USERS:-100000}
ERRORS=${ERRORS:-2000000}
ROUNDS=${ROUNDS:-1}
COPIES=${COPIES:-sqlite-sqlite rocksdb-sqlite sqlite-rocksdb rocksdb-rocksdb sqlite-postgres postgres-rocksdb}
source bench/single.sh
begin sqlite copy
PG_DIR=""
if [[ "$COPIES" == *postgres* && -z "${PG_URL:-}" ]]; then
  # Its own directory: PostgreSQL runs as another user, who cannot enter WORK.
  PG_DIR=$(mktemp -d /tmp/errata-copy-pg.XXXXXX)
  trap 'unserve; scripts/pg-stop.sh "$PG_DIR" >/dev/null 2>&1 || true; rm -rf "$WORK" "$PG_DIR"' EXIT
  PG_URL=$(scripts/pg-start.sh "$PG_DIR")
fi
PG_DB=errata_copy_bench_$$
pg_target() { echo "${PG_URL%/*}/$PG_DB"; }
pg_admin() { PGOPTIONS="-c client_min_messages=warning" psql -q -X "$PG_URL" -c "$1" >/dev/null; }

serve "$A" "$PORT" "$WORK/src" "$WORK/server.log"
t0=$(date +%s.%N)
load "$PORT" "$USERS" "$ERRORS" "$WORK/ids.tsv" 2>"$WORK/load.err" || { cat "$WORK/load.err" >&2; exit 1; }
echo "load over HTTP into SQLite: $USERS learners, $ERRORS errors in $(echo "$(date +%s.%N) - $t0" | bc) s"
unserve
"$A" copy --no-progress --from "sqlite:$WORK/src/errata.db" --to "rocksdb:$WORK/src-rocksdb" >/dev/null
# A binary of a newer stored format upgrades the sources when it opens them,
# and an older one then refuses them: with two binaries, each starts from
# a copy of the sources as loaded.
if [[ ${#BINS[@]} -gt 1 ]]; then
  mkdir -p "$WORK/pristine"
  cp -a "$WORK/src" "$WORK/src-rocksdb" "$WORK/pristine/"
fi
restore_sources() {
  [[ ${#BINS[@]} -gt 1 ]] || return 0
  rm -rf "$WORK/src" "$WORK/src-rocksdb"
  cp -a "$WORK/pristine/src" "$WORK/pristine/src-rocksdb" "$WORK/"
  [[ "$COPIES" != *postgres* ]] || pg_admin "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)"
}

# timed BIN WHAT FROM TO: one copy, with /usr/bin/time's CPU and bytes written.
timed() {
  local t0 cpu
  t0=$(date +%s.%N)
  cpu=$(/usr/bin/time -f "%U s user, %S s system, %O x 512 B written" "$1" copy --no-progress \
        --from "$3" --to "$4" 2>&1 >/dev/null | tail -1)
  printf '%-12s %-18s %8.1f s  (%s)\n' "$(basename "$1")" "$2" "$(echo "$(date +%s.%N) - $t0" | bc)" "$cpu"
  [[ -n "${VERIFY:-}" ]] || return 0
  t0=$(date +%s.%N)
  cpu=$(/usr/bin/time -f "%U s user, %S s system, %M KiB peak RSS" "$1" compare --no-progress \
        --from "$3" --to "$4" 2>&1 >"$WORK/compare.out" | tail -1) || {
    cat "$WORK/compare.out" >&2; echo "compare failed: $cpu" >&2; exit 1; }
  printf '%-12s %-18s %8.1f s  (%s)\n' "$(basename "$1")" "compare $2" "$(echo "$(date +%s.%N) - $t0" | bc)" "$cpu"
}

for round in $(seq "$ROUNDS"); do
  for bin in "${BINS[@]}"; do
    restore_sources
    for what in $COPIES; do
      rm -rf "$WORK/to.db" "$WORK/to.db-wal" "$WORK/to.db-shm" "$WORK/to-rocksdb"
      case "$what" in
        sqlite-sqlite) timed "$bin" "$what" "sqlite:$WORK/src/errata.db" "sqlite:$WORK/to.db" ;;
        rocksdb-sqlite) timed "$bin" "$what" "rocksdb:$WORK/src-rocksdb" "sqlite:$WORK/to.db" ;;
        sqlite-rocksdb) timed "$bin" "$what" "sqlite:$WORK/src/errata.db" "rocksdb:$WORK/to-rocksdb" ;;
        rocksdb-rocksdb) timed "$bin" "$what" "rocksdb:$WORK/src-rocksdb" "rocksdb:$WORK/to-rocksdb" ;;
        sqlite-postgres)
          pg_admin "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)"
          pg_admin "CREATE DATABASE $PG_DB"
          timed "$bin" "$what" "sqlite:$WORK/src/errata.db" "$(pg_target)" ;;
        postgres-rocksdb)
          # From the database the last sqlite-postgres copy filled (made here if none did).
          if ! psql -X -At "$(pg_target)" -c "SELECT 1 FROM users LIMIT 1" 2>/dev/null | grep -q 1; then
            pg_admin "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)"
            pg_admin "CREATE DATABASE $PG_DB"
            "$bin" copy --no-progress --from "sqlite:$WORK/src/errata.db" --to "$(pg_target)" >/dev/null
          fi
          timed "$bin" "$what" "$(pg_target)" "rocksdb:$WORK/to-rocksdb" ;;
        *) echo "unknown copy '$what'" >&2; exit 2 ;;
      esac
    done
  done
done
[[ "$COPIES" != *postgres* ]] || pg_admin "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)"
