#!/usr/bin/env bash
# Where W5's tail latency is spent: one server on the embedded store (sqlite
# or rocksdb), LEARNERS learners (default 100000, 3 errors each), DURATION
# seconds (default 10) of W4a to warm the cache, then as long of W5; prints
# wrk's result and, per route,
# how many requests took longer than each bound of the server's own latency
# histogram (/metrics, the difference over the W5 run).
#
#   bench/w5_tail.sh [BIN] [sqlite|rocksdb]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${1:-build/errata}
LEARNERS=${LEARNERS:-100000}
source bench/single.sh
begin "${2:-sqlite}" w5tail
serve "$BIN" "$PORT" "$WORK/data" "$WORK/server.log"
load "$PORT" "$LEARNERS" "$((LEARNERS * 3))" "$WORK/ids.tsv"
wrk -t2 -c64 -d"${DURATION:-10}s" -s bench/w4_read.lua "http://127.0.0.1:$PORT" -- "$WORK/ids.tsv" generate 1.0 >/dev/null
curl -s "http://127.0.0.1:$PORT/metrics" > "$WORK/m0"
wrk -t2 -c64 -d"${DURATION:-10}s" --latency -s bench/w5_mixed.lua "http://127.0.0.1:$PORT" -- "$WORK/ids.tsv" | grep -E "BENCH_RESULT|Requests/sec"
curl -s "http://127.0.0.1:$PORT/metrics" > "$WORK/m1"
python3 - "$WORK/m0" "$WORK/m1" <<'PY'
import sys,re
def parse(p):
    d={}
    for line in open(p):
        m=re.match(r'(errata_\w+_bucket)\{(.*)le="([^"]+)"\} (\d+)',line)
        if m: d[(m.group(1),m.group(2),m.group(3))]=int(m.group(4))
    return d
a,b=parse(sys.argv[1]),parse(sys.argv[2])
rows={}
for k,v in b.items():
    n=v-a.get(k,0)
    rows.setdefault((k[0],k[1]),[]).append((k[2],n))
for (name,lab),bs in sorted(rows.items()):
    tot=bs[-1][1]
    if tot<100: continue
    out=[]
    for le,c in bs:
        out.append(f"{le}:{tot-c}")
    print(name,lab,"total",tot,"above:"," ".join(out[3:]))
PY
unserve
