#!/usr/bin/env bash
# A/B of two server binaries on one store, alternating A and B so that drift
# on a shared machine hits both, in ABBA order (round 1 A then B, round 2 B
# then A, ...): each round starts a fresh server, loads USERS learners (3
# errors each) and runs WORKLOADS (default W0, W4a, W2 and W1) for DURATION
# seconds each, through bench/measure.py wrk, which waits for the writes
# left queued to commit after each workload. Prints one line of req/s (and
# the peak RSS over the workloads) per round, with the load's sending time
# when the round loaded. A workload with any non-2xx, socket error, no
# request answered, or answers counted differently by wrk and the server
# stops the script (exit 1, the reason on stderr): a binary that answers
# errors fast must not win.
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
# default 0), REUSE=1 (load once, with BIN_A in an unmeasured round 0, and
# start every measured server on that data dir, so both sides start alike: for
# reads on a large dataset, e.g. W6's
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
# round N LABEL BIN: one server of side LABEL (A or B); round 0 only loads.
round() {
  local n=$1 label=$2 bin=$3 port line
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
  local url="http://127.0.0.1:$port" loaded=""
  if [[ -z "${REUSE:-}" || ! -s "$WORK/ids.tsv" ]]; then
    python3 bench/gen_dataset.py synth --url "$url" --users "$USERS" --errors "${ERRORS:-$(( USERS * 3 ))}" \
      --ids-out "$WORK/ids.tsv" --bodies-dir "$WORK" --server-pid "$PID" >"$WORK/load.out" 2>>"$WORK/load.err" ||
      { echo "ab.sh: round $n, $label ($bin): the load failed:" >&2; tail -5 "$WORK/load.err" >&2; exit 1; }
    loaded=" (loaded: sent in $(sed -n 's/^LOAD //p' "$WORK/load.out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["seconds"])') s)"
  fi
  if [[ "$n" == 0 ]]; then
    unserve
    echo "round 0: $label $STORE$loaded, not measured (REUSE=1: every measured server restarts on this data)"
    return
  fi
  # measure NAME SCRIPT SECONDS [ARGS]: one workload through measure.py wrk
  # (checked, then the writes drained); a failed one ends the script.
  measure() {
    local name=$1 script=$2 secs=$3
    shift 3
    python3 bench/measure.py wrk --name "$name" --url "$url" --pid "$PID" --results "$WORK/ab.jsonl" \
      --log "$WORK/wrk.log" --duration "$secs" --connections 64 --threads 2 --timeout 30 \
      --script "bench/$script" -- "$WORK/ids.tsv" "$@" 2>>"$WORK/measure.log" ||
      { echo "ab.sh: round $n, $label ($bin): $name failed; stopping:" >&2; tail -2 "$WORK/measure.log" >&2; exit 1; }
  }
  [[ "${WARMUP:-0}" -gt 0 ]] && measure warm-up w4_read.lua "$WARMUP" generate 1.0
  line="round $n: $label $STORE$loaded:"
  local peak=0 rps eps hwm
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
    local script=$2
    shift 2
    measure "$name" "$script" "$DURATION" "$@"
    read -r rps eps hwm < <(python3 bench/measure.py last --results "$WORK/ab.jsonl" rps errors_per_s hwm_kib)
    if [[ "$name" == W3 ]]; then
      line+=" W3 ${eps%.*} errors/s"
    else
      line+=" $name ${rps%.*} req/s"
    fi
    (( hwm > peak )) && peak=$hwm
  done
  line+="; peak RSS over the workloads $peak kB"
  unserve
  echo "$line"
}
[[ -n "${REUSE:-}" ]] && round 0 A "$A"
for r in $(seq "$ROUNDS"); do
  if (( r % 2 )); then
    round "$r" A "$A"
    round "$r" B "$B"
  else
    round "$r" B "$B"
    round "$r" A "$A"
  fi
done
