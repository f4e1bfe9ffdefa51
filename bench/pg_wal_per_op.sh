#!/usr/bin/env bash
# PostgreSQL's own cost of a write, A/B: WAL records, bytes and full-page
# images per committed op over a W2 run (bench/w2_v1_write.lua), for two server
# binaries on one PostgreSQL of its own (scripts/pg-start.sh, loopback, fsync
# on), a new database per round, alternating A B, B A. Unlike req/s, WAL
# records per op hardly move with the machine's load, so they can tell a
# change to the SQL apart from noise on a shared machine (BENCHMARKS.md,
# "Session 27"). Bytes per op move with the full-page images, which depend on
# how many pages the run touched since its checkpoint, so on its length.
#
#   bench/pg_wal_per_op.sh BIN_A BIN_B
# Env: USERS (default 20000, 3 errors each), DURATION (default 10), ROUNDS
# (default 2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
A=${1:?usage: $0 BIN_A BIN_B}
B=${2:?usage: $0 BIN_A BIN_B}
USERS=${USERS:-20000}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
source bench/single.sh
begin postgres walcost
PG_DIR=$(mktemp -d /tmp/errata-wal-pg.XXXXXX)
trap 'unserve; scripts/pg-stop.sh "$PG_DIR" >/dev/null 2>&1 || true; rm -rf "$WORK" "$PG_DIR"' EXIT
PG_URL=$(scripts/pg-start.sh "$PG_DIR")
DATABASES=0
ops_committed() {
  curl -sf "http://127.0.0.1:$1/metrics" | awk '/^errata_ops_committed_total /{print $2}'
}
sql() { psql -Atq "$PG_URL" -c "$1"; }
round() {
  local label=$1 bin=$2 port out ops0 ops1 wal0 wal1 rps
  DATABASES=$((DATABASES + 1))
  sql "CREATE DATABASE walcost_$DATABASES"
  OPTS=(--store "${PG_URL%/*}/walcost_$DATABASES")
  port=$(free_port)
  rm -rf "$WORK/data"
  serve "$bin" "$port" "$WORK/data" "$WORK/server.log"
  load "$port" "$USERS" $((USERS * 3)) "$WORK/ids.tsv"
  sql "CHECKPOINT" >/dev/null  # every round starts owing no full-page images
  ops0=$(ops_committed "$port")
  wal0=$(sql "SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal")
  out=$(wrk -t2 -c64 -d"${DURATION}s" --timeout 30s -s bench/w2_v1_write.lua \
    "http://127.0.0.1:$port" -- "$WORK/ids.tsv" 2>&1)
  grep -q '"non2xx":0,' <<<"$out" || { echo "W2 had non-2xx answers: $out" >&2; exit 1; }
  ops1=$(ops_committed "$port")
  wal1=$(sql "SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal")
  rps=$(grep -o '"rps":[0-9.]*' <<<"$out" | cut -d: -f2)
  unserve
  python3 -c "import sys; l, r, o, a, b = sys.argv[1:]; o = int(o)
d = [int(y) - int(x) for x, y in zip(a.split('|'), b.split('|'))]
print(f'{l}: W2 {float(r):.0f} req/s, {o} ops; per op: {d[0] / o:.2f} WAL records,'
      f' {d[1] / o:.3f} full-page images, {d[2] / o:.0f} WAL bytes')" \
    "$label" "$rps" $((ops1 - ops0)) "$wal0" "$wal1"
}
for i in $(seq "$ROUNDS"); do
  if (( i % 2 )); then round A "$A"; round B "$B"; else round B "$B"; round A "$A"; fi
done
