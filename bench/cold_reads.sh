#!/usr/bin/env bash
# Reads of learners whose profiles are not cached yet, on one store: loads
# USERS learners with ERRORS errors in all, restarts the server (empty profile
# cache), then runs W4a twice: the first DURATION seconds (mostly cold
# learners) and the next DURATION seconds (the Zipf head cached, the tail
# still loading). Prints both and the profile cache's hits and misses.
#
#   bench/cold_reads.sh [sqlite|rocksdb]
# Env: ERRATA_BIN (default build/errata), USERS (default 100000),
#      ERRORS (default 2000000), DURATION (default 10).
# docs/rocksdb.md quotes its output.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
STORE=${1:-sqlite}
BIN=${ERRATA_BIN:-build/errata}
USERS=${USERS:-100000}
ERRORS=${ERRORS:-2000000}
DURATION=${DURATION:-10}
source bench/single.sh
begin "$STORE" cold
serve "$BIN" "$PORT" "$WORK/data" "$WORK/server.log"
load "$PORT" "$USERS" "$ERRORS" "$WORK/ids.tsv"
unserve
serve "$BIN" "$PORT" "$WORK/data" "$WORK/server.log"
for phase in first next; do
  wrk -t2 -c64 -d"${DURATION}s" -s bench/w4_read.lua "http://127.0.0.1:$PORT" -- "$WORK/ids.tsv" generate 1.0 2>&1 |
    grep -o 'BENCH_RESULT.*' | cut -c14- |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print("%s %s %s s: %s req/s, p99 %s ms, non-2xx %s" % (sys.argv[1], sys.argv[2], sys.argv[3], format(round(r["rps"]), ","), r["p99_ms"], r["non2xx"]))' \
      "$STORE" "$phase" "$DURATION"
done
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^errata_profile_cache_(hits|misses)_total'
