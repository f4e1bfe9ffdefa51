#!/usr/bin/env bash
# errata load benchmark: `make bench` (or bench/run.sh from the project root).
# Starts errata on a free port with a temporary data dir, loads a synthetic
# dataset through POST /v1/ingest, runs the workloads W0..W7 with wrk, stops
# the server and appends one dated row per workload to BENCHMARKS.md.
# BENCHMARKS.md explains each workload and figure.
#
# Knobs (environment):
#   ERRATA_BIN         server binary (default build/errata); builds nothing
#   BENCH_DURATION     seconds per wrk workload (default 10; smoke 1)
#   BENCH_CONNECTIONS  wrk connections (default 64)
#   BENCH_THREADS      wrk threads (default 2)
#   BENCH_USERS        learners of the W0-W5 dataset (default 100000; smoke 200)
#   BENCH_W3_LINES     utterances per W3 ingest request (default 1000; smoke 100)
#   BENCH_ZIPF_S       Zipf exponent of read popularity (default 1.0)
#   BENCH_SCALE        W6 size: reduced (default: 100k learners, 2M errors) or
#                      full (1M learners, 20M errors; long)
#   BENCH_M2           M2 corpus for W7 (default ../shared/data/learner-errors/wi.dev.gold.bea19.m2)
#   BENCH_M2_COPIES    times W7 imports it (default 100; smoke 1)
#   BENCH_WORKLOADS    subset to run (default "W0 W1 W2 W3 W4 W5 W6 W7")
#   BENCH_OUT          file the rows are appended to (default BENCHMARKS.md;
#                      smoke: a temp file)
#   BENCH_STORE        sqlite (default: the embedded SQLite store) or rocksdb
#                      (the embedded RocksDB store, --store rocksdb:)
#   BENCH_LABEL        text of the "label" column (default: default/smoke/full,
#                      followed by ", rocksdb" with BENCH_STORE=rocksdb)
#   BENCH_PRELOAD_WAIT longest wait for W6's warm restart, s (default 300)
#   BENCH_KEEP=1       keep the work dir (data dirs, wrk and server logs); it
#                      is also kept when the run failed
#   BENCH_SMOKE=1      a few seconds in total, tiny dataset, rows to a temp file
# Exit 1 (in every mode) when a row failed: non-2xx, socket errors, no request
# answered, answers the server and wrk count differently, connections left
# hanging, a wrk/loader/count-check failure, a dead or hung server.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH="$ROOT/bench"
# check_tools, init_work, reproduce_command, free_port, say, start_server,
# stop_server, server_alive, server_log_note, run_wrk, load_synth.
source "$BENCH/lib.sh"

SMOKE=${BENCH_SMOKE:-0}
[[ "$SMOKE" == 0 ]] && SMOKE=""
ERRATA_BIN=${ERRATA_BIN:-build/errata}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
ZIPF_S=${BENCH_ZIPF_S:-1.0}
SCALE=${BENCH_SCALE:-reduced}
M2=${BENCH_M2:-$ROOT/../shared/data/learner-errors/wi.dev.gold.bea19.m2}
WORKLOADS=" ${BENCH_WORKLOADS:-W0 W1 W2 W3 W4 W5 W6 W7} "
if [[ -n "$SMOKE" ]]; then
  DURATION=${BENCH_DURATION:-1}
  USERS=${BENCH_USERS:-200}
  M2_COPIES=${BENCH_M2_COPIES:-1}
  W3_LINES=${BENCH_W3_LINES:-100}
  SCALE_USERS=200
  SCALE_ERRORS=4000
  SCALE_DESC="smoke (200 learners / 4k errors)"
  LABEL=${BENCH_LABEL:-smoke}
else
  DURATION=${BENCH_DURATION:-10}
  USERS=${BENCH_USERS:-100000}
  M2_COPIES=${BENCH_M2_COPIES:-100}
  W3_LINES=${BENCH_W3_LINES:-1000}
  case "$SCALE" in
    full) SCALE_USERS=1000000; SCALE_ERRORS=20000000; SCALE_DESC="full (1M learners / 20M errors)" ;;
    reduced) SCALE_USERS=100000; SCALE_ERRORS=2000000; SCALE_DESC="REDUCED (100k learners / 2M errors; BENCH_SCALE=full for 1M / 20M)" ;;
    *) echo "BENCH_SCALE must be reduced or full" >&2; exit 2 ;;
  esac
  LABEL=${BENCH_LABEL:-$([[ "$SCALE" == full ]] && echo full || echo default)}
