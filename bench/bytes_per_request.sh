#!/usr/bin/env bash
# Disk bytes written per write request, and req/s, for W1 and W2 on one store:
# starts errata on a fresh data dir, loads USERS learners (3 errors each),
# then runs each write workload with wrk and reads the server's write_bytes
# from /proc/PID/io before and after. Prints one line per workload.
#
#   bench/bytes_per_request.sh [sqlite|rocksdb]
# Env: ERRATA_BIN (default build/errata), USERS (default 100000),
#      DURATION (seconds per workload, default 5).
# docs/write-amplification.md and docs/rocksdb.md quote its output.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
STORE=${1:-sqlite}
BIN=${ERRATA_BIN:-build/errata}
USERS=${USERS:-100000}
DURATION=${DURATION:-5}
source bench/single.sh
begin "$STORE" bytes
serve "$BIN" "$PORT" "$WORK/data" "$WORK/server.log"
load "$PORT" "$USERS" $(( USERS * 3 )) "$WORK/ids.tsv"
for w in w1_seed_write w2_v1_write; do
  before=$(awk '/^write_bytes/{print $2}' "/proc/$PID/io")
  result=$(wrk -t2 -c64 -d"${DURATION}s" -s "bench/$w.lua" "http://127.0.0.1:$PORT" -- "$WORK/ids.tsv" 2>&1 |
    grep -o 'BENCH_RESULT.*' | cut -c14-)
  after=$(awk '/^write_bytes/{print $2}' "/proc/$PID/io")
  python3 -c '
import json, sys
r = json.loads(sys.argv[1])
store, w, before, after = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
print("%s %s: %s req/s, p99 %s ms, non-2xx %s, %s bytes written per request" % (
    store, w, format(round(r["rps"]), ","), r["p99_ms"], r["non2xx"],
    format((after - before) // r["requests"], ",")))
' "$result" "$STORE" "$w" "$before" "$after"
done
