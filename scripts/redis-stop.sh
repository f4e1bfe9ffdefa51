#!/usr/bin/env bash
# Stops the Redis that scripts/redis-start.sh DIR started (SHUTDOWN NOSAVE) and
# waits for it to exit. DIR keeps its port: redis-start.sh DIR starts an empty
# Redis on the same URL again; rm -rf DIR throws it away.
set -euo pipefail

DIR=${1:?usage: redis-stop.sh DIR}
REDIS_CLI=${REDIS_CLI:-redis-cli}

[ -f "$DIR/port" ] || { echo "no redis in $DIR" >&2; exit 1; }
PORT=$(cat "$DIR/port")
PID=$(cat "$DIR/redis.pid" 2>/dev/null || true)
"$REDIS_CLI" -h 127.0.0.1 -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
# Wait for the process to go. A daemonized server is reparented; where nothing
# reaps it (a container's init), it lingers as a zombie: that counts as gone.
alive() {
  [ -n "$PID" ] || return 1
  local st
  st=$(ps -o stat= -p "$PID" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "${st:0:1}" != Z ]
}
for _ in $(seq 1 200); do
  alive || break
  sleep 0.02
done
if alive; then
  echo "redis (pid $PID) did not stop" >&2
  exit 1
fi
