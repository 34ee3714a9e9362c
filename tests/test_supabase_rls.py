"""The recipes migration's row level security, on a real PostgreSQL.

A fresh database gets `tests/sql/supabase_shim.sql` (Supabase's roles and
`auth.uid()`) and then the migrations; each check runs the way PostgREST runs a
request: in a transaction, as role `authenticated`, with the token's claims in
`request.jwt.claims`. psql is driven as a subprocess (no driver dependency).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIM = ROOT / "tests/sql/supabase_shim.sql"
MIGRATIONS = sorted((ROOT / "deploy/supabase/migrations").glob("*.sql"))

ALICE = "00000000-0000-4000-8000-00000000000a"
BOB = "00000000-0000-4000-8000-00000000000b"
ALICE_TASK = "10000000-0000-4000-8000-00000000000a"
BOB_TASK = "10000000-0000-4000-8000-00000000000b"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PGHOST", "127.0.0.1")
    env.setdefault("PGPORT", "5432")
    env.setdefault("PGUSER", "postgres")
    env.setdefault("PGCONNECT_TIMEOUT", "5")
    return env


def _psql(
    db: str,
    *,
    sql: str | None = None,
    file: Path | None = None,
    stdin: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    args = ["psql", "-X", "-q", "-A", "-t", "-d", db, "-v", "ON_ERROR_STOP=1"]
    args += ["-v", "VERBOSITY=verbose"]  # errors carry their SQLSTATE
    if file is not None:
        args += ["-f", str(file)]
    elif sql is not None:
        args += ["-c", sql]
    proc = subprocess.run(args, input=stdin, env=_env(), capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"psql failed ({proc.returncode}): {proc.stderr}")
    return proc


def _unavailable(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def db() -> Iterator[str]:
    """A fresh database with the shim and the migrations, dropped afterwards."""
    if shutil.which("psql") is None:
        _unavailable("psql is not installed (apt-get install postgresql-client)")
    probe = _psql("postgres", sql="select 1", check=False)
    if probe.returncode != 0:
        _unavailable(f"PostgreSQL is not reachable: {probe.stderr.strip()}")
    name = f"resimply_rls_{uuid.uuid4().hex[:12]}"
    _psql("postgres", sql=f"create database {name}")
    try:
        _psql(name, file=SHIM)
        for migration in MIGRATIONS:
            _psql(name, file=migration)
        # Two users and one row each, written as the superuser (no RLS).
        _psql(
            name,
            sql=f"""
            insert into auth.users (id) values ('{ALICE}'), ('{BOB}');
            insert into public.recipes (user_id, task_id, title, data) values
              ('{ALICE}', '{ALICE_TASK}', 'Alice soup', '{{"title": "Alice soup"}}'),
              ('{BOB}', '{BOB_TASK}', 'Bob stew', '{{"title": "Bob stew"}}');
            """,
        )
        yield name
    finally:
        _psql("postgres", sql=f"drop database if exists {name} with (force)", check=False)


def _as(role: str, sub: str | None, db: str, sql: str, *, check: bool = True) -> str:
    """Run `sql` like PostgREST runs a request for a token with this `sub` and
    role; return psql's unaligned output (raises on an error when `check`)."""
    claims = json.dumps({"sub": sub, "role": role} if sub else {"role": role})
    script = (
        "begin;\n"
        f"set local role {role};\n"
        f"select set_config('request.jwt.claims', '{claims}', true) as claims \\gset\n"
        f"{sql}\n"
        "commit;\n"
    )
    proc = _psql(db, stdin=script, check=check)
    return proc.stdout.strip() if check else proc.stderr


def _alice(db: str, sql: str, *, check: bool = True) -> str:
    return _as("authenticated", ALICE, db, sql, check=check)


def test_migrations_apply_twice(db: str) -> None:
    _psql(db, file=SHIM)
    for migration in MIGRATIONS:
        _psql(db, file=migration)
    out = _psql(
        db,
        sql="select relrowsecurity, relforcerowsecurity from pg_class "
        "where oid = 'public.recipes'::regclass;"
        "select count(*) from pg_policies where tablename = 'recipes';"
        "select count(*) from public.recipes;",
    )
    assert out.stdout.split() == ["t|t", "4", "2"]


