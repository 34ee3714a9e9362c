-- The Storage bucket for recipe thumbnails (`SUPABASE_BUCKET`, default
-- "recipe-thumbnails"; change the id below too if you change the setting).
--
-- Objects are written by the worker with the service-role key at
-- "<user_id>/<task_id>.jpg". The bucket is private: a user may read only the
-- objects under their own folder (e.g. through a signed URL or the Storage API
-- with their access token).
--
-- `storage.*` exists only on Supabase: on plain PostgreSQL (the tests) this file
-- does nothing. Re-applying it is harmless.

do $$
begin
  if to_regclass('storage.buckets') is null or to_regclass('storage.objects') is null then
    raise notice 'no Supabase Storage schema here: skipping the thumbnails bucket';
    return;
  end if;

  insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
  values ('recipe-thumbnails', 'recipe-thumbnails', false, 5242880, array['image/jpeg'])
  on conflict (id) do nothing;

  execute 'drop policy if exists recipe_thumbnails_select_own on storage.objects';
  execute $policy$
    create policy recipe_thumbnails_select_own on storage.objects
      for select to authenticated
      using (
        bucket_id = 'recipe-thumbnails'
        and (storage.foldername(name))[1] = (select auth.uid())::text
      )
  $policy$;
end $$;
