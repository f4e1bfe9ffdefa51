#!/usr/bin/env bash
# The write path's ceiling on this machine (docs/write-ceiling.md): W0, W2,
# W1 and W3 on four servers, one after the other in one run, each on 64
# connections against a fresh data dir with USERS learners:
#
#   nowrite  errata answers a write on its HTTP thread as soon as it is parsed
#            and validated: no queue, no Writer, no fsync. The most any write
#            path can reach inside errata's HTTP and JSON layers.
#   logonly  the real write path (queue, group commit, cache update, one
#            fdatasync per batch on the sync thread, the answer posted back to
#            the connection's thread) over a store that only appends each batch
#            to a file: the ceiling of errata's durable write path with the
#            storage engine's cost taken out.
#   sqlite, rocksdb   build/errata on its embedded stores.
#
# nowrite and logonly come from bench/write_ceiling.patch, applied to a
# worktree of HEAD and built there: they are never part of the errata binary.
# Prints a markdown table (req/s, x the server's own mean W0, W3 errors/s).
#
#   bench/write_ceiling.sh                 # build/errata must exist (make build)
# Env: USERS (50000), DURATION (5 s per workload; W3 runs 2x as long),
# CEILING_DIR (/tmp/errata-write-ceiling: the worktree and its build, kept
# so that the next run rebuilds only what changed), VARIANTS (all four).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
USERS=${USERS:-50000}
DURATION=${DURATION:-5}
CEILING_DIR=${CEILING_DIR:-/tmp/errata-write-ceiling}
VARIANTS=${VARIANTS:-nowrite logonly sqlite rocksdb}
[ -x build/errata ] || { echo "build/errata is missing: run make build first" >&2; exit 2; }

# The patched binary: a worktree of HEAD with the patch applied.
src="$CEILING_DIR/src"
if [ ! -d "$src/.git" ] && [ ! -f "$src/.git" ]; then
  git worktree prune
  mkdir -p "$CEILING_DIR"
  git worktree add -q --detach "$src" HEAD
fi
git -C "$src" checkout -q -f --detach "$(git rev-parse HEAD)"
git -C "$src" clean -fdq
git -C "$src" apply "$ROOT/bench/write_ceiling.patch"
cmake -S "$src" -B "$CEILING_DIR/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$CEILING_DIR/build" --target errata -j "$(nproc)" >/dev/null
CEILING_BIN="$CEILING_DIR/build/errata"

source bench/single.sh
begin sqlite write-ceiling
# rps SCRIPT [ARGS]: runs one workload on $port; sets RPS and ERR_S (W3's
# errors/s answered within the run, 0 otherwise); any non-2xx fails the run.
run_workload() {
  local script=$1 dur=$2
  shift 2
  local out
  out=$(wrk -t2 -c64 -d"${dur}s" --timeout 30s -s "bench/$script" "http://127.0.0.1:$port" -- \
    "$WORK/ids.tsv" "$@" 2>&1)
  local line
  line=$(echo "$out" | grep BENCH_RESULT | sed 's/^BENCH_RESULT //')
  [ -n "$line" ] || { echo "wrk failed: $out" >&2; exit 1; }
  python3 -c '
import json, sys
r = json.loads(sys.argv[1])
bad = r["non2xx"] + sum(r["socket_errors"].values())
if bad: sys.exit("non-2xx or socket errors: %s" % sys.argv[1])
errs = r.get("counters", {}).get("errors_applied", 0) / r["duration_s"]
print("%.0f %.0f" % (r["rps"], errs))' "$line"
}

echo "| variant | W0 before / after | W2 req/s | x W0 | W1 req/s | x W0 | W3 errors/s |"
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
  port=$(free_port)
  rm -rf "$WORK/data"
  serve "$bin" "$port" "$WORK/data" "$WORK/server.log"
  # The log-only store reads nothing back, so the loader's count check is off.
  python3 bench/gen_dataset.py synth --url "http://127.0.0.1:$port" --users "$USERS" \
    --errors $(( USERS * 3 )) --ids-out "$WORK/ids.tsv" --verify-sample 0 >/dev/null
  read -r w0a _ < <(run_workload w0_healthz.lua "$DURATION")
  read -r w2 _ < <(run_workload w2_v1_write.lua "$DURATION")
  read -r w1 _ < <(run_workload w1_seed_write.lua "$DURATION")
  read -r _ w3 < <(run_workload w3_bulk.lua $(( DURATION * 2 )) 1000 2)
  read -r w0b _ < <(run_workload w0_healthz.lua "$DURATION")
  unserve
  python3 -c '
import sys
v, w0a, w0b, w2, w1, w3 = sys.argv[1], *map(float, sys.argv[2:])
w0 = (w0a + w0b) / 2
print("| %s | %s / %s | %s | %.2f | %s | %.2f | %s |" % (v, f"{w0a:,.0f}", f"{w0b:,.0f}",
      f"{w2:,.0f}", w2 / w0, f"{w1:,.0f}", w1 / w0, f"{w3:,.0f}"))' "$v" "$w0a" "$w0b" "$w2" "$w1" "$w3"
done
