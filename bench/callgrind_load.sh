#!/usr/bin/env bash
# Instructions a server spends on a fixed amount of write work: it runs under
# valgrind's callgrind while gen_dataset.py loads USERS learners and ERRORS
# errors through bulk ingest. Instruction counts do not drift with the load on
# a shared machine, so two binaries compare in one run each. Prints the total
# and the busiest of the Writer's threads (the one that runs the batches).
#
#   bench/callgrind_load.sh BIN [sqlite|rocksdb] [USERS] [ERRORS]
# The profile stays in $OUT (default /tmp/callgrind-load.BIN-NAME) for
# callgrind_annotate --inclusive=no --threshold=100 $OUT.1
# Needs valgrind (apt-get install -y valgrind), which scripts/bootstrap.sh does
# not install: no test or make target runs this script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${1:?usage: $0 BIN [sqlite|rocksdb] [USERS] [ERRORS]}
STORE=${2:-sqlite}
USERS=${3:-10000}
ERRORS=${4:-60000}
OUT=${OUT:-/tmp/callgrind-load.$(basename "$BIN")}
source bench/single.sh
begin "$STORE" cgload
rm -f "$OUT" "$OUT".*
valgrind --tool=callgrind --callgrind-out-file="$OUT" --separate-threads=no "$BIN" serve \
  --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --log-level warn "${OPTS[@]}" \
  >"$WORK/valgrind.log" 2>&1 &
PID=$!
for _ in $(seq 600); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
callgrind_control -z "$PID" >/dev/null 2>&1
load "$PORT" "$USERS" "$ERRORS" "$WORK/ids.tsv" 2>/dev/null
callgrind_control -d "$PID" >/dev/null 2>&1
unserve
report=$(callgrind_annotate --inclusive=no --threshold=100 "$OUT.1" 2>/dev/null)
total=$(awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}' <<<"$report")
writer=$(grep -m1 'Writer::Start' <<<"$report" | awk '{gsub(",","",$1); print $1}')
echo "$(basename "$BIN") $STORE: $USERS learners, $ERRORS errors: total $total instructions" \
  "($(( total / ERRORS )) per error), busiest writer thread ${writer:-?}"
