# Sourced by the one-server measurement scripts (bytes_per_request.sh,
# cold_reads.sh, ab.sh): pick a store, start and stop errata, load learners.
# (run.sh and scale_out.sh have their own, richer helpers in lib.sh.)

# store_opts STORE: sets OPTS to the `errata serve` options of an embedded
# store (sqlite or rocksdb), or none for postgres; exits 2 on anything else.
store_opts() {
  case "$1" in
    sqlite) OPTS=() ;;
    rocksdb) OPTS=(--store rocksdb:) ;;
    postgres) OPTS=() ;;  # the script starts PostgreSQL and adds --store (ab.sh)
    *) echo "store must be sqlite or rocksdb, not '$1'" >&2; exit 2 ;;
  esac
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# serve BIN PORT DATA_DIR LOG [OPTION...]: starts errata with OPTS and the
# options given, sets PID, waits for /healthz (exits 1 if it never answers).
serve() {
  "$1" serve --listen "127.0.0.1:$2" --data-dir "$3" --log-level warn "${OPTS[@]}" "${@:5}" >>"$4" 2>&1 &
  PID=$!
  for _ in $(seq 200); do curl -sf -o /dev/null "http://127.0.0.1:$2/healthz" && return; sleep 0.05; done
  echo "errata did not start (log: $4)" >&2
  exit 1
}

# begin STORE NAME: what every one-server script does first: OPTS for STORE
# (store_opts), a work dir WORK (/tmp/errata-NAME.*) that is removed, after
# the server is stopped, when the script exits, and a free PORT.
begin() {
  store_opts "$1"
  WORK=$(mktemp -d "/tmp/errata-$2.XXXXXX")
  PID=""
  trap 'unserve; rm -rf "$WORK"' EXIT
  PORT=$(free_port)
}

# unserve: stops the server that serve started.
unserve() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
}

# load PORT USERS ERRORS IDS: loads a synthetic dataset; learner ids go to IDS.
load() {
  python3 bench/gen_dataset.py synth --url "http://127.0.0.1:$1" --users "$2" --errors "$3" \
    --ids-out "$4" >/dev/null
}
