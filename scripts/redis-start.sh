#!/usr/bin/env bash
# Starts a throwaway Redis for tests and prints its URL on stdout:
#
#   url=$(scripts/redis-start.sh /tmp/errata-redis)   # redis://127.0.0.1:PORT
#   errata serve --store "$PG_URL" --cache "$url"
#   scripts/redis-stop.sh /tmp/errata-redis
#
# redis-server (Debian's; $REDIS_SERVER overrides) listens on 127.0.0.1 only,
# on a free port remembered in DIR/port, so a restart of the same DIR keeps its
# URL. No persistence (--save "", no AOF): a restart starts empty, which is what
# errata's shared cache wants. Its pid file and log are DIR/redis.pid and
# DIR/redis.log. Running it again while it is up just prints the URL.
set -euo pipefail

DIR=${1:?usage: redis-start.sh DIR}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_CLI=${REDIS_CLI:-redis-cli}

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

if [ -f "$DIR/port" ]; then
  PORT=$(cat "$DIR/port")
else
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "$PORT" >"$DIR/port"
fi

if [ "$("$REDIS_CLI" -h 127.0.0.1 -p "$PORT" ping 2>/dev/null || true)" != PONG ]; then
  "$REDIS_SERVER" --bind 127.0.0.1 --port "$PORT" --dir "$DIR" --save "" --appendonly no \
    --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" >/dev/null \
    || { tail -n 20 "$DIR/redis.log" >&2 2>/dev/null; exit 1; }
  for _ in $(seq 1 100); do
    [ "$("$REDIS_CLI" -h 127.0.0.1 -p "$PORT" ping 2>/dev/null || true)" = PONG ] && break
    sleep 0.02
  done
  [ "$("$REDIS_CLI" -h 127.0.0.1 -p "$PORT" ping 2>/dev/null || true)" = PONG ] \
    || { echo "redis on port $PORT is not ready" >&2; tail -n 20 "$DIR/redis.log" >&2 2>/dev/null; exit 1; }
fi

echo "redis://127.0.0.1:$PORT"
