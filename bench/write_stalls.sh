#!/usr/bin/env bash
# Looks for write stalls: RUNS times, a fresh server, USERS learners loaded,
# then W3 (bulk ingest) for 10 s while a watcher polls /metrics every 0.5 s.
# A stall is a write queue that is not empty while no op commits for 4 s; at
# the first sample of each stall the watcher appends the store's figures, the
# threads' wait channels and every thread's stack (gdb) to STALLS. Prints one
# line per run: W3 requests/s, seconds until the queue drained, stalls so far.
# docs/checkpoint.md quotes it (the backstop that waited for nothing).
#
#   bench/write_stalls.sh [RUNS] [sqlite|rocksdb]
# Env: ERRATA_BIN (default build/errata), USERS (default 100000),
#      STALLS (default /tmp/errata-stalls.txt; appended to, not cleared).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${1:-10}
STORE=${2:-sqlite}
BIN=${ERRATA_BIN:-build/errata}
USERS=${USERS:-100000}
STALLS=${STALLS:-/tmp/errata-stalls.txt}
source bench/single.sh

metrics() { curl -s -m 2 "http://127.0.0.1:$1/metrics"; }

# watch PORT PID: samples until the server exits.
watch() {
  local port=$1 pid=$2 last="" same=0 dumped=0 m ops depth t
  while kill -0 "$pid" 2>/dev/null; do
    m=$(metrics "$port" || true)
    ops=$(awk '/^errata_ops_committed_total /{print $2}' <<<"$m")
    depth=$(awk '/^errata_write_queue_depth /{print $2}' <<<"$m")
    if [ -n "$depth" ] && [ "$depth" != 0 ] && [ "$ops" = "$last" ]; then
      same=$((same + 1))
    else
      same=0 dumped=0
    fi
    last=$ops
    if [ "$same" -ge 8 ] && [ "$dumped" = 0 ]; then
      dumped=1
      {
        echo "=== stall at $(date +%T.%N): queue $depth, ops committed $ops"
        grep -E '^errata_(sqlite|rocksdb|sync_duration_seconds_(sum|count)|commit_duration_seconds_(sum|count))' <<<"$m" || true
        for t in /proc/"$pid"/task/*; do
          echo "$(basename "$t") $(cat "$t/comm") $(cat "$t/wchan") $(awk '{print $3}' "$t/stat")"
        done
        gdb -p "$pid" -batch -ex "thread apply all bt 12" 2>/dev/null | grep -E '^Thread|^#' || true
      } >>"$STALLS"
    fi
    sleep 0.5
  done
}

stalls() { if [ -f "$STALLS" ]; then grep -c '^=== stall' "$STALLS" || true; else echo 0; fi; }

begin "$STORE" stalls
for r in $(seq "$RUNS"); do
  rm -rf "$WORK/data"
  serve "$BIN" "$PORT" "$WORK/data" "$WORK/server.log"
  load "$PORT" "$USERS" $((USERS * 3)) "$WORK/ids.tsv"
  watch "$PORT" "$PID" &
  watcher=$!
  t0=$(date +%s.%N)
  rps=$(wrk -t2 -c64 -d10s --timeout 120s -s bench/w3_bulk.lua "http://127.0.0.1:$PORT" \
    -- "$WORK/ids.tsv" 1000 2 2>&1 | grep -o '"rps":[0-9.]*' | cut -d: -f2)
  until metrics "$PORT" | grep -q '^errata_write_queue_depth 0$'; do sleep 0.2; done
  printf 'run %d: W3 %s req/s, drained in %.1f s; stalls so far: %s (%s)\n' "$r" "$rps" \
    "$(echo "$(date +%s.%N) - $t0" | bc)" "$(stalls)" "$STALLS"
  unserve
  wait "$watcher" 2>/dev/null || true
done