def test_a_user_reads_only_their_own_rows(db: str) -> None:
    assert _alice(db, "select title from public.recipes order by title;") == "Alice soup"
    assert _alice(db, f"select count(*) from public.recipes where user_id = '{BOB}';") == "0"
    assert _alice(db, f"select count(*) from public.recipes where task_id = '{BOB_TASK}';") == "0"
    out = _as("authenticated", BOB, db, "select title from public.recipes;")
    assert out == "Bob stew"


def test_a_user_updates_their_own_rows_but_not_others(db: str) -> None:
    own = _alice(
        db,
        "with u as (update public.recipes set servings = 4 "
        f"where task_id = '{ALICE_TASK}' returning servings) select count(*), max(servings) from u;",
    )
    assert own == "1|4"
    other = _alice(
        db,
        "with u as (update public.recipes set title = 'hacked' "
        f"where user_id = '{BOB}' returning 1) select count(*) from u;",
    )
    assert other == "0"
    # Handing one's row to someone else fails the policy's WITH CHECK.
    stderr = _alice(
        db,
        f"update public.recipes set user_id = '{BOB}' where task_id = '{ALICE_TASK}';",
        check=False,
    )
    assert "42501" in stderr
    assert "row-level security" in stderr
    titles = _psql(db, sql="select user_id || ':' || title from public.recipes order by title;")
    assert titles.stdout.split("\n")[:2] == [f"{ALICE}:Alice soup", f"{BOB}:Bob stew"]


def test_a_user_inserts_their_own_rows_but_not_others(db: str) -> None:
    task = str(uuid.uuid4())
    # user_id defaults to auth.uid(), the token's sub.
    out = _alice(
        db,
        f"insert into public.recipes (task_id, title) values ('{task}', 'Alice salad') "
        "returning user_id, title, ingredients, steps, tags;",
    )
    assert out == f"{ALICE}|Alice salad|[]|[]|{{}}"
    stderr = _alice(
        db,
        f"insert into public.recipes (user_id, task_id, title) "
        f"values ('{BOB}', '{uuid.uuid4()}', 'forged');",
        check=False,
    )
    assert "ERROR:  42501: new row violates row-level security policy" in stderr
    assert _psql(db, sql="select count(*) from public.recipes where title = 'forged';").stdout == (
        "0\n"
    )
    _psql(db, sql=f"delete from public.recipes where task_id = '{task}';")


def test_a_user_cannot_delete_others_rows(db: str) -> None:
    out = _alice(
        db,
        f"with d as (delete from public.recipes where task_id = '{BOB_TASK}' returning 1) "
        "select count(*) from d;",
    )
    assert out == "0"
    remaining = _psql(db, sql=f"select count(*) from public.recipes where task_id = '{BOB_TASK}';")
    assert remaining.stdout == "1\n"


def test_task_id_and_position_are_unique(db: str) -> None:
    stderr = _alice(
        db,
        f"insert into public.recipes (task_id, title) values ('{ALICE_TASK}', 'again');",
        check=False,
    )
    assert "ERROR:  23505: duplicate key value violates unique constraint" in stderr
    assert "recipes_task_id_position_key" in stderr
    # What PostgREST sends for upsert(ignore_duplicates, on_conflict=task_id,position):
    # no second row, nothing returned.
    out = _alice(
        db,
        "with i as (insert into public.recipes (task_id, title) "
        f"values ('{ALICE_TASK}', 'again') on conflict (task_id, position) do nothing "
        "returning 1) select count(*) from i;",
    )
    assert out == "0"
    count = _psql(db, sql=f"select count(*) from public.recipes where task_id = '{ALICE_TASK}';")
    assert count.stdout == "1\n"


