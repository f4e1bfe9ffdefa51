# Shell functions shared by bench/run.sh and bench/scale_out.sh (sourced, not
# run). The sourcing script sets BENCH, ROOT, SMOKE, ERRATA_BIN, DURATION,
# CONNS and THREADS, then calls check_tools and init_work (which set START,
# WORK, RESULTS, WRKLOG, OUT and FAILED) before the rest.
#
# The server under test: start_server sets SERVER_PID, PORT, URL, SERVER_LOG
# and READY_S; stop_server, server_alive and server_log_note act on them.
# run.sh runs one server at a time and uses them directly.
#
# scale_out.sh runs setups of one or more nodes behind one front (nginx): after
# each start_server it calls add_node, which appends the node to NODE_PIDS,
# NODE_URLS and NODE_LOGS; FRONT is the URL wrk and the loader talk to (empty:
# $URL) and SETUP names the setup in every record (empty: none, as run.sh).
# With nodes registered, run_wrk, load_synth, servers_alive, servers_log_note
# and stop_servers cover all of them; without, they act on the one server.

# check_tools TOOL...: exits 2 unless ERRATA_BIN is an executable and every
# TOOL is on PATH (or a path to an executable); makes ERRATA_BIN absolute.
check_tools() {
  if [[ ! -x "$ERRATA_BIN" ]]; then
    echo "bench: no server binary at $ERRATA_BIN (run make build, or set ERRATA_BIN)" >&2
    exit 2
  fi
  ERRATA_BIN=$(cd "$(dirname "$ERRATA_BIN")" && pwd)/$(basename "$ERRATA_BIN")
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 2; }
  done
}

# init_work PREFIX: the run's work dir and result files; sets START, WORK,
# RESULTS, WRKLOG, OUT (BENCH_OUT, else a temp file in smoke mode, else
# BENCHMARKS.md) and FAILED.
init_work() {
  START=$(date +%s)
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  RESULTS="$WORK/results.jsonl"
  WRKLOG="$WORK/wrk.log"
  : >"$RESULTS"
  if [[ -n "$SMOKE" ]]; then OUT=${BENCH_OUT:-$WORK/rows.md}; else OUT=${BENCH_OUT:-$ROOT/BENCHMARKS.md}; fi
  FAILED=0
}

# reproduce_command MAKE_TARGET SCRIPT KNOB...: sets COMMAND to the command
# line that reproduces this run: ERRATA_BIN (always, absolute), the knobs
# that were set, then `make TARGET` (under make) or the script; and
# PROVENANCE to what ran: the harness's commit (git short HEAD, "-dirty" with
# uncommitted changes) and the binary (sha256 prefix, mtime, and its build
# type when a CMakeCache.txt sits beside it or one directory up).
reproduce_command() {
  local target=$1 script=$2 v
  shift 2
  COMMAND="ERRATA_BIN=$ERRATA_BIN "
  for v in "$@"; do
    if [[ "${!v:-}" == *" "* ]]; then
      COMMAND+="$v=\"${!v}\" "
    elif [[ -n "${!v:-}" ]]; then
      COMMAND+="$v=${!v} "
    fi
  done
  COMMAND+=$([[ -n "${MAKELEVEL:-}" ]] && echo "make $target" || echo "$script")
  local head cache build sha mtime
  head=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "no git")
  [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]] && head+="-dirty"
  build="build type unknown"
  for cache in "$(dirname "$ERRATA_BIN")/CMakeCache.txt" "$(dirname "$(dirname "$ERRATA_BIN")")/CMakeCache.txt"; do
    if [[ -r "$cache" ]]; then
      build="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$cache" | head -1) build"
      break
    fi
  done
  sha=$(sha256sum "$ERRATA_BIN" | cut -c1-12)
  mtime=$(date -u -r "$ERRATA_BIN" '+%Y-%m-%d %H:%M')
  PROVENANCE="harness $head; binary sha256 $sha, mtime $mtime UTC, $build"
}

NODE_PIDS=()
NODE_URLS=()
NODE_LOGS=()
FRONT=""
SETUP=""

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
now() { date +%s.%N; }
say() { echo "bench [$(( $(date +%s) - START ))s]: $*" >&2; }

