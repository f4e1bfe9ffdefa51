#!/usr/bin/env bash
# What a learner's export costs everyone else: W4a (GET /generate-exercise,
# Zipf over LEARNERS learners) for DURATION seconds alone, then as long again
# while one client exports a learner of SIZE utterances over and over
# (GET /v1/users/{id}/export, docs/erasure.md). Prints wrk's result of each
# run and how many exports the second made.
#
#   bench/export_under_load.sh BIN [sqlite|rocksdb]
#     (LEARNERS=50000 SIZE=10000 DURATION=15 WARMUP=10)
# Exits 1 when a request failed (non-2xx from wrk, or no export answered).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${1:?usage: $0 BIN [sqlite|rocksdb]}
LEARNERS=${LEARNERS:-50000}
DURATION=${DURATION:-15}
source bench/single.sh
begin "${2:-sqlite}" export-load
serve "$BIN" "$PORT" "$WORK/data" "$WORK/server.log"
load "$PORT" "$LEARNERS" "$((LEARNERS * 3))" "$WORK/ids.tsv"
BIG=$(python3 - "http://127.0.0.1:$PORT" "${SIZE:-10000}" <<'PY'
import http.client, sys
from urllib.parse import urlparse
sys.path.insert(0, "bench")
import learner_records as lr
u = urlparse(sys.argv[1])
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
user, lines = lr.learner(int(sys.argv[2]))
lr.ingest(conn, lines)
print(user)
PY
)
URL="http://127.0.0.1:$PORT"
w4a() {
  local out
  out=$(wrk -t2 -c64 -d"$1s" --latency -s bench/w4_read.lua "$URL" -- "$WORK/ids.tsv" generate 1.0 |
    grep BENCH_RESULT)
  echo "$out"
  grep -q '"non2xx":0,' <<<"$out" || { echo "W4a had non-2xx answers" >&2; exit 1; }
}
w4a "${WARMUP:-10}" >/dev/null  # warm the cache
echo "== $BIN on ${2:-sqlite}: W4a alone"
w4a "$DURATION"
echo "== W4a while exporting a learner of ${SIZE:-10000} utterances"
( n=0; end=$((SECONDS + DURATION)); while ((SECONDS < end)); do
    curl -sf -o /dev/null "$URL/v1/users/$BIG/export" && n=$((n + 1)); done
  echo "exports: $n"; ((n > 0)) ) &
EXPORTS=$!
w4a "$DURATION"
wait "$EXPORTS" || { echo "no export answered" >&2; exit 1; }
unserve
