#!/usr/bin/env bash
# A/B of two server binaries on one store, alternating A, B, A, B so drift on
# a shared machine hits both: each round starts a fresh server, loads USERS
# learners (3 errors each) and runs WORKLOADS (default W0, W4a, W2 and W1)
# for DURATION seconds each. Prints one line of req/s (and peak RSS) per round,
# with the load's time when the round loaded.
#
#   bench/ab.sh BIN_A BIN_B [sqlite|rocksdb|postgres]
# postgres: a PostgreSQL of its own (scripts/pg-start.sh, loopback, fsync on),
# a new database per round; REDIS=1 adds a Redis of its own as --cache
# (scripts/redis-start.sh), emptied each round.
#   WORKLOADS="W0 W4a W4b W0" ROUNDS=3 bench/ab.sh BIN_A BIN_B   # the reads
# Env: USERS (default 50000), ERRORS (default 3 per learner), DURATION
# (default 5), ROUNDS (default 2), WORKLOADS (any of W0 W1 W2 W3 W4a W4b W8,
# in order, repeats allowed; W3 reports errors/s answered within the run; W8
# is W2 with a share W8_SHARE, default 0.2, of attempts: bench/w8_practice.lua),
# WARMUP (seconds of W4a before the workloads,
# default 0), REUSE=1 (load once, in the first round, and start every later
# server on that data dir: for reads on a large dataset, e.g. W6's
#   REUSE=1 USERS=100000 ERRORS=2000000 WARMUP=10 DURATION=10 \
#     WORKLOADS="W0 W4a W4b" bench/ab.sh BIN_A BIN_B
# whose servers start with the previous one's warm-restart file, if any),
# A_OPTS / B_OPTS (options for one side's servers only, e.g.
# B_OPTS=--no-warm-restart with the same binary on both sides).
# docs/allocator.md quotes its output (glibc malloc vs jemalloc).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
A=${1:?usage: $0 BIN_A BIN_B [sqlite|rocksdb|postgres]}
B=${2:?usage: $0 BIN_A BIN_B [sqlite|rocksdb|postgres]}
STORE=${3:-sqlite}
USERS=${USERS:-50000}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-2}
source bench/single.sh
begin "$STORE" ab
if [[ "$STORE" == postgres ]]; then
  # Its own directory: PostgreSQL runs as another user, who cannot enter WORK.
  PG_DIR=$(mktemp -d /tmp/errata-ab-pg.XXXXXX)
  trap 'unserve; scripts/pg-stop.sh "$PG_DIR" >/dev/null 2>&1 || true
        [[ -z "${REDIS:-}" ]] || scripts/redis-stop.sh "$PG_DIR/redis" >/dev/null 2>&1 || true
        rm -rf "$WORK" "$PG_DIR"' EXIT
  PG_URL=$(scripts/pg-start.sh "$PG_DIR")
  [[ -z "${REDIS:-}" ]] || REDIS_URL=$(scripts/redis-start.sh "$PG_DIR/redis")
  DATABASES=0
fi
round() {
  local label=$1 bin=$2 port line script rps
  port=$(free_port)
  if [[ -z "${REUSE:-}" || ! -s "$WORK/ids.tsv" ]]; then
    rm -rf "$WORK/data"
    if [[ "$STORE" == postgres ]]; then
      DATABASES=$((DATABASES + 1))
      psql -q "$PG_URL" -c "CREATE DATABASE ab_$DATABASES"
      OPTS=(--store "${PG_URL%/*}/ab_$DATABASES")
      if [[ -n "${REDIS:-}" ]]; then
        redis-cli -u "$REDIS_URL" FLUSHALL >/dev/null
        OPTS+=(--cache "$REDIS_URL")
      fi
    fi
  fi
  local opts_var="${label}_OPTS"
  # shellcheck disable=SC2086  # the options are words
  serve "$bin" "$port" "$WORK/data" "$WORK/server.log" ${!opts_var:-}
  local loaded=""
  if [[ -z "${REUSE:-}" || ! -s "$WORK/ids.tsv" ]]; then
    local t0
    t0=$(date +%s.%N)
    load "$port" "$USERS" "${ERRORS:-$(( USERS * 3 ))}" "$WORK/ids.tsv"
    loaded=" (loaded in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}') s)"
  fi
  [[ "${WARMUP:-0}" -gt 0 ]] && wrk -t2 -c64 -d"${WARMUP}s" -s bench/w4_read.lua \
    "http://127.0.0.1:$port" -- "$WORK/ids.tsv" generate 1.0 >/dev/null 2>&1
  line="$label $STORE$loaded:"
  for name in ${WORKLOADS:-W0 W4a W2 W1}; do
    case "$name" in
      W0) set -- W0 w0_healthz.lua ;;
      W1) set -- W1 w1_seed_write.lua ;;
      W2) set -- W2 w2_v1_write.lua ;;
      W3) set -- W3 w3_bulk.lua 1000 2 ;;
      W4a) set -- W4a w4_read.lua generate 1.0 ;;
      W4b) set -- W4b w4_read.lua exercises 1.0 ;;
      W8) set -- W8 w8_practice.lua "${W8_SHARE:-0.2}" ;;
      *) echo "unknown workload $name" >&2; exit 2 ;;
    esac
    local name=$1 script=$2
    shift 2
    local out
    out=$(wrk -t2 -c64 -d"${DURATION}s" --timeout 30s -s "bench/$script" "http://127.0.0.1:$port" -- \
      "$WORK/ids.tsv" "$@" 2>&1)
    if [[ "$name" == W3 ]]; then
      local applied secs
      applied=$(grep -o '"errors_applied":[0-9]*' <<<"$out" | cut -d: -f2)
      secs=$(grep -o '"duration_s":[0-9.]*' <<<"$out" | cut -d: -f2)
      line+=" W3 $(python3 -c "print(int($applied / $secs))") errors/s"
    else
      rps=$(grep -o '"rps":[0-9.]*' <<<"$out" | cut -d: -f2)
      line+=" $name ${rps%.*} req/s"
    fi
  done
  line+="; peak RSS $(awk '/VmHWM/{print $2}' "/proc/$PID/status") kB"
  unserve
  echo "$line"
}
for _ in $(seq "$ROUNDS"); do
  round A "$A"
  round B "$B"
done