# start_server DATA_DIR NAME [SERVE OPTIONS...]: starts errata (with the given
# extra `errata serve` options, e.g. --store URL --cache URL), waits for
# /healthz; sets SERVER_PID, URL and READY_S (seconds from spawn to ready).
start_server() {
  local dir=$1 name=$2
  shift 2
  PORT=$(free_port)
  URL="http://127.0.0.1:$PORT"
  SERVER_LOG="$WORK/server-$name.log"
  local t0 t1 ready=""
  t0=$(date +%s%N)
  "$ERRATA_BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$dir" --log-level warn "$@" >>"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  # Poll with curl (cheap to start, unlike python) every 5 ms, for up to 600 s.
  while kill -0 "$SERVER_PID" 2>/dev/null && (( $(date +%s%N) - t0 < 600000000000 )); do
    if curl -sf -o /dev/null --max-time 1 "$URL/healthz"; then ready=1; break; fi
    sleep 0.005
  done
  t1=$(date +%s%N)
  READY_S=$(( (t1 - t0) / 1000000 ))
  READY_S=$(printf '%d.%03d' $(( READY_S / 1000 )) $(( READY_S % 1000 )))
  if [[ -z "$ready" ]]; then
    echo "bench: server did not become ready; log:" >&2
    tail -20 "$SERVER_LOG" >&2
    kill "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
    return 1
  fi
  say "errata pid $SERVER_PID ready at $URL in ${READY_S}s (data $dir${*:+; $*})"
}

# stop_server: waits for the writes wrk left queued to commit, then SIGTERM
# and wait; sets STOP_S (SIGTERM to exit).
stop_server() {
  [[ -z "$SERVER_PID" ]] && return 0
  kill -0 "$SERVER_PID" 2>/dev/null && python3 "$BENCH/measure.py" wait-idle --url "$URL" --timeout 300
  local t0
  t0=$(now)
  kill -TERM "$SERVER_PID" 2>/dev/null
  for _ in $(seq 1 600); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "bench: server $SERVER_PID ignored SIGTERM for 30 s; killing (FAILED)" >&2
    kill -KILL "$SERVER_PID" 2>/dev/null
    python3 "$BENCH/measure.py" record --results "$RESULTS" --name "server stop" --failed ${SETUP:+--setup "$SETUP"} \
      --note "the server ignored SIGTERM for 30 s and was killed (SIGKILL): its shutdown hung"
    FAILED=1
  fi
  wait "$SERVER_PID" 2>/dev/null
  STOP_S=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$t0" "$(now)")
  say "server stopped in ${STOP_S}s"
  SERVER_PID=""
}

server_alive() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then return 0; fi
  local rc=""
  if [[ -n "$SERVER_PID" ]]; then
    wait "$SERVER_PID" 2>/dev/null
    rc=$?
  fi
  local how="exit status $rc"
  [[ -n "$rc" && "$rc" -gt 128 ]] && how="killed by signal $(( rc - 128 )) ($(kill -l $(( rc - 128 )) 2>/dev/null))"
  echo "bench: the server died ($how); log tail:" >&2
  tail -20 "$SERVER_LOG" >&2
  python3 "$BENCH/measure.py" record --results "$RESULTS" --name "server" --failed ${SETUP:+--setup "$SETUP"} \
    --note "server process died during the run ($how): $(tail -3 "$SERVER_LOG" | tr '\n' ' ' | cut -c1-200)"
  FAILED=1
  SERVER_PID=""
  return 1
}

# Notes any lines the server logged at warn or above.
server_log_note() {
  local n
  n=$(grep -c . "$SERVER_LOG" 2>/dev/null)
  if [[ "${n:-0}" -gt 0 ]]; then
    python3 "$BENCH/measure.py" record --results "$RESULTS" --name "$1 server log" ${SETUP:+--setup "$SETUP"} \
      --note "server logged $n lines at warn+, first: $(head -1 "$SERVER_LOG" | cut -c1-200)"
  fi
}

# ---- several nodes (scale_out.sh)

# add_node: registers the server start_server just started as a node.
add_node() {
  NODE_PIDS+=("$SERVER_PID")
  NODE_URLS+=("$URL")
  NODE_LOGS+=("$SERVER_LOG")
}

# use_node I: makes node I the current server (SERVER_PID, URL, SERVER_LOG).
use_node() {
  SERVER_PID=${NODE_PIDS[$1]}
  URL=${NODE_URLS[$1]}
  SERVER_LOG=${NODE_LOGS[$1]}
}