fi
case "${BENCH_STORE:-sqlite}" in
  sqlite) STORE_OPTS=() ;;
  rocksdb) STORE_OPTS=(--store rocksdb:); [[ -z "${BENCH_LABEL:-}" ]] && LABEL="$LABEL, rocksdb" ;;
  *) echo "BENCH_STORE must be sqlite or rocksdb" >&2; exit 2 ;;
esac
WARMUP=$(( DURATION < 10 ? DURATION : 10 ))
[[ -n "$SMOKE" ]] && WARMUP=0
READ_TIMEOUT=10
# Longest wait, in seconds, for W6's warm restart to load its learners back.
PRELOAD_WAIT=${BENCH_PRELOAD_WAIT:-300}
BULK_TIMEOUT=120

check_tools wrk python3 curl
init_work errata-bench
SERVER_PID=""
PORT=""
URL=""

reproduce_command bench bench/run.sh BENCH_SMOKE BENCH_STORE BENCH_DURATION BENCH_CONNECTIONS BENCH_THREADS \
  BENCH_USERS BENCH_W3_LINES BENCH_ZIPF_S BENCH_SCALE BENCH_M2 BENCH_M2_COPIES BENCH_PRELOAD_WAIT BENCH_WORKLOADS

cleanup() {
  stop_server >/dev/null 2>&1
  if [[ -n "${BENCH_KEEP:-}" || $FAILED -ne 0 ]]; then
    echo "bench: work dir kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wants() { [[ "$WORKLOADS" == *" $1 "* ]]; }

echo "bench: $LABEL run, ${DURATION}s per workload, $CONNS connections, $THREADS wrk threads, work dir $WORK" >&2

# ---- W0-W5 on one server: USERS learners, one utterance of 3 errors each.
if wants W0 || wants W1 || wants W2 || wants W3 || wants W4 || wants W5; then
  IDS="$WORK/ids.tsv"
  if start_server "$WORK/data-main" main "${STORE_OPTS[@]}" &&
     load_synth "load" "W0-W5 dataset: $USERS learners x 1 utterance x 3 errors" "$USERS" $(( USERS * 3 )) "$IDS" "$WORK/data-main"; then
    wants W0 && run_wrk W0 "GET /healthz (ceiling)" w0_healthz.lua --timeout "$READ_TIMEOUT"
    wants W4 && run_wrk W4a "GET /generate-exercise?top_n=5, Zipf($ZIPF_S) over $USERS learners" w4_read.lua \
      --timeout "$READ_TIMEOUT" -- "$IDS" generate "$ZIPF_S"
    wants W4 && run_wrk W4b "GET /v1/users/{id}/exercises?n=10, Zipf($ZIPF_S) over $USERS learners" w4_read.lua \
      --timeout "$READ_TIMEOUT" -- "$IDS" exercises "$ZIPF_S"
    wants W5 && run_wrk W5 "90% reads (generate-exercise / v1 exercises, Zipf) + 10% POST /v1/utterances" w5_mixed.lua \
      --timeout "$READ_TIMEOUT" -- "$IDS" 10 "$ZIPF_S"
    # W0 again, after the reads: "x W0" is over the mean of the two, and the
    # two rows show how far the machine drifted in between.
    wants W0 && { wants W4 || wants W5; } &&
      run_wrk W0 "GET /healthz (ceiling), again after the reads" w0_healthz.lua --timeout "$READ_TIMEOUT"
    wants W1 && run_wrk W1 "POST /simulate-and-generate, 3 errors, uniform over $USERS learners" w1_seed_write.lua \
      --timeout "$READ_TIMEOUT" --errors-per-request 3 -- "$IDS"
    wants W2 && run_wrk W2 "POST /v1/utterances, 0-4 errors (mean 2), uniform over $USERS learners" w2_v1_write.lua \
      --timeout "$READ_TIMEOUT" --errors-per-request 2 -- "$IDS"
    wants W3 && run_wrk W3 "POST /v1/ingest, $W3_LINES utterances x 2 errors per request" w3_bulk.lua \
      --timeout "$BULK_TIMEOUT" --errors-per-op 2 -- "$IDS" "$W3_LINES" 2
    server_alive && server_log_note main
  else
    FAILED=1
  fi
  stop_server
fi

# ---- W6 scale: bulk load, DB size, restart-to-ready, RSS after warm-up, W4.
if wants W6; then
  IDS6="$WORK/ids-w6.tsv"
  D6="$WORK/data-w6"
  if start_server "$D6" w6 "${STORE_OPTS[@]}" &&
     load_synth "W6 load" "bulk load, $SCALE_DESC" "$SCALE_USERS" "$SCALE_ERRORS" "$IDS6" "$D6"; then
    stop_server
    STOP6=$STOP_S
    if start_server "$D6" w6 "${STORE_OPTS[@]}"; then
      READY6=$READY_S
      # The warm restart loads the cached learners back in the background
      # (docs/warm-restart.md) on threads named "preload"
      # (src/app/warm_restart.cc), which end with it: a watcher notes when
      # none is left. W4a runs once right away (reads as they are served
      # just after ready, the preload competing), then, once the preload is
      # done and after a warm-up, W0, W4a and W4b.
      PRELOAD_FILE="$WORK/preload6.s"
      rm -f "$PRELOAD_FILE"
      (
        t0=$(date +%s%N)
        sleep 0.2
        while grep -qx preload /proc/"$SERVER_PID"/task/*/comm 2>/dev/null; do sleep 0.2; done
        t1=$(date +%s%N)
        printf '%d.%01d\n' $(( (t1 - t0) / 1000000000 )) $(( (t1 - t0) / 100000000 % 10 )) >"$PRELOAD_FILE"
      ) &
      WATCHER=$!
      run_wrk "W6 W4a at ready" "W4a on the $SCALE_DESC dataset, started right after ready (the warm restart's preload still running)" \
        w4_read.lua --w0 "W6 W0" --timeout "$READ_TIMEOUT" -- "$IDS6" generate "$ZIPF_S"
      for _ in $(seq $(( PRELOAD_WAIT * 5 ))); do [[ -s "$PRELOAD_FILE" ]] && break; sleep 0.2; done
      kill "$WATCHER" 2>/dev/null
      wait "$WATCHER" 2>/dev/null
      PRELOAD_NOTE="" PRELOAD_FAILED=""
      PRE6=$(curl -sf "$URL/metrics" | awk '/^errata_profile_cache_preloaded_total /{print $2}')
      if [[ ! -s "$PRELOAD_FILE" ]]; then
        PRELOAD_FAILED=1
        PRELOAD_NOTE="the warm restart's preload still running after ${PRELOAD_WAIT} s (BENCH_PRELOAD_WAIT); ${PRE6:-?} learners loaded back so far"
      elif [[ -z "$PRE6" ]]; then
        PRELOAD_FAILED=1
        PRELOAD_NOTE="no errata_profile_cache_preloaded_total in /metrics: the warm restart's preload is not observable"
      else
        PRELOAD_NOTE="warm restart: $PRE6 learners loaded back in $(cat "$PRELOAD_FILE") s after ready (its threads' end, polled every 0.2 s; the at-ready W4a ran during it), before the warm-up (docs/warm-restart.md)"
      fi
      [[ -n "$PRELOAD_FAILED" ]] && FAILED=1
      if [[ $WARMUP -gt 0 ]]; then
        python3 "$BENCH/measure.py" wrk --name "W6 warm-up" --url "$URL" --pid "$SERVER_PID" \
          --results "$WORK/warmup.jsonl" --log "$WRKLOG" --duration "$WARMUP" --connections "$CONNS" \
          --threads "$THREADS" --timeout "$READ_TIMEOUT" --script "$BENCH/w4_read.lua" -- "$IDS6" generate "$ZIPF_S" || FAILED=1
      fi
      DB6=$(du -sb "$D6" | cut -f1)
      python3 "$BENCH/measure.py" record --results "$RESULTS" --name "W6 restart" --pid "$SERVER_PID" \
        --desc "restart on the loaded $SCALE_DESC dataset" --set "ready_s=$READY6" --set "db_bytes=$DB6" \
        --note "restart-to-ready ${READY6} s (SIGTERM to exit ${STOP6} s)" \
        --note "data dir $(( DB6 / 1048576 )) MiB" \
        --note "$PRELOAD_NOTE" \
        --note "$([[ $WARMUP -gt 0 ]] && echo "VmRSS below = RSS after ${WARMUP} s of W4a warm-up; peak RSS = the warm-up's" || echo "no warm-up; peak RSS = the at-ready W4a's")" \
        $([[ -n "$PRELOAD_FAILED" ]] && echo --failed)
      run_wrk "W6 W0" "GET /healthz (ceiling) on the W6 server, for W6's x W0" w0_healthz.lua \
        --w0 "W6 W0" --timeout "$READ_TIMEOUT"
      run_wrk "W6 W4a" "W4a on the $SCALE_DESC dataset" w4_read.lua \
        --w0 "W6 W0" --timeout "$READ_TIMEOUT" -- "$IDS6" generate "$ZIPF_S"
      run_wrk "W6 W4b" "W4b on the $SCALE_DESC dataset" w4_read.lua \
        --w0 "W6 W0" --timeout "$READ_TIMEOUT" -- "$IDS6" exercises "$ZIPF_S"
      server_alive && server_log_note W6
    else
      FAILED=1
    fi
  else
    FAILED=1
  fi
  stop_server
  [[ $FAILED -eq 0 ]] && rm -rf "$D6"
fi

# ---- W7 real data: the W&I M2 dev set, BENCH_M2_COPIES times, distinct learners.
if wants W7; then
  if [[ ! -r "$M2" ]]; then
    echo "bench: W7 skipped: no M2 corpus at $M2" >&2
    python3 "$BENCH/measure.py" record --results "$RESULTS" --name W7 --note "skipped: no M2 corpus at $M2"
  elif start_server "$WORK/data-w7" w7 "${STORE_OPTS[@]}"; then
    say "W7: importing $M2 x $M2_COPIES"
    python3 "$BENCH/gen_dataset.py" m2 --url "$URL" --file "$M2" --copies "$M2_COPIES" \
      --bodies-dir "$WORK" --server-pid "$SERVER_PID" >"$WORK/w7.load" 2> >(tee -a "$WORK/w7.load.err" >&2)
    rc=$?
    if server_alive; then
      D7=$(du -sb "$WORK/data-w7" | cut -f1)
      python3 "$BENCH/measure.py" record --results "$RESULTS" --name W7 --pid "$SERVER_PID" \
        --desc "import $(basename "$M2") x $M2_COPIES through /v1/ingest, 20 learners per copy" \
        --load "$WORK/w7.load" --set "db_bytes=$D7" --note "data dir $(( D7 / 1048576 )) MiB" \
        $([[ $rc -ne 0 ]] && echo --failed)
      server_log_note W7
    fi
    [[ $rc -eq 0 ]] || FAILED=1
  else
    FAILED=1
  fi
  stop_server
fi

ELAPSED=$(( $(date +%s) - START ))
python3 "$BENCH/measure.py" rows --results "$RESULTS" --out "$OUT" --command "$COMMAND" --label "$LABEL" \
  --provenance "$PROVENANCE" || FAILED=1
if [[ "$OUT" == "$WORK"/* ]]; then
  echo "bench: rows (in the work dir, removed at exit unless BENCH_KEEP=1 or the run failed):" >&2
  cat "$OUT"
fi
if wants W6 && [[ -z "$SMOKE" && "$SCALE" == reduced ]]; then
  echo "bench: W6 used the REDUCED dataset (100k learners / 2M errors), not issue #4's 1M / 20M: BENCH_SCALE=full for that" >&2
fi
echo "bench: done in ${ELAPSED}s; rows in $OUT" >&2
if [[ $FAILED -ne 0 ]]; then
  echo "bench: FAILED (see the rows marked FAILED above; wrk log $WRKLOG; work dir kept: $WORK)" >&2
  exit 1
fi
exit 0
