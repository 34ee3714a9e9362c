#!/usr/bin/env bash
# Restore Redis from a backup made by deploy/backup.sh.
#
#   deploy/restore.sh backups/redis/redis-20261125T031500Z.tar.gz
#
# Compose mode: stops web and worker (no writes meanwhile) and Redis, swaps the
# AOF in the redis_data volume (the old one is kept as appendonlydir.before-restore-*),
# starts Redis, waits until it is healthy, starts web and worker.
# Direct mode (REDIS_DATA_DIR set): Redis must be stopped; the files are swapped.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

backup="${1:?usage: deploy/restore.sh BACKUP.tar.gz}"
[ -f "$backup" ] || die "no such backup: $backup"
grep -q '^appendonlydir/.*manifest' <<<"$(tar -tzf "$backup")" || die "$backup is not a Redis AOF backup"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
swap="set -e; [ ! -d appendonlydir ] || mv appendonlydir appendonlydir.before-restore-$stamp; tar -xzf -"

if direct_mode; then
  if rcli PING >/dev/null 2>&1; then
    die "Redis is running: stop it first (direct mode swaps files only)"
  fi
  (cd "$REDIS_DATA_DIR" && sh -c "$swap") <"$backup"
  say "restored $backup into $REDIS_DATA_DIR; start Redis now"
  exit 0
fi

say "stopping web and worker, then Redis"
"${COMPOSE[@]}" stop web worker
"${COMPOSE[@]}" stop redis
"${COMPOSE[@]}" run --rm --no-deps -T --entrypoint sh -w /data redis -c "$swap && chown -R redis:redis appendonlydir" <"$backup"
"${COMPOSE[@]}" up -d redis
for _ in $(seq 60); do
  [ "$(rcli PING 2>/dev/null | tr -d '\r')" = PONG ] &&
    [ "$(info_field persistence loading)" = 0 ] && break
  sleep 1
done
[ "$(rcli PING 2>/dev/null | tr -d '\r')" = PONG ] || die "Redis did not come back: docker compose logs redis"
say "Redis holds $(rcli DBSIZE | tr -d '\r') keys; starting web and worker"
"${COMPOSE[@]}" up -d web worker
say "restored $backup"
