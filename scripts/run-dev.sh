#!/usr/bin/env bash
# `make run`: web + in-process worker with the embedded defaults (local providers,
# development auth). Uses REDIS_URL when set, else a private redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."

export RESIMPLY_DEV=1
export RESIMPLY_DATA_DIR="${RESIMPLY_DATA_DIR:-$PWD/.run/data}"
PORT="${PORT:-8000}"
HOST="${HOST:-127.0.0.1}"

if [ -z "${REDIS_URL:-}" ]; then
  if ! command -v redis-server >/dev/null 2>&1; then
    cat >&2 <<'MSG'
ResiMply needs Redis, and no redis-server was found. Either
  - install it:  sudo apt-get install redis-server   (Debian/Ubuntu)
                 brew install redis                    (macOS)
  - or point at one you have:  REDIS_URL=redis://host:6379/0 make run
MSG
    exit 1
  fi
  mkdir -p .run/redis
  REDIS_PORT="${REDIS_PORT:-6390}"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$PWD/.run/redis" \
    --save "" --appendonly no --daemonize no --loglevel warning \
    >.run/redis/redis.log 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    kill -0 "$REDIS_PID" 2>/dev/null || { cat .run/redis/redis.log >&2; exit 1; }
    sleep 0.1
  done
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
