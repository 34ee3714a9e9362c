-- Several recipes in one post (a main and its sauce): one row each, all linked
-- to the task. `position` is the recipe's place in the post (0 = the first, the
-- one older clients see as the task's `recipe`); (task_id, position) is unique,
-- so a retried job finds the rows its first attempt wrote. Existing rows keep
-- position 0. Apply this before running a service version that writes
-- `position` (the worker upserts with on_conflict=task_id,position).
-- Re-applying this file is harmless; row level security is unchanged (the
-- policies are on the table, by user_id).

alter table public.recipes
  add column if not exists position integer not null default 0;

do $$
begin
  if not exists (
    select 1 from pg_constraint
    where conname = 'recipes_task_id_position_key'
      and conrelid = 'public.recipes'::regclass
  ) then
    alter table public.recipes
      add constraint recipes_task_id_position_key unique (task_id, position);
  end if;
end
$$;

-- One row per task no longer: the unique key above replaces it.
alter table public.recipes drop constraint if exists recipes_task_id_key;

comment on table public.recipes is
  'resimply: the recipes of finished tasks (one row per recipe, several per post possible); '
  'rows are private to their user (RLS).';
