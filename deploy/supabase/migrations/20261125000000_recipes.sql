-- Recipes: one row per finished task (shared/design/API.md, "Supabase table").
--
-- The worker writes with the service-role key (role `service_role`, which has
-- BYPASSRLS on Supabase); users read and change their own rows through PostgREST
-- with their access token (role `authenticated`, `auth.uid()` = the token's `sub`).
-- Re-applying this file is harmless.

create table if not exists public.recipes (
  id             uuid        primary key default gen_random_uuid(),
  user_id        uuid        not null default auth.uid()
                             references auth.users (id) on delete cascade,
  -- One row per task: a retried job finds the row its first attempt wrote.
  task_id        uuid        not null constraint recipes_task_id_key unique,
  title          text        not null,
  language       text,
  servings       integer,
  prep_minutes   integer,
  cook_minutes   integer,
  total_minutes  integer,
  ingredients    jsonb       not null default '[]'::jsonb,
  steps          jsonb       not null default '[]'::jsonb,
  tags           text[]      not null default '{}'::text[],
  source_url     text,
  source         jsonb,
  -- Object path in the thumbnails bucket: "<user_id>/<task_id>.jpg".
  thumbnail_path text,
  -- The whole recipe object of API.md; `id` and `created_at` are the columns'.
  data           jsonb       not null default '{}'::jsonb,
  created_at     timestamptz not null default now()
);

comment on table public.recipes is
  'resimply: one recipe per finished task; rows are private to their user (RLS).';

-- GET /recipes: the user's rows, newest first.
create index if not exists recipes_user_id_created_at_idx
  on public.recipes (user_id, created_at desc);

-- Row level security. FORCE also subjects the table owner to the policies;
-- service_role (and Supabase's `postgres`) have BYPASSRLS and are unaffected.
alter table public.recipes enable row level security;
alter table public.recipes force row level security;

-- Supabase's default privileges grant everything on new public tables to anon,
-- authenticated and service_role: take anon's away (no policy names it anyway).
revoke all on table public.recipes from anon;
grant select, insert, update, delete on table public.recipes to authenticated;
grant select, insert, update, delete on table public.recipes to service_role;

-- `(select auth.uid())` is evaluated once per statement, not once per row
-- (Supabase database linter 0003_auth_rls_initplan).
drop policy if exists recipes_select_own on public.recipes;
create policy recipes_select_own on public.recipes
  for select to authenticated
  using ((select auth.uid()) = user_id);

drop policy if exists recipes_insert_own on public.recipes;
create policy recipes_insert_own on public.recipes
  for insert to authenticated
  with check ((select auth.uid()) = user_id);

drop policy if exists recipes_update_own on public.recipes;
create policy recipes_update_own on public.recipes
  for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

drop policy if exists recipes_delete_own on public.recipes;
create policy recipes_delete_own on public.recipes
  for delete to authenticated
  using ((select auth.uid()) = user_id);
