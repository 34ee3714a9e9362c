#!/usr/bin/env bash
# Back up Redis (queue, task records, streams): rewrite the AOF, then copy it.
#
#   deploy/backup.sh [BACKUP_DIR]        default: backups/redis; keeps BACKUP_KEEP (14) newest
#
# Writes BACKUP_DIR/redis-<UTC time>.tar.gz (Redis's appendonlydir) and prints its path.
# Cron, daily:  15 3 * * *  cd /srv/resimply && deploy/backup.sh >>backups/backup.log 2>&1
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

dir="${1:-$ROOT/backups/redis}"
keep="${BACKUP_KEEP:-14}"
mkdir -p "$dir"

# A fresh AOF base: the copy is one snapshot plus a short tail.
rcli BGREWRITEAOF >/dev/null || true # "already in progress" is fine
for _ in $(seq 600); do
  [ "$(info_field persistence aof_rewrite_in_progress)" = 0 ] &&
    [ "$(info_field persistence aof_rewrite_scheduled)" = 0 ] && break
  sleep 0.5
done
[ "$(info_field persistence aof_rewrite_in_progress)" = 0 ] || die "AOF rewrite still running after 5 min"
[ "$(info_field persistence aof_last_bgrewrite_status)" = ok ] || die "AOF rewrite failed: see the Redis log"
[ "$(info_field persistence aof_enabled)" = 1 ] || die "Redis runs without AOF (appendonly no)"

name="redis-$(date -u +%Y%m%dT%H%M%SZ).tar.gz"
tmp="$dir/.$name.partial"
if direct_mode; then
  tar -C "$REDIS_DATA_DIR" -czf "$tmp" appendonlydir
else
  "${COMPOSE[@]}" exec -T redis tar -C /data -czf - appendonlydir >"$tmp"
fi
# (Not `tar | grep -q`: grep's early exit would fail tar under pipefail.)
grep -q 'appendonlydir/.*manifest' <<<"$(tar -tzf "$tmp")" || die "the copy has no AOF manifest"
mv "$tmp" "$dir/$name"
say "backup written: $dir/$name ($(du -h "$dir/$name" | cut -f1))"

# Retention: the newest $keep backups stay.
find "$dir" -maxdepth 1 -name 'redis-*.tar.gz' -printf '%f\n' | sort -r | tail -n +"$((keep + 1))" |
  while read -r old; do
    rm -f "$dir/$old"
    say "removed old backup $old"
  done
echo "$dir/$name"