def test_a_post_with_two_recipes_is_two_rows_of_its_user_only(db: str) -> None:
    task = str(uuid.uuid4())
    # The worker's insert (service role): main and sauce, one task, positions 0 and 1.
    out = _as(
        "service_role",
        None,
        db,
        "with i as (insert into public.recipes (user_id, task_id, position, title) values "
        f"('{ALICE}', '{task}', 0, 'Schnitzel'), ('{ALICE}', '{task}', 1, 'Mushroom sauce') "
        "on conflict (task_id, position) do nothing returning 1) select count(*) from i;",
    )
    assert out == "2"
    try:
        rows = _alice(
            db,
            f"select position || ':' || title from public.recipes where task_id = '{task}' "
            "order by position;",
        )
        assert rows.split("\n") == ["0:Schnitzel", "1:Mushroom sauce"]
        bob = _as(
            "authenticated",
            BOB,
            db,
            f"select count(*) from public.recipes where task_id = '{task}';",
        )
        assert bob == "0"
        deleted = _as(
            "authenticated",
            BOB,
            db,
            f"with d as (delete from public.recipes where task_id = '{task}' returning 1) "
            "select count(*) from d;",
        )
        assert deleted == "0"
    finally:
        _psql(db, sql=f"delete from public.recipes where task_id = '{task}';")


def test_the_per_post_migration_keeps_existing_rows_at_position_0() -> None:
    """A project that has run the service before: its rows (one per task) stay,
    at position 0, and a task may then hold a second row."""
    name = f"resimply_rls_{uuid.uuid4().hex[:12]}"
    if shutil.which("psql") is None:
        _unavailable("psql is not installed (apt-get install postgresql-client)")
    probe = _psql("postgres", sql="select 1", check=False)
    if probe.returncode != 0:
        _unavailable(f"PostgreSQL is not reachable: {probe.stderr.strip()}")
    per_post = [m for m in MIGRATIONS if m.name.endswith("_recipes_per_post.sql")]
    assert per_post, "the per-post migration is missing"
    _psql("postgres", sql=f"create database {name}")
    try:
        _psql(name, file=SHIM)
        for migration in MIGRATIONS:
            if migration < per_post[0]:
                _psql(name, file=migration)
        _psql(
            name,
            sql=f"insert into auth.users (id) values ('{ALICE}');"
            "insert into public.recipes (user_id, task_id, title) "
            f"values ('{ALICE}', '{ALICE_TASK}', 'Old soup');",
        )
        for migration in MIGRATIONS:
            if migration >= per_post[0]:
                _psql(name, file=migration)
        _psql(
            name,
            sql="insert into public.recipes (user_id, task_id, position, title) "
            f"values ('{ALICE}', '{ALICE_TASK}', 1, 'Its sauce');",
        )
        out = _psql(
            name,
            sql="select position || ':' || title from public.recipes order by position;"
            "select count(*) from pg_constraint where conname = 'recipes_task_id_key';",
        )
        assert out.stdout.split("\n")[:3] == ["0:Old soup", "1:Its sauce", "0"]
    finally:
        _psql("postgres", sql=f"drop database if exists {name} with (force)", check=False)


def test_anon_has_no_access_and_service_role_bypasses_rls(db: str) -> None:
    stderr = _as("anon", None, db, "select count(*) from public.recipes;", check=False)
    assert "ERROR:  42501: permission denied for table recipes" in stderr
    # No claims at all (a request without a user): auth.uid() is null, no rows.
    assert _as("authenticated", None, db, "select count(*) from public.recipes;") == "0"
    assert _as("service_role", None, db, "select count(*) from public.recipes;") == "2"


def test_deleting_a_user_deletes_their_recipes(db: str) -> None:
    carol = str(uuid.uuid4())
    _psql(
        db,
        sql=f"insert into auth.users (id) values ('{carol}');"
        f"insert into public.recipes (user_id, task_id, title) "
        f"values ('{carol}', '{uuid.uuid4()}', 'Carol cake');",
    )
    _psql(db, sql=f"delete from auth.users where id = '{carol}';")
    out = _psql(db, sql=f"select count(*) from public.recipes where user_id = '{carol}';")
    assert out.stdout == "0\n"


# --- drafts (migrations/20261208000000_drafts.sql) -------------------------------------


def _service(db: str, sql: str) -> str:
    return _as("service_role", None, db, sql)


def _draft_rows(db: str, *rows: tuple[str, str, str]) -> list[str]:
    """Drafts written as the worker writes them (service role): (user, data title,
    expires_at expression); their ids."""
    ids = [str(uuid.uuid4()) for _ in rows]
    values = ", ".join(
        f"('{draft_id}', '{user}', '{uuid.uuid4()}', {expires}, "
        f'\'{{"draft_id": "{draft_id}", "caption": "{title}"}}\')'
        for draft_id, (user, title, expires) in zip(ids, rows, strict=True)
    )
    out = _service(
        db,
        "with i as (insert into public.drafts (id, user_id, task_id, expires_at, data) "
        f"values {values} returning 1) select count(*) from i;",
    )
    assert out == str(len(rows))
    return ids


