#!/usr/bin/env bash
# errata scale-out benchmark: `make bench-scale-out` (or bench/scale_out.sh
# from the project root). In one run, on three setups in turn:
#   SQLite              one node on the embedded store (the baseline);
#   PG 1 node           one node on a private PostgreSQL + Redis profile cache;
#   PG 2 nodes + nginx  two nodes on that PostgreSQL + Redis behind nginx,
#                       deploy/nginx.conf rendered as tests/e2e/cluster.py does;
# it loads the same synthetic dataset through the setup's front (the node, or
# nginx) and runs W0, W4a, W4b, W1 and W2 (bench/run.sh's workloads, same
# order: reads before writes) with wrk against that front, then appends one
# row per workload to BENCHMARKS.md. Rows name their setup first; in the PG
# rows a note gives req/s (loads: errors/s) over the same workload's on
# SQLite in this run ("0.62x SQLite"); "x W0" is over the setup's own W0.
# BENCHMARKS.md ("Scale out") explains the setups and figures.
#
# Each PG setup gets a fresh database in the one PostgreSQL (CREATE DATABASE)
# and an empty Redis (FLUSHALL): the same learner ids are loaded every time.
# PostgreSQL (scripts/pg-start.sh), Redis (scripts/redis-start.sh) and nginx
# live in the work dir; everything is stopped at the end, on failure and on
# Ctrl-C too, and the work dir removed unless the run failed or BENCH_KEEP=1.
#
# Knobs (environment):
#   ERRATA_BIN         server binary (default build/errata); builds nothing
#   BENCH_DURATION     seconds per wrk workload (default 10; smoke 1)
#   BENCH_CONNECTIONS  wrk connections (default 64)
#   BENCH_THREADS      wrk threads (default 2)
#   BENCH_USERS        learners of the dataset (default 100000; smoke 200)
#   BENCH_ZIPF_S       Zipf exponent of read popularity (default 1.0)
#   BENCH_OUT          file the rows are appended to (default BENCHMARKS.md;
#                      smoke: a temp file)
#   BENCH_LABEL        text of the "label" column (default scale-out; smoke: smoke)
#   BENCH_KEEP=1       keep the work dir (PostgreSQL, Redis, nginx and server
#                      logs, wrk log; the PostgreSQL databases are kept too)
#   BENCH_SMOKE=1      a few seconds per setup, tiny dataset, rows to a temp
#                      file
# Exit 1 (in every mode) when a row failed (bench/measure.py wrk: non-2xx,
# socket errors, nothing answered, server and wrk counts apart), or any setup,
# wrk or loader failed.
#   PG_BIN             PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH="$ROOT/bench"
# check_tools, init_work, reproduce_command, free_port, say, start_server,
# add_node, stop_servers, servers_alive, servers_log_note, run_wrk, load_synth.
source "$BENCH/lib.sh"

SMOKE=${BENCH_SMOKE:-0}
[[ "$SMOKE" == 0 ]] && SMOKE=""
ERRATA_BIN=${ERRATA_BIN:-build/errata}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
ZIPF_S=${BENCH_ZIPF_S:-1.0}
export PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [[ -n "$SMOKE" ]]; then
  DURATION=${BENCH_DURATION:-1}
  USERS=${BENCH_USERS:-200}
  LABEL=${BENCH_LABEL:-smoke}
else
  DURATION=${BENCH_DURATION:-10}
  USERS=${BENCH_USERS:-100000}
  LABEL=${BENCH_LABEL:-scale-out}
fi
READ_TIMEOUT=10
BASELINE="SQLite"

check_tools wrk python3 curl redis-server redis-cli "$PG_BIN/initdb" "$PG_BIN/psql"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x "$NGINX" ]] || { echo "bench: nginx not found" >&2; exit 2; }

init_work errata-bench-scale
# As root, PostgreSQL runs as errata-pg (scripts/pg-start.sh) and nginx's
# workers as nobody: both must reach their directories inside the work dir.
chmod 755 "$WORK"
SERVER_PID=""
PORT=""
URL=""
PG_DIR="$WORK/pg"
REDIS_DIR="$WORK/redis"
NGINX_DIR="$WORK/nginx"
PG_URL=""
REDIS_URL=""
NGINX_PID=""

reproduce_command bench-scale-out bench/scale_out.sh BENCH_SMOKE BENCH_DURATION BENCH_CONNECTIONS \
  BENCH_THREADS BENCH_USERS BENCH_ZIPF_S

stop_nginx() {
  [[ -z "$NGINX_PID" ]] && return 0
  kill -QUIT "$NGINX_PID" 2>/dev/null  # graceful
  for _ in $(seq 1 200); do
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$NGINX_PID" 2>/dev/null
  wait "$NGINX_PID" 2>/dev/null
  NGINX_PID=""
}

