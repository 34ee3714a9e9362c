-- Test-only stand-in for what every Supabase project already has, so that the
-- migrations under deploy/supabase/migrations/ apply to a plain PostgreSQL
-- database: the API roles, `auth.uid()` and a minimal `auth.users`.
-- Never apply this to a Supabase project. Safe to apply more than once.

-- Roles are cluster-wide: another test database may have created them already,
-- possibly at the same moment, hence the duplicate_object handler.
do $$
begin
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
exception when duplicate_object or unique_violation then null;
end $$;

do $$
begin
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
exception when duplicate_object or unique_violation then null;
end $$;

do $$
begin
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
exception when duplicate_object or unique_violation then null;
end $$;

create schema if not exists auth;

-- As in supabase/auth migrations/20220224000811_update_auth_functions.up.sql:
-- PostgREST puts the verified JWT's claims into the `request.jwt.claims` GUC for
-- the transaction; the older per-claim GUC is still honoured.
create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

-- Only the primary key: enough for `references auth.users(id)`.
create table if not exists auth.users (
  id uuid primary key
);

grant usage on schema auth to anon, authenticated, service_role;
grant execute on function auth.uid() to anon, authenticated, service_role;
grant execute on function auth.role() to anon, authenticated, service_role;
grant usage on schema public to anon, authenticated, service_role;
