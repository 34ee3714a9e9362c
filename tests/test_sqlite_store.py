import asyncio
import contextlib
import re
import sqlite3
import sys
import uuid
from pathlib import Path

import msgspec
import pytest

from resimply import errors
from resimply.drafts import MAX_DRAFTS_PER_USER, Draft, DraftFrame, DraftStore
from resimply.models import Ingredient, Recipe, Source, Step
from resimply.providers.sqlite_store import SqliteRecipeStore

ALICE = "00000000-0000-4000-8000-00000000000a"
BOB = "00000000-0000-4000-8000-00000000000b"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _recipe(title: str = "Creamy Pasta Carbonara") -> Recipe:
    return Recipe(
        title=title,
        language="en",
        servings=2,
        ingredients=[Ingredient(text="200 g spaghetti", name="spaghetti", quantity=200, unit="g")],
        steps=[Step(text="Boil the pasta.", minutes=10)],
        tags=["pasta"],
        source=Source(platform="direct", url="https://example.com/v.mp4", video_id="abc"),
    )


def _rows(path: Path) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(
            "SELECT id, user_id, task_id, title, language, servings, source_url, created_at "
            "FROM recipes"
        ).fetchall()


async def test_database_and_directory_are_created_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "nested" / "recipes.sqlite3"
    store = SqliteRecipeStore(path)
    assert not path.parent.exists()  # nothing happens before the first call
    assert await store.list(user_id=ALICE) == []
    assert path.is_file()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(recipes)")}
    assert "recipes_user_created" in indexes
    assert store.name == "sqlite"
    await store.aclose()