def test_a_user_reads_and_deletes_only_their_own_unexpired_drafts(db: str) -> None:
    alices, expired, bobs = _draft_rows(
        db,
        (ALICE, "Alice lake", "now() + interval '1 hour'"),
        (ALICE, "Alice old try", "now() - interval '1 second'"),
        (BOB, "Bob beach", "now() + interval '1 hour'"),
    )
    try:
        # Alice: her unexpired draft only; the expired one is invisible though still there.
        assert _alice(db, "select data->>'caption' from public.drafts;") == "Alice lake"
        assert _alice(db, f"select count(*) from public.drafts where id = '{expired}';") == "0"
        assert _alice(db, f"select count(*) from public.drafts where id = '{bobs}';") == "0"
        bob = _as("authenticated", BOB, db, "select data->>'caption' from public.drafts;")
        assert bob == "Bob beach"
        # Deleting someone else's draft deletes nothing.
        gone = _as(
            "authenticated",
            BOB,
            db,
            f"with d as (delete from public.drafts where id = '{alices}' returning 1) "
            "select count(*) from d;",
        )
        assert gone == "0"
        assert _service(db, f"select count(*) from public.drafts where id = '{alices}';") == "1"
        # Its owner deletes it.
        mine = _alice(
            db,
            f"with d as (delete from public.drafts where id = '{alices}' returning 1) "
            "select count(*) from d;",
        )
        assert mine == "1"
        # The service sees (and sweeps) the expired row.
        swept = _service(
            db,
            "with d as (delete from public.drafts where expires_at <= now() returning id) "
            "select count(*) from d;",
        )
        assert swept == "1"
    finally:
        _psql(db, sql=f"delete from public.drafts where id in ('{alices}', '{expired}', '{bobs}');")


def test_users_cannot_write_drafts_and_anon_cannot_read_them(db: str) -> None:
    (bobs,) = _draft_rows(db, (BOB, "Bob beach", "now() + interval '1 hour'"))
    try:
        # Only the worker writes drafts: a user inserting one, even their own, is refused...
        stderr = _alice(
            db,
            "insert into public.drafts (id, user_id, task_id, expires_at, data) values "
            f"('{uuid.uuid4()}', '{ALICE}', '{uuid.uuid4()}', now() + interval '1 hour', '{{}}');",
            check=False,
        )
        assert "ERROR:  42501: permission denied for table drafts" in stderr
        # ...and so is changing one (e.g. moving its expiry, or its owner).
        stderr = _as(
            "authenticated",
            BOB,
            db,
            f"update public.drafts set user_id = '{ALICE}' where id = '{bobs}';",
            check=False,
        )
        assert "ERROR:  42501: permission denied for table drafts" in stderr
        stderr = _as("anon", None, db, "select count(*) from public.drafts;", check=False)
        assert "ERROR:  42501: permission denied for table drafts" in stderr
        assert _as("authenticated", None, db, "select count(*) from public.drafts;") == "0"
        assert _service(db, f"select user_id from public.drafts where id = '{bobs}';") == BOB
    finally:
        _psql(db, sql=f"delete from public.drafts where id = '{bobs}';")


def test_the_drafts_table_has_rls_and_drafts_go_with_their_user(db: str) -> None:
    out = _psql(
        db,
        sql="select relrowsecurity, relforcerowsecurity from pg_class "
        "where oid = 'public.drafts'::regclass;"
        "select count(*) from pg_policies where tablename = 'drafts';",
    )
    assert out.stdout.split() == ["t|t", "2"]
    carol = str(uuid.uuid4())
    _psql(db, sql=f"insert into auth.users (id) values ('{carol}');")
    _draft_rows(db, (carol, "Carol cake", "now() + interval '1 hour'"))
    _psql(db, sql=f"delete from auth.users where id = '{carol}';")
    out = _psql(db, sql=f"select count(*) from public.drafts where user_id = '{carol}';")
    assert out.stdout == "0\n"
