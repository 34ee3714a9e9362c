#!/usr/bin/env bash
# Deploy ResiMply with Docker Compose: build, migrate, rolling restart, health
# check, and roll back to the previous image when the new one is not healthy.
#
#   deploy/deploy.sh                 build and deploy the checked-out code
#   deploy/deploy.sh rollback        go back to the previously deployed image
#
# Images are tagged resimply:<git commit>; the history is deploy/.state/tags.
# Migrations: with SUPABASE_DB_URL set (the database's connection string),
# deploy/supabase/migrations/*.sql not yet applied are applied with psql, in order.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

STATE="$ROOT/deploy/.state"
HEALTH_TIMEOUT_S="${HEALTH_TIMEOUT_S:-120}"
mkdir -p "$STATE"
touch "$STATE/tags"
cd "$ROOT"
[ -f .env ] || die "no .env: cp .env.example .env and fill it in"
set -a
# shellcheck disable=SC1091
. ./.env
set +a

current_tag() { tail -n 1 "$STATE/tags"; }
previous_tag() { tail -n 2 "$STATE/tags" | head -n 1; }

migrate() {
  if [ -z "${SUPABASE_DB_URL:-}" ]; then
    say "SUPABASE_DB_URL unset: skipping database migrations"
    return
  fi
  command -v psql >/dev/null || die "psql is needed for migrations (apt-get install postgresql-client)"
  psql "$SUPABASE_DB_URL" -v ON_ERROR_STOP=1 -q -c \
    "create table if not exists public.resimply_migrations (name text primary key, applied_at timestamptz not null default now())"
  for file in deploy/supabase/migrations/*.sql; do
    name="$(basename "$file")"
    done_already="$(psql "$SUPABASE_DB_URL" -At -v ON_ERROR_STOP=1 -v name="$name" \
      -c "select 1 from public.resimply_migrations where name = :'name'")"
    [ -z "$done_already" ] || continue
    say "migrating: $name"
    psql "$SUPABASE_DB_URL" -v ON_ERROR_STOP=1 -q --single-transaction \
      -f "$file" -c "insert into public.resimply_migrations (name) values ('$name')"
  done
}

# Container ids of a service, oldest first.
containers() { "${COMPOSE[@]}" ps -q "$1" | xargs -r docker inspect -f '{{.Created}} {{.Id}}' | sort | cut -d' ' -f2; }

wait_healthy() { # ids...
  local deadline=$((SECONDS + HEALTH_TIMEOUT_S)) id status
  for id in "$@"; do
    while :; do
      status="$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")"
      case "$status" in healthy | running) break ;; unhealthy | exited | dead) return 1 ;; esac
      [ "$SECONDS" -lt "$deadline" ] || return 1
      sleep 2
    done
  done
}

# Start replicas of the new image next to the old ones, wait for them to be
# healthy, then stop the old ones (SIGTERM: streams end and resume on the new
# web replicas; workers hand their jobs back to the new workers).
roll() { # service tag
  local service="$1" tag="$2" old new count
  mapfile -t old < <(containers "$service")
  count="${#old[@]}"
  [ "$count" -gt 0 ] || count=1
  RESIMPLY_TAG="$tag" "${COMPOSE[@]}" up -d --no-deps --no-recreate --scale "$service=$((${#old[@]} + count))" "$service"
  mapfile -t new < <(containers "$service" | grep -vxF -f <(printf '%s\n' "${old[@]}" ""))
  say "$service: ${#new[@]} new replica(s) on $tag, waiting until healthy"
  if ! wait_healthy "${new[@]}"; then
    docker rm -f "${new[@]}" >/dev/null
    return 1
  fi
  if [ "${#old[@]}" -gt 0 ]; then
    say "$service: stopping ${#old[@]} old replica(s)"
    docker stop -t "$([ "$service" = worker ] && echo 30 || echo 15)" "${old[@]}" >/dev/null
    docker rm "${old[@]}" >/dev/null
  fi
}

site_healthy() {
  local deadline=$((SECONDS + HEALTH_TIMEOUT_S)) curl=(curl -fsS --max-time 5)
  curl+=(--resolve "$MAIN_DOMAIN:443:127.0.0.1")
  [ "${CADDY_TLS:-}" != internal ] || curl+=(--insecure) # Caddy's local CA
  until "${curl[@]}" "https://$MAIN_DOMAIN/health" | grep -q '"status": *"healthy"'; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 2
  done
}

deploy_tag() { # tag
  local tag="$1"
  "${COMPOSE[@]}" up -d --no-deps redis
  roll web "$tag" && roll worker "$tag" && RESIMPLY_TAG="$tag" "${COMPOSE[@]}" up -d --no-deps caddy &&
    "${COMPOSE[@]}" exec -T caddy caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile &&
    site_healthy
}

case "${1:-deploy}" in
  deploy)
    tag="$(git rev-parse --short HEAD 2>/dev/null || date -u +%Y%m%d%H%M%S)"
    previous="$(current_tag)"
    say "building resimply:$tag"
    RESIMPLY_TAG="$tag" "${COMPOSE[@]}" build --build-arg "VERSION=$tag" --build-arg "REVISION=$tag" web
    migrate
    if deploy_tag "$tag"; then
      [ "$previous" = "$tag" ] || echo "$tag" >>"$STATE/tags"
      say "deployed resimply:$tag; https://$MAIN_DOMAIN/health is healthy"
      # Keep the images of the last five deployments.
      head -n -5 "$STATE/tags" | sed "s/^/${RESIMPLY_IMAGE:-resimply}:/" | xargs -r docker image rm >/dev/null 2>&1 || true
    else
      say "resimply:$tag is not healthy; rolling back to ${previous:-nothing}"
      [ -n "$previous" ] || die "no previous deployment to roll back to"
      deploy_tag "$previous" || die "the rollback to $previous is not healthy either: docker compose logs"
      die "deploy of $tag failed; running $previous again"
    fi
    ;;
  rollback)
    previous="$(previous_tag)"
    if [ -z "$previous" ] || [ "$previous" = "$(current_tag)" ]; then
      die "no previous deployment in $STATE/tags"
    fi
    say "rolling back to resimply:$previous"
    deploy_tag "$previous" || die "resimply:$previous is not healthy: docker compose logs"
    echo "$previous" >>"$STATE/tags"
    say "running resimply:$previous"
    ;;
  *) die "usage: deploy/deploy.sh [deploy|rollback]" ;;
esac