async def test_save_sets_id_and_created_at_and_stores_columns(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    store = SqliteRecipeStore(path)
    saved = await store.save(user_id=ALICE, task_id="task-1", recipe=_recipe())
    assert saved.id is not None
    assert uuid.UUID(saved.id).version == 4
    assert saved.created_at is not None and ISO_UTC.match(saved.created_at)
    assert saved.title == "Creamy Pasta Carbonara"
    assert saved.ingredients == [
        Ingredient(text="200 g spaghetti", name="spaghetti", quantity=200, unit="g")
    ]
    assert _rows(path) == [
        (
            saved.id,
            ALICE,
            "task-1",
            "Creamy Pasta Carbonara",
            "en",
            2,
            "https://example.com/v.mp4",
            saved.created_at,
        )
    ]
    assert await store.get(user_id=ALICE, recipe_id=saved.id) == saved


async def test_save_is_idempotent_per_task(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    store = SqliteRecipeStore(path)
    first = await store.save(user_id=ALICE, task_id="task-1", recipe=_recipe("First try"))
    again = await store.save(user_id=ALICE, task_id="task-1", recipe=_recipe("Second try"))
    assert again == first
    assert again.title == "First try"
    assert len(_rows(path)) == 1
    # A second store on the same file (another process, say) sees the same row.
    other = SqliteRecipeStore(path)
    assert await other.save(user_id=ALICE, task_id="task-1", recipe=_recipe("Third")) == first


async def test_users_only_see_their_own_recipes(tmp_path: Path) -> None:
    store = SqliteRecipeStore(tmp_path / "r.sqlite3")
    alices = await store.save(user_id=ALICE, task_id="t-a", recipe=_recipe("Alice's soup"))
    bobs = await store.save(user_id=BOB, task_id="t-b", recipe=_recipe("Bob's bread"))
    assert alices.id is not None and bobs.id is not None
    assert await store.get(user_id=BOB, recipe_id=alices.id) is None
    assert await store.get(user_id=ALICE, recipe_id=bobs.id) is None
    assert await store.get(user_id=ALICE, recipe_id="not-a-uuid") is None
    assert [r.title for r in await store.list(user_id=ALICE)] == ["Alice's soup"]
    assert [r.title for r in await store.list(user_id=BOB)] == ["Bob's bread"]


async def test_same_task_id_for_another_user_is_refused(tmp_path: Path) -> None:
    store = SqliteRecipeStore(tmp_path / "r.sqlite3")
    await store.save(user_id=ALICE, task_id="t-1", recipe=_recipe("Alice's soup"))
    with pytest.raises(errors.StorageFailed) as info:
        await store.save(user_id=BOB, task_id="t-1", recipe=_recipe("Bob's bread"))
    assert info.value.retryable is False
    assert [r.title for r in await store.list(user_id=BOB)] == []


async def test_list_is_newest_first_with_limit_and_offset(tmp_path: Path) -> None:
    store = SqliteRecipeStore(tmp_path / "r.sqlite3")
    for i in range(5):
        await store.save(user_id=ALICE, task_id=f"t-{i}", recipe=_recipe(f"Recipe {i}"))
    titles = [r.title for r in await store.list(user_id=ALICE)]
    assert titles == ["Recipe 4", "Recipe 3", "Recipe 2", "Recipe 1", "Recipe 0"]
    page = await store.list(user_id=ALICE, limit=2, offset=1)
    assert [r.title for r in page] == ["Recipe 3", "Recipe 2"]
    assert await store.list(user_id=ALICE, limit=0) == []
    assert [r.title for r in await store.list(user_id=ALICE, limit=10, offset=4)] == ["Recipe 0"]
    created = [r.created_at or "" for r in await store.list(user_id=ALICE)]
    assert created == sorted(created, reverse=True)


async def test_concurrent_saves_of_one_task_store_one_row(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    store = SqliteRecipeStore(path)
    other = SqliteRecipeStore(path)  # a second "process" on the same file
    results = await asyncio.gather(
        *(
            (store if i % 2 else other).save(
                user_id=ALICE, task_id="same-task", recipe=_recipe(f"Try {i}")
            )
            for i in range(12)
        )
    )
    assert len({r.id for r in results}) == 1
    assert len({r.title for r in results}) == 1
    assert len(_rows(path)) == 1
    assert [r.id for r in await store.list(user_id=ALICE)] == [results[0].id]


_WRITER = """
import asyncio, sys
from pathlib import Path
from resimply.drafts import MAX_DRAFTS_PER_USER, Draft, DraftFrame, DraftStore
from resimply.models import Recipe
from resimply.providers.sqlite_store import SqliteRecipeStore

async def main(path, n):
    store = SqliteRecipeStore(Path(path))
    for i in range(20):
        await store.save(user_id="u", task_id=f"{n}-{i}", recipe=Recipe(title=f"{n}-{i}"))
        await store.save(user_id="u", task_id="shared", recipe=Recipe(title=n))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_several_processes_share_the_file(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "r.sqlite3"
    procs = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", _WRITER, str(path), f"p{n}")
        for n in range(4)
    ]
    assert [await p.wait() for p in procs] == [0, 0, 0, 0]
    store = SqliteRecipeStore(path)
    recipes = await store.list(user_id="u", limit=500)
    assert len(recipes) == 4 * 20 + 1
    assert len(_rows(path)) == 81
    assert sum(r.title in ("p0", "p1", "p2", "p3") for r in recipes) == 1


async def test_unusable_path_is_storage_failed(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = SqliteRecipeStore(blocker / "r.sqlite3")
    with pytest.raises(errors.StorageFailed) as info:
        await store.save(user_id=ALICE, task_id="t", recipe=_recipe())
    assert info.value.code == "storage_failed"
    assert info.value.retryable is True
    with pytest.raises(errors.StorageFailed):
        await store.list(user_id=ALICE)


async def test_connections_stay_open_between_calls_until_aclose(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    store = SqliteRecipeStore(path)
    for n in range(3):
        await store.save(user_id=ALICE, task_id=f"t{n}", recipe=_recipe())
    # A connection still open keeps the write-ahead log: no checkpoint per save.
    assert path.with_name("r.sqlite3-wal").exists()
    await store.aclose()
    assert not path.with_name("r.sqlite3-wal").exists()  # the last close checkpointed
    assert len(_rows(path)) == 3
    # Usable again after aclose.
    await store.save(user_id=ALICE, task_id="t3", recipe=_recipe())
    assert len(await store.list(user_id=ALICE)) == 4
    await store.aclose()


# --- several recipes in one post ---------------------------------------------------


async def test_save_all_stores_one_row_per_recipe_linked_to_the_task(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    store = SqliteRecipeStore(path)
    main, sauce = await store.save_all(
        user_id=ALICE, task_id="task-1", recipes=[_recipe("Schnitzel"), _recipe("Mushroom sauce")]
    )
    assert (main.title, sauce.title) == ("Schnitzel", "Mushroom sauce")
    assert main.id != sauce.id
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT id, user_id, task_id, position FROM recipes ORDER BY position"
        ).fetchall()
    assert rows == [(main.id, ALICE, "task-1", 0), (sauce.id, ALICE, "task-1", 1)]

    # A retried job: the first rows come back, nothing is added.
    again = await store.save_all(
        user_id=ALICE, task_id="task-1", recipes=[_recipe("Other"), _recipe("More")]
    )
    assert again == [main, sauce]
    assert await store.save(user_id=ALICE, task_id="task-1", recipe=_recipe("X")) == main
    assert len(_rows(path)) == 2

    # Each row is a recipe of its user: listed (the post's order) and fetched by id.
    assert [r.title for r in await store.list(user_id=ALICE)] == ["Schnitzel", "Mushroom sauce"]
    assert await store.get(user_id=ALICE, recipe_id=sauce.id or "") == sauce
    await store.aclose()


async def test_recipes_of_a_post_are_their_users_only(tmp_path: Path) -> None:
    store = SqliteRecipeStore(tmp_path / "r.sqlite3")
    _, sauce = await store.save_all(
        user_id=ALICE, task_id="task-a", recipes=[_recipe("Schnitzel"), _recipe("Sauce")]
    )
    assert await store.list(user_id=BOB) == []
    assert await store.get(user_id=BOB, recipe_id=sauce.id or "") is None
    # Bob's job with Alice's task id (a bug upstream) is refused, not handed her rows.
    with pytest.raises(errors.StorageFailed) as caught:
        await store.save_all(user_id=BOB, task_id="task-a", recipes=[_recipe(), _recipe()])
    assert caught.value.retryable is False
    await store.aclose()


async def test_a_file_of_the_one_recipe_per_task_version_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    # The table as the first version created it, with a row in it.
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(
            """
            CREATE TABLE recipes (
                id TEXT PRIMARY KEY, user_id TEXT NOT NULL, task_id TEXT UNIQUE NOT NULL,
                title TEXT, language TEXT, servings INTEGER, source_url TEXT,
                data TEXT NOT NULL, created_at TEXT NOT NULL
            );
            CREATE INDEX recipes_user_created ON recipes (user_id, created_at);
            """
        )
        conn.execute(
            "INSERT INTO recipes VALUES ('r-1', ?, 'task-old', 'Old soup', 'en', 2, NULL, "
            '\'{"title": "Old soup", "id": "r-1"}\', \'2026-01-01T00:00:00.000Z\')',
            (ALICE,),
        )
        conn.commit()
    store = SqliteRecipeStore(path)
    [old] = await store.list(user_id=ALICE)
    assert (old.id, old.title) == ("r-1", "Old soup")
    # The same task may now hold more rows: the old UNIQUE (task_id) is gone.
    await store.save_all(user_id=ALICE, task_id="task-new", recipes=[_recipe("A"), _recipe("B")])
    assert {r.title for r in await store.list(user_id=ALICE)} == {"Old soup", "A", "B"}
    await store.aclose()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (2,)
        assert conn.execute("SELECT position FROM recipes WHERE id = 'r-1'").fetchone() == (0,)
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(recipes)")}
        assert "recipes_user_created" in indexes
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert "recipes_v0" not in tables and "drafts" in tables


# --- drafts (resimply/drafts.py): isolated per user like the recipes ------------------


def _draft(store: DraftStore, *, task_id: str = "task-d") -> Draft:
    draft_id, created, expires = store.stamp()
    return Draft(
        draft_id=draft_id,
        task_id=task_id,
        url="https://example.com/v.mp4",
        error="not_a_recipe",
        message="No recipe in this video.",
        language=None,
        created_at=created,
        expires_at=expires,
        source=Source(platform="direct", url="https://example.com/v.mp4"),
        caption="Golden hour",
        frames=[DraftFrame(timestamp=1.5, jpeg=b"\xff\xd8jpeg\x00bytes", width=64, height=36)],
    )


async def test_drafts_are_their_users_only(tmp_path: Path) -> None:
    recipes = SqliteRecipeStore(tmp_path / "r.sqlite3")
    store = DraftStore(recipes, ttl_s=3600)
    mine = _draft(store)
    await store.save(ALICE, mine)
    assert await store.get(ALICE, mine.draft_id) == mine  # frames' bytes and all
    assert [d.draft_id for d in await store.list(ALICE)] == [mine.draft_id]
    # Bob sees nothing, deletes nothing, and cannot overwrite it under its id.
    assert await store.get(BOB, mine.draft_id) is None
    assert await store.list(BOB) == []
    await store.delete(BOB, mine.draft_id)
    await store.save(BOB, msgspec.structs.replace(mine, caption="Bob's"))
    assert await store.get(ALICE, mine.draft_id) == mine
    assert await store.get(BOB, mine.draft_id) is None
    # Its owner deletes it.
    await store.delete(ALICE, mine.draft_id)
    assert await store.get(ALICE, mine.draft_id) is None and await store.list(ALICE) == []
    await recipes.aclose()


async def test_a_draft_saved_again_is_replaced_and_expired_ones_are_not_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.sqlite3"
    recipes = SqliteRecipeStore(path)
    store = DraftStore(recipes, ttl_s=3600)
    draft = _draft(store)
    await store.save(ALICE, draft)
    await store.save(ALICE, msgspec.structs.replace(draft, task_id="task-retry", error="timeout"))
    (again,) = await store.list(ALICE)
    assert (again.draft_id, again.task_id, again.error) == (draft.draft_id, "task-retry", "timeout")
    # A row whose expiry has passed is not read, though still in the file.
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("UPDATE drafts SET expires_at = 1 WHERE id = ?", (draft.draft_id,))
        conn.commit()
    assert await store.get(ALICE, draft.draft_id) is None and await store.list(ALICE) == []
    # The next save deletes it.
    await store.save(BOB, _draft(store))
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT count(*) FROM drafts").fetchone() == (1,)
    await recipes.aclose()


async def test_the_draft_cap_is_per_user(tmp_path: Path) -> None:
    recipes = SqliteRecipeStore(tmp_path / "r.sqlite3")
    store = DraftStore(recipes, ttl_s=3600)
    bobs = _draft(store)
    await store.save(BOB, bobs)
    for _ in range(MAX_DRAFTS_PER_USER + 1):
        await store.save(ALICE, _draft(store))
    assert len(await store.list(ALICE)) == MAX_DRAFTS_PER_USER
    assert [d.draft_id for d in await store.list(BOB)] == [bobs.draft_id]
    await recipes.aclose()