# servers_alive: server_alive for the one server, or for every node.
servers_alive() {
  (( ${#NODE_PIDS[@]} )) || { server_alive; return; }
  local i ok=0
  for i in "${!NODE_PIDS[@]}"; do
    use_node "$i"
    server_alive || { NODE_PIDS[$i]=""; ok=1; }
  done
  return $ok
}

# servers_log_note NAME: server_log_note for the one server, or every node.
servers_log_note() {
  (( ${#NODE_PIDS[@]} )) || { server_log_note "$1"; return; }
  local i
  for i in "${!NODE_PIDS[@]}"; do
    use_node "$i"
    server_log_note "$1 node $(( i + 1 ))"
  done
}

# stop_servers: stop_server for the one server, or every node (then forgets them).
stop_servers() {
  (( ${#NODE_PIDS[@]} )) || { stop_server; return; }
  local i
  for i in "${!NODE_PIDS[@]}"; do
    use_node "$i"
    stop_server
  done
  NODE_PIDS=()
  NODE_URLS=()
  NODE_LOGS=()
}

# measured: sets MEASURED, the measure.py options naming what is measured:
# --url/--pid of the one server, or of every node plus --target $FRONT; and
# --setup $SETUP when set. PIDS_ONLY=1: the --pid and --setup options only
# (measure.py record).
measured() {
  MEASURED=()
  local i
  if (( ${#NODE_PIDS[@]} )); then
    for i in "${!NODE_PIDS[@]}"; do
      [[ -n "${PIDS_ONLY:-}" ]] || MEASURED+=(--url "${NODE_URLS[$i]}")
      MEASURED+=(--pid "${NODE_PIDS[$i]}")
    done
    [[ -n "$FRONT" && -z "${PIDS_ONLY:-}" ]] && MEASURED+=(--target "$FRONT")
  else
    [[ -n "${PIDS_ONLY:-}" ]] || MEASURED+=(--url "$URL")
    MEASURED+=(--pid "$SERVER_PID")
  fi
  [[ -n "$SETUP" ]] && MEASURED+=(--setup "$SETUP")
  return 0
}

# run_wrk NAME DESC SCRIPT [measure.py options...] -- [script args...]
run_wrk() {
  local name=$1 desc=$2 script=$3
  shift 3
  servers_alive || return 1
  measured
  python3 "$BENCH/measure.py" wrk --name "$name" --desc "$desc" "${MEASURED[@]}" \
    --results "$RESULTS" --log "$WRKLOG" --duration "$DURATION" --connections "$CONNS" \
    --threads "$THREADS" --script "$BENCH/$script" "$@" || FAILED=1
}

# data_size WHERE: sets DATA_BYTES and DATA_WHAT for a data dir, or for a
# postgres:// URL (the size of its database; psql from $PG_BIN).
data_size() {
  if [[ "$1" == postgres://* ]]; then
    DATA_WHAT="PostgreSQL database"
    DATA_BYTES=$("${PG_BIN:-/usr/lib/postgresql/15/bin}/psql" "$1" -Atc \
      "SELECT pg_database_size(current_database())" 2>/dev/null)
    [[ "$DATA_BYTES" =~ ^[0-9]+$ ]] || DATA_BYTES=0
  else
    DATA_WHAT="data dir"
    DATA_BYTES=$(du -sb "$1" | cut -f1)
  fi
}

# load_synth NAME DESC USERS ERRORS IDS DATA: bulk-loads a synthetic dataset
# (through $FRONT when set, else $URL) and records the load (time, errors/s,
# size of DATA: a data dir or a postgres:// URL).
load_synth() {
  local name=$1 desc=$2 users=$3 errors=$4 ids=$5 dir=$6
  say "$name: loading $users learners / $errors errors"
  local pids=() p
  if (( ${#NODE_PIDS[@]} )); then
    for p in "${NODE_PIDS[@]}"; do [[ -n "$p" ]] && pids+=(--server-pid "$p"); done
  else
    pids=(--server-pid "$SERVER_PID")
  fi
  python3 "$BENCH/gen_dataset.py" synth --url "${FRONT:-$URL}" --users "$users" --errors "$errors" \
    --ids-out "$ids" --bodies-dir "$WORK" "${pids[@]}" >"$WORK/$name.load" 2> >(tee -a "$WORK/$name.load.err" >&2)
  local rc=$?
  servers_alive || return 1
  data_size "$dir"
  PIDS_ONLY=1 measured
  python3 "$BENCH/measure.py" record --results "$RESULTS" --name "$name" --desc "$desc" "${MEASURED[@]}" \
    --load "$WORK/$name.load" --set "db_bytes=$DATA_BYTES" \
    --note "$DATA_WHAT $(( DATA_BYTES / 1048576 )) MiB after load" \
    $([[ $rc -ne 0 ]] && echo --failed)
  [[ $rc -eq 0 ]] || { FAILED=1; return 1; }
}
