#!/usr/bin/env bash
# What `errata backup` costs the writes of the server it backs up (docs/backup.md):
# loads LEARNERS learners and ERRORS errors, backs the store up once with no
# load, then runs W2 (POST /v1/utterances, 64 connections) for DURATION
# seconds alone, and as long again with a backup started 1 s in. Prints
# each backup's line and wrk's result of each run.
#
#   bench/backup_under_load.sh BIN [sqlite|rocksdb]
#     (LEARNERS=100000 ERRORS=2000000 DURATION=30 WARMUP=5)
# Exits 1 when a write failed (non-2xx) or a backup did.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${1:?usage: $0 BIN [sqlite|rocksdb]}
STORE=${2:-sqlite}
LEARNERS=${LEARNERS:-100000}
ERRORS=${ERRORS:-2000000}
DURATION=${DURATION:-30}
source bench/single.sh
begin "$STORE" backup-load
serve "$BIN" "$PORT" "$WORK/data" "$WORK/server.log"
start=$SECONDS
load "$PORT" "$LEARNERS" "$ERRORS" "$WORK/ids.tsv"
echo "== $BIN on $STORE: $LEARNERS learners, $ERRORS errors loaded in $((SECONDS - start)) s"
URL="http://127.0.0.1:$PORT"
backup() {
  "$BIN" backup --no-progress --data-dir "$WORK/data" "${OPTS[@]}" --to "$WORK/backup-$1"
  rm -rf "$WORK/backup-$1"
}
w2() {
  local out
  out=$(wrk -t2 -c64 -d"$1s" --latency -s bench/w2_v1_write.lua "$URL" -- "$WORK/ids.tsv" |
    grep BENCH_RESULT)
  echo "$out"
  grep -q '"non2xx":0,' <<<"$out" || { echo "W2 had non-2xx answers" >&2; exit 1; }
}
echo "== a backup with no load"
backup idle
w2 "${WARMUP:-5}" >/dev/null
echo "== W2 alone"
w2 "$DURATION"
echo "== W2 with a backup started 1 s in"
( sleep 1; backup load ) &
BACKUP=$!
w2 "$DURATION"
wait "$BACKUP" || { echo "the backup under load failed" >&2; exit 1; }
unserve
