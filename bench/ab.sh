#!/usr/bin/env bash
# A/B of two server binaries on one store, alternating A, B, A, B so drift on
# a shared machine hits both: each round starts a fresh server, loads USERS
# learners (3 errors each) and runs WORKLOADS (default W0, W4a, W2 and W1)
# for DURATION seconds each. Prints one line of req/s (and peak RSS) per round.
#
#   bench/ab.sh BIN_A BIN_B [sqlite|rocksdb]
#   WORKLOADS="W0 W4a W4b W0" ROUNDS=3 bench/ab.sh BIN_A BIN_B   # the reads
# Env: USERS (default 50000), DURATION (default 5), ROUNDS (default 2),
# WORKLOADS (any of W0 W1 W2 W4a W4b, in order, repeats allowed).
# docs/allocator.md quotes its output (glibc malloc vs jemalloc).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
A=${1:?usage: $0 BIN_A BIN_B [sqlite|rocksdb]}
B=${2:?usage: $0 BIN_A BIN_B [sqlite|rocksdb]}
STORE=${3:-sqlite}
USERS=${USERS:-50000}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-2}
source bench/single.sh
begin "$STORE" ab
round() {
  local label=$1 bin=$2 port line script rps
  port=$(free_port)
  rm -rf "$WORK/data"
  serve "$bin" "$port" "$WORK/data" "$WORK/server.log"
  load "$port" "$USERS" $(( USERS * 3 )) "$WORK/ids.tsv"
  line="$label $STORE:"
  for name in ${WORKLOADS:-W0 W4a W2 W1}; do
    case "$name" in
      W0) set -- W0 w0_healthz.lua ;;
      W1) set -- W1 w1_seed_write.lua ;;
      W2) set -- W2 w2_v1_write.lua ;;
      W4a) set -- W4a w4_read.lua generate 1.0 ;;
      W4b) set -- W4b w4_read.lua exercises 1.0 ;;
      *) echo "unknown workload $name" >&2; exit 2 ;;
    esac
    local name=$1 script=$2
    shift 2
    rps=$(wrk -t2 -c64 -d"${DURATION}s" -s "bench/$script" "http://127.0.0.1:$port" -- "$WORK/ids.tsv" "$@" 2>&1 |
      grep -o '"rps":[0-9.]*' | cut -d: -f2)
    line+=" $name ${rps%.*}"
  done
  line+=" req/s; peak RSS $(awk '/VmHWM/{print $2}' "/proc/$PID/status") kB"
  unserve
  echo "$line"
}
for _ in $(seq "$ROUNDS"); do
  round A "$A"
  round B "$B"
done
