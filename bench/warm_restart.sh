#!/usr/bin/env bash
# The warm restart's time and the RSS it leaves (docs/warm-restart.md): loads
# USERS learners and ERRORS errors into SQLite once, reads them for 5 s (so
# they are cached and listed at shutdown), then restarts each binary ROUNDS
# times on that data dir, alternating, and prints the warm restart's own
# "seconds" (its log line) and the server's VmRSS right after it.
#
#   bench/warm_restart.sh BIN_A [BIN_B]
# Env: USERS (default 100000), ERRORS (default 2000000), ROUNDS (default 3).
# Binaries must read the data dir's schema (the first one loads it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BINS=("${1:?usage: $0 BIN_A [BIN_B]}")
[[ -n "${2:-}" ]] && BINS+=("$2")
source bench/single.sh
begin sqlite warm-restart
serve "${BINS[0]}" "$PORT" "$WORK/data" "$WORK/server.log"
load "$PORT" "${USERS:-100000}" "${ERRORS:-2000000}" "$WORK/ids.tsv"
wrk -t2 -c64 -d5s -s bench/w4_read.lua "http://127.0.0.1:$PORT" -- "$WORK/ids.tsv" generate 1.0 >/dev/null
unserve
for round in $(seq "${ROUNDS:-3}"); do
  for bin in "${BINS[@]}"; do
    : >"$WORK/round.log"
    "$bin" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --log-level info >>"$WORK/round.log" 2>&1 &
    PID=$!
    for _ in $(seq 1500); do grep -q '"msg":"warm restart"' "$WORK/round.log" && break; sleep 0.2; done
    # The log writes small numbers with an exponent (2.5E-2).
    seconds=$(grep -o '"msg":"warm restart".*' "$WORK/round.log" | grep -o '"seconds":[0-9.eE+-]*' |
              cut -d: -f2 | python3 -c 'import sys; print(f"{float(sys.stdin.read()):.3f}")')
    echo "$bin round $round: warm restart ${seconds:-?} s, then VmRSS $(awk '/VmRSS/{print $2}' "/proc/$PID/status") kB, RssAnon $(awk '/RssAnon/{print $2}' "/proc/$PID/status") kB"
    unserve
  done
done
