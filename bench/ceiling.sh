#!/usr/bin/env bash
# What this machine allows at all (docs/ceiling.md): each workload beside an
# experimental server that does less, in one run, 64 connections, a fresh
# data dir with USERS learners per server. Ratios are against each server's
# own W0 (the mean of its runs before and after).
#
# Writes: W0, W2, W1, W3 (twice as long), W0 again, on four servers:
#   nowrite  errata answers a write on its HTTP thread once it is parsed and
#            validated: no queue, no Writer, no fsync. The most any write path
#            can reach inside errata's HTTP and JSON layers.
#   logonly  the real durable write path (queue, group commit, cache update,
#            one fdatasync per batch on the sync thread, the answer posted back
#            to the connection's thread) over a store that only appends each
#            batch to a file: the storage engine's cost taken out.
#   sqlite, rocksdb   build/errata on its embedded stores.
# Reads: W0, W4a, W4b, W0 on build/errata (SQLite), then W0 on servers whose
#   /healthz answers a static body as large as W4a's, then W4b's: what the
#   practice reads would reach if ranking, selection and JSON cost nothing.
#
# nowrite, logonly and the large static bodies come from bench/ceiling.patch,
# applied to a git worktree of HEAD and built there: they are never part of
# the errata binary. Prints two markdown tables.
#
#   bench/ceiling.sh                      # build/errata must exist (make build)
# Env: USERS (50000), DURATION (5 s per workload), PARTS ("writes reads"),
# VARIANTS (the write servers: "nowrite logonly sqlite rocksdb"),
# CEILING_DIR (/tmp/errata-ceiling: the worktree and its build, kept so that
# the next run rebuilds only what changed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
USERS=${USERS:-50000}
DURATION=${DURATION:-5}
PARTS=${PARTS:-writes reads}
VARIANTS=${VARIANTS:-nowrite logonly sqlite rocksdb}
CEILING_DIR=${CEILING_DIR:-/tmp/errata-ceiling}
[ -x build/errata ] || { echo "build/errata is missing: run make build first" >&2; exit 2; }

# The patched binary: a worktree of HEAD with the patch applied.
src="$CEILING_DIR/src"
if [ ! -e "$src/.git" ]; then
  git worktree prune
  mkdir -p "$CEILING_DIR"
  git worktree add -q --detach "$src" HEAD
fi
git -C "$src" checkout -q -f --detach "$(git rev-parse HEAD)"
git -C "$src" clean -fdq
git -C "$src" apply "$ROOT/bench/ceiling.patch"
cmake -S "$src" -B "$CEILING_DIR/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$CEILING_DIR/build" --target errata -j "$(nproc)" >/dev/null
CEILING_BIN="$CEILING_DIR/build/errata"

source bench/single.sh
begin sqlite ceiling

# run_workload SCRIPT SECONDS [ARGS]: one workload through measure.py wrk;
# sets RPS and EPS (W3's errors answered within the run; 0 for the others).
# Any non-2xx, socket error, run without an answer or answers counted apart
# by wrk and the server ends the script. measure.py then waits for the writes
# left queued to commit, so the next workload (the second W0 after W3's
# backlog) does not run beside them.
run_workload() {
  local script=$1 dur=$2
  shift 2
  python3 bench/measure.py wrk --name "$script" --url "http://127.0.0.1:$port" --pid "$PID" \
    --results "$WORK/ceiling.jsonl" --log "$WORK/wrk.log" --duration "$dur" --connections 64 --threads 2 \
    --timeout 30 --script "bench/$script" -- "$WORK/ids.tsv" "$@" 2>>"$WORK/measure.log" ||
    { echo "ceiling.sh: $script failed:" >&2; tail -2 "$WORK/measure.log" >&2; exit 1; }
  read -r RPS EPS < <(python3 bench/measure.py last --results "$WORK/ceiling.jsonl" rps errors_per_s)
}

