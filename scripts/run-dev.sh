#!/usr/bin/env bash
# `make run`: web + in-process worker with the embedded defaults (local providers,
# development auth). Uses REDIS_URL when set, else a private redis-server.
#
#   PORT=8001 make run          the web port (default 8000); HOST=0.0.0.0 for the LAN
#   REDIS_PORT=6391 make run    the private Redis's port (default 6390)
#   REDIS_URL=redis://… make run   your own Redis instead of a private one
#
# `scripts/run-dev.sh --preflight` only checks that the ports are free (make runs
# it before installing, so a busy port is the first and only thing printed).
set -euo pipefail
cd "$(dirname "$0")/.."

export RESIMPLY_DEV=1
# No RESIMPLY_DATA_DIR override: `resimply token` (RESIMPLY_DEV=1 .venv/bin/resimply
# token) then reads the same development secret as this server, from the default
# data directory, so its tokens are accepted here.
PORT="${PORT:-8000}"
HOST="${HOST:-127.0.0.1}"
REDIS_PORT="${REDIS_PORT:-6390}"

# One line on stderr, then exit: what went wrong and what to type instead.
fail() {
  echo "make run: $*" >&2
  exit 1
}

# Free when a listening socket can be bound there (as the server will, with
# SO_REUSEADDR). Any Python 3 does: this runs before the venv exists.
port_free() {
  "${PYTHON:-python3}" - "$1" "$2" <<'PY'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
with socket.socket(family, socket.SOCK_STREAM) as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
    except OSError:
        sys.exit(1)
PY
}

preflight() {
  case "$PORT" in '' | *[!0-9]*) fail "PORT must be a port number, got '$PORT'." ;; esac
  case "$REDIS_PORT" in '' | *[!0-9]*) fail "REDIS_PORT must be a port number, got '$REDIS_PORT'." ;; esac
  port_free "$HOST" "$PORT" ||
    fail "port $PORT on $HOST is in use (another make run?); stop that, or choose another: PORT=$((PORT + 1)) make run"
  if [ -z "${REDIS_URL:-}" ]; then
    command -v redis-server >/dev/null 2>&1 ||
      fail "no redis-server found; install it (sudo apt-get install redis-server, or brew install redis), or use yours: REDIS_URL=redis://host:6379/0 make run"
    port_free 127.0.0.1 "$REDIS_PORT" ||
      fail "port $REDIS_PORT (the private Redis) is in use; stop what holds it, or choose another: REDIS_PORT=$((REDIS_PORT + 1)) make run"
  fi
}

preflight
[ "${1:-}" = --preflight ] && exit 0

if [ -z "${REDIS_URL:-}" ]; then
  mkdir -p .run/redis
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$PWD/.run/redis" \
    --save "" --appendonly no --daemonize no --loglevel warning \
    >.run/redis/redis.log 2>&1 &
  REDIS_PID=$!
  up=""
  for _ in $(seq 50); do
    # Ours must be alive *and* answering: a ping alone could reach another Redis
    # that took the port in the meantime.
    if ! kill -0 "$REDIS_PID" 2>/dev/null; then
      why=$(grep -E -m1 'Could not|rror|FATAL|Fatal|denied|aborting' .run/redis/redis.log |
        sed -E 's/^[0-9]+:[A-Z] [0-9]+ [A-Za-z]+ [0-9]+ [0-9:.]+ [#*.-] //') || true
      # A configuration error names the setting on its last line.
      case "$why" in *FATAL*) why="$why $(grep -v '^\s*$' .run/redis/redis.log | tail -n 1)" ;; esac
      fail "redis-server could not start on port $REDIS_PORT (${why:-see .run/redis/redis.log}); try REDIS_PORT=$((REDIS_PORT + 1)) make run"
    fi
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && up=1 && break
    sleep 0.1
  done
  if [ -z "$up" ]; then
    kill "$REDIS_PID" 2>/dev/null || true
    fail "redis-server did not answer on port $REDIS_PORT within 5 s (log: .run/redis/redis.log)"
  fi
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  echo "Started a private Redis on $REDIS_URL (data in .run/redis, not persisted)." >&2
fi

.venv/bin/resimply serve --host "$HOST" --port "$PORT" --with-worker &
SERVER_PID=$!
stop() {
  kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -n "${REDIS_PID:-}" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
  true
}
trap 'stop; exit 0' INT TERM
trap stop EXIT
wait "$SERVER_PID"
