-- Drafts: what a failed import read (caption, subtitles, transcript, on-screen
-- text, a few small frames, a partial recipe), kept so its user can fix it
-- into a recipe or read it again (resimply/drafts.py; docs/api.md, "Drafts").
--
-- The worker writes them and the service deletes the expired ones with the
-- service-role key (BYPASSRLS); a user reads and deletes their own unexpired
-- drafts through PostgREST with their access token (role `authenticated`), and
-- nothing else: no insert or update as a user, no row of anyone else, no row
-- past its `expires_at`. Re-applying this file is harmless.

create table if not exists public.drafts (
  id          uuid        primary key,
  user_id     uuid        not null references auth.users (id) on delete cascade,
  -- The task that failed (the last one, for a draft read again and failed again).
  task_id     uuid        not null,
  created_at  timestamptz not null default now(),
  -- RESIMPLY_DRAFT_TTL_S after the failure: the row is invisible to its user
  -- after that, and deleted by the service as new drafts come in.
  expires_at  timestamptz not null,
  -- Insertion order: ties of created_at (whole seconds) list newest first.
  seq         bigint      generated always as identity,
  -- The whole draft object of docs/api.md (frames' JPEGs as base64), ~250 KB at most.
  data        jsonb       not null
);

comment on table public.drafts is
  'resimply: failed imports kept to fix or read again; private to their user (RLS), they expire.';

-- GET /drafts: the user's drafts, newest first; and the sweep of expired rows.
create index if not exists drafts_user_id_created_at_idx
  on public.drafts (user_id, created_at desc, seq desc);
create index if not exists drafts_expires_at_idx on public.drafts (expires_at);

alter table public.drafts enable row level security;
alter table public.drafts force row level security;

revoke all on table public.drafts from anon;
revoke all on table public.drafts from authenticated;
grant select, delete on table public.drafts to authenticated;
grant select, insert, update, delete on table public.drafts to service_role;

-- `now()` in the policy: an expired draft is gone for its user at once, whether
-- or not the service has deleted its row yet.
drop policy if exists drafts_select_own on public.drafts;
create policy drafts_select_own on public.drafts
  for select to authenticated
  using ((select auth.uid()) = user_id and expires_at > now());

drop policy if exists drafts_delete_own on public.drafts;
create policy drafts_delete_own on public.drafts
  for delete to authenticated
  using ((select auth.uid()) = user_id);