# start BIN [LOAD]: a fresh server with OPTS on a fresh data dir; with LOAD,
# USERS learners (3 errors each). The log-only store reads nothing back, so
# the loader's count check is off.
start() {
  port=$(free_port)
  rm -rf "$WORK/data"
  serve "$1" "$port" "$WORK/data" "$WORK/server.log"
  if [ -n "${2:-}" ]; then
    python3 bench/gen_dataset.py synth --url "http://127.0.0.1:$port" --users "$USERS" \
      --errors $(( USERS * 3 )) --ids-out "$WORK/ids.tsv" --verify-sample 0 >/dev/null
  fi
}

fmt() { python3 -c 'import sys; print(f"{float(sys.argv[1]):,.0f}")' "$1"; }
ratio() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / ((float(sys.argv[2]) + float(sys.argv[3])) / 2)))' "$@"; }

if [[ " $PARTS " == *" writes "* ]]; then
  echo "| write server | W0 before / after | W2 req/s | x W0 | W1 req/s | x W0 | W3 errors/s |"
  echo "|---|---|---|---|---|---|---|"
  for v in $VARIANTS; do
    bin=$ROOT/build/errata
    OPTS=()
    unset ERRATA_CEILING_NOWRITE
    case "$v" in
      nowrite) bin=$CEILING_BIN; OPTS=(--store logonly:); export ERRATA_CEILING_NOWRITE=1 ;;
      logonly) bin=$CEILING_BIN; OPTS=(--store logonly:) ;;
      sqlite) ;;
      rocksdb) OPTS=(--store rocksdb:) ;;
      *) echo "unknown variant $v" >&2; exit 2 ;;
    esac
    start "$bin" load
    run_workload w0_healthz.lua "$DURATION"; w0a=$RPS
    run_workload w2_v1_write.lua "$DURATION"; w2=$RPS
    run_workload w1_seed_write.lua "$DURATION"; w1=$RPS
    run_workload w3_bulk.lua $(( DURATION * 2 )) 1000 2; w3=$EPS
    run_workload w0_healthz.lua "$DURATION"; w0b=$RPS
    unserve
    echo "| $v | $(fmt "$w0a") / $(fmt "$w0b") | $(fmt "$w2") | $(ratio "$w2" "$w0a" "$w0b") |" \
      "$(fmt "$w1") | $(ratio "$w1" "$w0a" "$w0b") | $(fmt "$w3") |"
  done
  unset ERRATA_CEILING_NOWRITE
fi

if [[ " $PARTS " == *" reads "* ]]; then
  OPTS=()
  start "$ROOT/build/errata" load
  user=$(head -1 "$WORK/ids.tsv" | cut -f1)
  bytes_a=$(curl -sf -o /dev/null -w '%{size_download}' "http://127.0.0.1:$port/generate-exercise?user_id=$user&top_n=5")
  bytes_b=$(curl -sf -o /dev/null -w '%{size_download}' "http://127.0.0.1:$port/v1/users/$user/exercises?n=10")
  run_workload w0_healthz.lua "$DURATION"; w0a=$RPS
  run_workload w4_read.lua "$DURATION" generate 1.0; w4a=$RPS
  run_workload w4_read.lua "$DURATION" exercises 1.0; w4b=$RPS
  run_workload w0_healthz.lua "$DURATION"; w0b=$RPS
  unserve
  echo
  echo "| read server (body bytes) | W0 before / after | read req/s | x W0 |"
  echo "|---|---|---|---|"
  echo "| SQLite: W4a ($bytes_a) | $(fmt "$w0a") / $(fmt "$w0b") | $(fmt "$w4a") | $(ratio "$w4a" "$w0a" "$w0b") |"
  echo "| SQLite: W4b ($bytes_b) | | $(fmt "$w4b") | $(ratio "$w4b" "$w0a" "$w0b") |"
  for b in "$bytes_a" "$bytes_b"; do
    export ERRATA_CEILING_HEALTHZ_BYTES=$b
    start "$CEILING_BIN"
    run_workload w0_healthz.lua "$DURATION"; s=$RPS
    unserve
    unset ERRATA_CEILING_HEALTHZ_BYTES
    echo "| static /healthz ($b) | | $(fmt "$s") | $(ratio "$s" "$w0a" "$w0b") |"
  done
fi