cleanup() {
  stop_servers >/dev/null 2>&1
  stop_nginx
  # Whatever got as far as starting (even if its start script then failed).
  [[ -f "$REDIS_DIR/port" ]] && { scripts/redis-stop.sh "$REDIS_DIR" || echo "bench: redis-stop.sh failed" >&2; }
  [[ -f "$PG_DIR/data/PG_VERSION" ]] && { scripts/pg-stop.sh "$PG_DIR" || echo "bench: pg-stop.sh failed" >&2; }
  if [[ -n "${BENCH_KEEP:-}" || $FAILED -ne 0 ]]; then
    echo "bench: work dir kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# setup_failed WHAT: records a failed setup step (the row says why).
setup_failed() {
  echo "bench: $SETUP: $1" >&2
  python3 "$BENCH/measure.py" record --results "$RESULTS" --name "setup" --setup "$SETUP" --failed --note "$1"
  FAILED=1
}

start_backing() {
  say "starting PostgreSQL and Redis in $WORK"
  PG_URL=$(scripts/pg-start.sh "$PG_DIR" 2>"$WORK/pg-start.err" | tail -1)
  [[ $? -eq 0 && "$PG_URL" == postgres://* ]] \
    || { setup_failed "scripts/pg-start.sh failed: $(tail -3 "$WORK/pg-start.err" | tr '\n' ' ' | cut -c1-200)"; return 1; }
  REDIS_URL=$(scripts/redis-start.sh "$REDIS_DIR" 2>"$WORK/redis-start.err" | tail -1)
  [[ $? -eq 0 && "$REDIS_URL" == redis://* ]] \
    || { setup_failed "scripts/redis-start.sh failed: $(tail -3 "$WORK/redis-start.err" | tr '\n' ' ' | cut -c1-200)"; return 1; }
  say "PostgreSQL at $PG_URL ($("$PG_BIN/postgres" --version)), Redis at $REDIS_URL"
}

# fresh_store NAME: a new database NAME in the PostgreSQL (sets DB_URL) and an
# empty Redis.
fresh_store() {
  DB_URL="${PG_URL%/*}/$1"
  "$PG_BIN/psql" "$PG_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $1" >"$WORK/psql.log" 2>&1 \
    || { setup_failed "CREATE DATABASE $1 failed: $(tail -2 "$WORK/psql.log" | tr '\n' ' ')"; return 1; }
  redis-cli -u "$REDIS_URL" FLUSHALL >/dev/null || { setup_failed "redis FLUSHALL failed"; return 1; }
}

# drop_store NAME: drops the database (not with BENCH_KEEP=1), once its nodes
# are stopped.
drop_store() {
  [[ -n "${BENCH_KEEP:-}" ]] && return 0
  "$PG_BIN/psql" "$PG_URL" -qAt -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null 2>&1
}

# start_nginx PORT...: deploy/nginx.conf in front of the nodes on PORTs,
# rendered by tests/e2e/cluster.py's render_nginx_conf (the multi-node test's
# own rendering), with its prefix, logs and temp paths in $NGINX_DIR; sets
# FRONT.
start_nginx() {
  local port
  port=$(free_port)
  mkdir -p "$NGINX_DIR/tmp"
  chmod 755 "$NGINX_DIR"
  chmod 777 "$NGINX_DIR/tmp"  # workers run as nobody when we are root
  PYTHONDONTWRITEBYTECODE=1 python3 - "$ROOT" "$NGINX_DIR" "$port" "$@" >"$NGINX_DIR/nginx.conf" <<'EOF' \
    || { setup_failed "rendering deploy/nginx.conf failed"; return 1; }
import os, sys
root, prefix, port, upstreams = sys.argv[1], sys.argv[2], int(sys.argv[3]), [int(p) for p in sys.argv[4:]]
sys.path.insert(0, os.path.join(root, "tests", "e2e"))
from cluster import render_nginx_conf
with open(os.path.join(root, "deploy", "nginx.conf"), encoding="utf-8") as f:
    sys.stdout.write(render_nginx_conf(f.read(), port, upstreams, prefix))
EOF
  "$NGINX" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" \
    -g "daemon off; pid $NGINX_DIR/nginx.pid; error_log stderr;" >>"$NGINX_DIR/stderr.log" 2>&1 </dev/null &
  NGINX_PID=$!
  FRONT="http://127.0.0.1:$port"
  for _ in $(seq 1 300); do
    kill -0 "$NGINX_PID" 2>/dev/null || break
    curl -sf -o /dev/null --max-time 1 "$FRONT/healthz" && { say "nginx pid $NGINX_PID at $FRONT -> nodes $*"; return 0; }
    sleep 0.05
  done
  setup_failed "nginx did not become ready: $(tail -3 "$NGINX_DIR/stderr.log" | tr '\n' ' ' | cut -c1-200)"
  stop_nginx
  return 1
}

# Notes the lines nginx logged at warn or above (errata-error.log) during the setup.
nginx_log_note() {
  local f="$NGINX_DIR/errata-error.log" n
  n=$(grep -c . "$f" 2>/dev/null)
  if [[ "${n:-0}" -gt 0 ]]; then
    python3 "$BENCH/measure.py" record --results "$RESULTS" --name "nginx log" --setup "$SETUP" \
      --note "nginx logged $n lines at warn+, first: $(head -1 "$f" | cut -c1-200)"
  fi
}

# workloads DETAIL DATA: loads the dataset through $FRONT (or the node) and
# runs W0, W4a, W4b, W1, W2 on the current setup. DATA: the data dir or
# database URL whose size the load row reports.
workloads() {
  local detail=$1 data=$2 ids="$WORK/ids-${SETUP// /-}.tsv"
  load_synth load "$USERS learners x 1 utterance x 3 errors; $detail" "$USERS" $(( USERS * 3 )) "$ids" "$data" \
    || return 1
  run_wrk W0 "GET /healthz (ceiling)" w0_healthz.lua --timeout "$READ_TIMEOUT"
  run_wrk W4a "GET /generate-exercise?top_n=5, Zipf($ZIPF_S) over $USERS learners" w4_read.lua \
    --timeout "$READ_TIMEOUT" -- "$ids" generate "$ZIPF_S"
  run_wrk W4b "GET /v1/users/{id}/exercises?n=10, Zipf($ZIPF_S) over $USERS learners" w4_read.lua \
    --timeout "$READ_TIMEOUT" -- "$ids" exercises "$ZIPF_S"
  run_wrk W1 "POST /simulate-and-generate, 3 errors, uniform over $USERS learners, X-User-Id" w1_seed_write.lua \
    --timeout "$READ_TIMEOUT" --errors-per-request 3 -- "$ids" user-header
  run_wrk W2 "POST /v1/utterances, 0-4 errors (mean 2), uniform over $USERS learners, X-User-Id" w2_v1_write.lua \
    --timeout "$READ_TIMEOUT" --errors-per-request 2 -- "$ids" user-header
  servers_alive && servers_log_note errata
  return 0
}

echo "bench: $LABEL scale-out run, ${DURATION}s per workload, $CONNS connections, $THREADS wrk threads, $USERS learners, work dir $WORK" >&2

# ---- 1. SQLite: one node on the embedded store (the baseline).
SETUP="$BASELINE"
say "setup $SETUP"
if start_server "$WORK/data-sqlite" sqlite; then
  add_node
  workloads "embedded SQLite store, 1 node" "$WORK/data-sqlite" || FAILED=1
else
  setup_failed "errata did not start (log: $(tail -2 "$WORK/server-sqlite.log" | tr '\n' ' ' | cut -c1-200))"
fi
stop_servers

SETUP="PostgreSQL + Redis"
if start_backing; then
  PG_VERSION=$("$PG_BIN/postgres" --version | sed -E 's/^[^0-9]*([0-9.]+).*/\1/')

  # ---- 2. PG 1 node: one node on PostgreSQL + the Redis profile cache.
  SETUP="PG 1 node"
  say "setup $SETUP"
  if fresh_store bench_pg1; then
    if start_server "$WORK/data-pg1" pg1 --store "$DB_URL" --cache "$REDIS_URL"; then
      add_node
      workloads "PostgreSQL $PG_VERSION + Redis cache, 1 node" "$DB_URL" || FAILED=1
    else
      setup_failed "errata did not start on PostgreSQL (log: $(tail -2 "$WORK/server-pg1.log" | tr '\n' ' ' | cut -c1-200))"
    fi
    stop_servers
    drop_store bench_pg1
  fi

  # ---- 3. PG 2 nodes + nginx: two nodes on the same PostgreSQL + Redis.
  SETUP="PG 2 nodes + nginx"
  say "setup $SETUP"
  if fresh_store bench_pg2; then
    ports=()
    ok=1
    for n in 1 2; do
      if start_server "$WORK/data-pg2-node$n" "pg2-node$n" --store "$DB_URL" --cache "$REDIS_URL"; then
        add_node
        ports+=("$PORT")
      else
        setup_failed "errata node $n did not start on PostgreSQL (log: $(tail -2 "$WORK/server-pg2-node$n.log" | tr '\n' ' ' | cut -c1-200))"
        ok=""
        break
      fi
    done
    if [[ -n "$ok" ]] && start_nginx "${ports[@]}"; then
      workloads "PostgreSQL $PG_VERSION + Redis cache, 2 nodes behind nginx (deploy/nginx.conf)" "$DB_URL" || FAILED=1
      nginx_log_note
    fi
    stop_servers
    stop_nginx
    FRONT=""
    drop_store bench_pg2
  fi
fi

ELAPSED=$(( $(date +%s) - START ))
python3 "$BENCH/measure.py" rows --results "$RESULTS" --out "$OUT" --command "$COMMAND" --label "$LABEL" \
  --provenance "$PROVENANCE" --baseline "$BASELINE" || FAILED=1
if [[ "$OUT" == "$WORK"/* ]]; then
  echo "bench: rows (in the work dir, removed at exit unless BENCH_KEEP=1 or the run failed):" >&2
  cat "$OUT"
fi
echo "bench: done in ${ELAPSED}s; rows in $OUT" >&2
if [[ $FAILED -ne 0 ]]; then
  echo "bench: FAILED (see the rows marked FAILED above; wrk log $WRKLOG; work dir kept: $WORK)" >&2
  exit 1
fi
exit 0
