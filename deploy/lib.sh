# shellcheck shell=bash
# Shared by deploy.sh, backup.sh and restore.sh (sourced, not run).
# Compose mode (default): Redis is the `redis` service of compose.yaml.
# Direct mode: REDIS_CLI (e.g. "redis-cli -p 6379") and REDIS_DATA_DIR (Redis's
# --dir) point at a Redis on this machine; REDISCLI_AUTH carries the password.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMPOSE=(docker compose --project-directory "$ROOT" -f "$ROOT/compose.yaml")

say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

direct_mode() { [ -n "${REDIS_DATA_DIR:-}" ]; }

rcli() {
  if direct_mode; then
    # shellcheck disable=SC2086  # REDIS_CLI is a command line
    ${REDIS_CLI:-redis-cli} "$@"
  else
    "${COMPOSE[@]}" exec -T redis redis-cli "$@"
  fi
}

# The value of one INFO field, e.g. `info_field persistence aof_rewrite_in_progress`.
info_field() {
  rcli INFO "$1" | tr -d '\r' | sed -n "s/^$2://p"
}
