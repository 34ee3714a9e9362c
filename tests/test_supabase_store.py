"""`SupabaseRecipeStore`: the real supabase-py client against the fake Supabase
(tests/fakes/supabase.py) on loopback."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest
from aiohttp import web
from postgrest.exceptions import APIError
from storage3.exceptions import StorageApiError
from supabase import AsyncClient, AsyncClientOptions, acreate_client

from resimply import errors
from resimply.drafts import MAX_DRAFTS_PER_USER, Draft, DraftFrame, DraftStore
from resimply.models import Ingredient, Recipe, Source, Step
from resimply.providers.supabase_store import SupabaseRecipeStore
from resimply.retry import RetryPolicy
from resimply.settings import Settings
from tests.fakes.server import start_fake
from tests.fakes.supabase import (
    ANON_KEY,
    BUCKET,
    SERVICE_KEY,
    SupabaseFakeState,
    make_supabase_app,
    user_token,
)

ALICE = "00000000-0000-4000-8000-00000000000a"
BOB = "00000000-0000-4000-8000-00000000000b"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00fake-jpeg\xff\xd9"
FAST = RetryPolicy(deadline_s=5.0, base_delay_s=0.01, max_delay_s=0.05)


class Fake:
    def __init__(self, state: SupabaseFakeState, base_url: str) -> None:
        self.state = state
        self.base_url = base_url

    def store(
        self,
        *,
        key: str = SERVICE_KEY,
        retry: RetryPolicy = FAST,
        http_timeout_s: float = 5.0,
        url: str | None = None,
    ) -> SupabaseRecipeStore:
        settings = Settings(
            store="supabase",
            supabase_url=url or self.base_url,
            supabase_key=key,
            http_timeout_s=http_timeout_s,
            upstream_deadline_s=retry.deadline_s,
        )
        return SupabaseRecipeStore(settings, retry=retry)


@pytest.fixture
async def fake() -> AsyncIterator[Fake]:
    state = SupabaseFakeState()
    runner, base_url = await start_fake(make_supabase_app(state))
    try:
        yield Fake(state, base_url)
    finally:
        await runner.cleanup()


@pytest.fixture
async def store(fake: Fake) -> AsyncIterator[SupabaseRecipeStore]:
    store = fake.store()
    yield store
    await store.aclose()


def _recipe(title: str = "Creamy Pasta Carbonara") -> Recipe:
    return Recipe(
        title=title,
        description="Silky, no cream.",
        language="en",
        servings=2,
        prep_minutes=10,
        cook_minutes=15,
        total_minutes=25,
        ingredients=[Ingredient(text="200 g spaghetti", name="spaghetti", quantity=200, unit="g")],
        steps=[Step(text="Boil the pasta.", minutes=10)],
        tags=["pasta"],
        source=Source(platform="tiktok", url="https://www.tiktok.com/@a/video/1", video_id="1"),
    )


def _task() -> str:
    return str(uuid.uuid4())


# --- save -----------------------------------------------------------------------------


async def test_save_writes_one_row_for_the_user_and_task(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    task = _task()
    saved = await store.save(user_id=ALICE, task_id=task, recipe=_recipe())

    assert saved.id is not None and uuid.UUID(saved.id).version == 4
    assert saved.created_at is not None and ISO_UTC.match(saved.created_at)
    assert saved == msgspec.structs.replace(_recipe(), id=saved.id, created_at=saved.created_at)
    [row] = fake.state.rows
    assert row["id"] == saved.id
    assert row["user_id"] == ALICE
    assert row["task_id"] == task
    assert row["title"] == "Creamy Pasta Carbonara"
    assert (row["language"], row["servings"]) == ("en", 2)
    assert (row["prep_minutes"], row["cook_minutes"], row["total_minutes"]) == (10, 15, 25)
    assert row["ingredients"] == [
        {
            "text": "200 g spaghetti",
            "name": "spaghetti",
            "quantity": 200,
            "quantity_max": None,
            "unit": "g",
            "note": None,
            "group": None,
        }
    ]
    assert row["steps"] == [{"text": "Boil the pasta.", "minutes": 10}]
    assert row["tags"] == ["pasta"]
    assert row["source_url"] == "https://www.tiktok.com/@a/video/1"
    assert row["source"]["platform"] == "tiktok"
    assert row["thumbnail_path"] is None
    assert row["data"]["title"] == "Creamy Pasta Carbonara"
    assert row["data"]["description"] == "Silky, no cream."
    assert row["data"]["id"] == saved.id

    [post] = fake.state.requests
    assert (post.method, post.path) == ("POST", "/rest/v1/recipes")
    assert post.query["on_conflict"] == "task_id,position"
    assert row["position"] == 0
    prefer = post.headers["prefer"].split(",")
    assert "return=representation" in prefer
    assert "resolution=ignore-duplicates" in prefer
    assert post.headers["apikey"] == SERVICE_KEY
    assert post.bearer == SERVICE_KEY
    assert post.status == 201


async def test_a_second_save_for_the_task_returns_the_first_row(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    task = _task()
    first = await store.save(user_id=ALICE, task_id=task, recipe=_recipe())
    # A retried job (e.g. its first attempt died after the row was written).
    again = await store.save(user_id=ALICE, task_id=task, recipe=_recipe("Other title"))

    assert again == first
    assert again.title == "Creamy Pasta Carbonara"
    assert len(fake.state.rows) == 1
    methods = [(r.method, r.status) for r in fake.state.requests]
    assert methods == [("POST", 201), ("POST", 201), ("GET", 200)]
    lookup = fake.state.requests[-1]
    assert lookup.query["task_id"] == f"eq.{task}"
    assert lookup.bearer == SERVICE_KEY


async def test_save_all_writes_one_row_per_recipe_linked_to_the_task(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    task = _task()
    main, sauce = await store.save_all(
        user_id=ALICE,
        task_id=task,
        recipes=[_recipe("Schnitzel"), _recipe("Mushroom sauce")],
        thumbnail=JPEG,
    )

    assert (main.title, sauce.title) == ("Schnitzel", "Mushroom sauce")
    assert main.id != sauce.id
    rows = sorted(fake.state.rows, key=lambda r: r["position"])
    assert [(r["task_id"], r["position"], r["user_id"]) for r in rows] == [
        (task, 0, ALICE),
        (task, 1, ALICE),
    ]
    assert [r["id"] for r in rows] == [main.id, sauce.id]
    # The post's one picture, shared by its recipes.
    assert {r["thumbnail_path"] for r in rows} == {f"{ALICE}/{task}.jpg"}
    inserts = [r for r in fake.state.requests if r.path == "/rest/v1/recipes"]
    assert len(inserts) == 1  # one request: the task gets all its rows or none

    # A retried job gets the first rows back, in order, and adds none.
    again = await store.save_all(
        user_id=ALICE, task_id=task, recipes=[_recipe("Other"), _recipe("Another")]
    )
    assert again == [main, sauce]
    assert len(fake.state.rows) == 2

    # Each is the user's own recipe, listed and fetched like any other; Bob sees none.
    listed = await store.list(user_id=ALICE, access_token=user_token(ALICE))
    assert sorted(r.title for r in listed) == ["Mushroom sauce", "Schnitzel"]
    got = await store.get(user_id=ALICE, recipe_id=sauce.id or "", access_token=user_token(ALICE))
    assert got == sauce
    assert await store.list(user_id=BOB, access_token=user_token(BOB)) == []
    assert (
        await store.get(user_id=BOB, recipe_id=sauce.id or "", access_token=user_token(BOB)) is None
    )


async def test_a_table_without_the_position_column_asks_for_the_migration(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    # The service is newer than the table: the migration adding `position` (and
    # its unique key) was not applied.
    fake.state.fail(
        400,
        route="rest",
        body={
            "code": "PGRST204",
            "message": "Could not find the 'position' column of 'recipes' in the schema cache",
        },
    )
    with pytest.raises(errors.StorageFailed) as caught:
        await store.save(user_id=ALICE, task_id=_task(), recipe=_recipe())
    assert caught.value.retryable is False
    assert "apply deploy/supabase/migrations" in caught.value.message


async def test_a_task_row_of_another_user_is_not_handed_out(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    task = _task()
    await store.save(user_id=ALICE, task_id=task, recipe=_recipe())
    with pytest.raises(errors.StorageFailed) as caught:
        await store.save(user_id=BOB, task_id=task, recipe=_recipe("Bob's"))
    assert caught.value.retryable is False
    assert caught.value.message == "This task's recipe belongs to another user."
    assert [(r["user_id"], r["title"]) for r in fake.state.rows] == [
        (ALICE, "Creamy Pasta Carbonara")
    ]


async def test_ids_that_are_not_uuids_are_refused_without_a_request(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    with pytest.raises(errors.StorageFailed) as caught:
        await store.save(user_id="dev-user", task_id=_task(), recipe=_recipe())
    assert caught.value.retryable is False
    assert await store.get(user_id=ALICE, recipe_id="not-a-uuid") is None
    assert await store.list(user_id="dev-user") == []
    assert fake.state.requests == []


async def test_an_unknown_user_is_a_clear_permanent_failure(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    fake.state.users = {ALICE}  # auth.users: Bob has no account
    with pytest.raises(errors.StorageFailed) as caught:
        await store.save(user_id=BOB, task_id=_task(), recipe=_recipe())
    assert caught.value.retryable is False
    assert caught.value.message == (
        "This user does not exist in Supabase Auth, so the recipe cannot be stored."
    )
    assert len(fake.state.requests) == 1


# --- reads as the user ----------------------------------------------------------------


async def test_reads_with_a_token_act_as_the_user(fake: Fake, store: SupabaseRecipeStore) -> None:
    soup = await store.save(user_id=ALICE, task_id=_task(), recipe=_recipe("Soup"))
    salad = await store.save(user_id=ALICE, task_id=_task(), recipe=_recipe("Salad"))
    stew = await store.save(user_id=BOB, task_id=_task(), recipe=_recipe("Stew"))
    alice, bob = user_token(ALICE), user_token(BOB)
    fake.state.requests.clear()

    listed = await store.list(user_id=ALICE, access_token=alice)
    assert [r.title for r in listed] == ["Salad", "Soup"]  # newest first
    assert listed == [salad, soup]
    [request] = fake.state.requests
    assert request.method == "GET"
    assert request.bearer == alice  # the user's token, not the service key
    assert request.headers["apikey"] == SERVICE_KEY
    assert request.query == {
        "select": "*",
        "user_id": f"eq.{ALICE}",
        "order": "created_at.desc,position.asc,id.desc",
        "limit": "50",
        "offset": "0",
    }

    assert await store.get(user_id=ALICE, recipe_id=str(soup.id), access_token=alice) == soup
    assert await store.get(user_id=ALICE, recipe_id=str(stew.id), access_token=alice) is None
    # The token decides: even asking with Bob's id, Alice's token sees nothing of Bob.
    assert await store.get(user_id=BOB, recipe_id=str(stew.id), access_token=alice) is None
    assert await store.list(user_id=BOB, access_token=alice) == []
    assert await store.get(user_id=BOB, recipe_id=str(stew.id), access_token=bob) == stew
    get_request = fake.state.requests[1]
    assert get_request.query["id"] == f"eq.{soup.id}"
    assert get_request.query["user_id"] == f"eq.{ALICE}"
    assert get_request.query["limit"] == "1"


async def test_reads_without_a_token_use_the_service_key_and_filter_by_user(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    mine = [
        await store.save(user_id=ALICE, task_id=_task(), recipe=_recipe(f"R{i}")) for i in range(3)
    ]
    await store.save(user_id=BOB, task_id=_task(), recipe=_recipe("Bob's"))
    fake.state.requests.clear()

    page = await store.list(user_id=ALICE, limit=1, offset=1)
    assert page == [mine[1]]
    assert await store.list(user_id=ALICE, limit=0) == []
    assert [r.title for r in await store.list(user_id=BOB)] == ["Bob's"]
    assert await store.get(user_id=BOB, recipe_id=str(mine[0].id)) is None
    assert {r.bearer for r in fake.state.requests} == {SERVICE_KEY}
    assert fake.state.requests[0].query["limit"] == "1"
    assert fake.state.requests[0].query["offset"] == "1"


async def test_concurrent_reads_of_two_users_never_mix_tokens(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    for i in range(2):
        await store.save(user_id=ALICE, task_id=_task(), recipe=_recipe(f"Alice {i}"))
        await store.save(user_id=BOB, task_id=_task(), recipe=_recipe(f"Bob {i}"))
    tokens = {ALICE: user_token(ALICE), BOB: user_token(BOB)}
    fake.state.requests.clear()

    users = [ALICE, BOB] * 10
    results = await asyncio.gather(
        *(store.list(user_id=user, access_token=tokens[user]) for user in users)
    )
    for user, recipes in zip(users, results, strict=True):
        prefix = "Alice" if user == ALICE else "Bob"
        assert [r.title for r in recipes] == [f"{prefix} 1", f"{prefix} 0"]
    assert len(fake.state.requests) == 20
    for request in fake.state.requests:
        assert request.bearer == tokens[request.query["user_id"].removeprefix("eq.")]
    # The shared client still writes with the service key afterwards.
    await store.save(user_id=ALICE, task_id=_task(), recipe=_recipe())
    assert fake.state.requests[-1].bearer == SERVICE_KEY


async def test_an_expired_user_token_asks_to_sign_in_again(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    with pytest.raises(errors.StorageFailed) as caught:
        await store.list(user_id=ALICE, access_token=user_token(ALICE, expires_in=-60))
    assert caught.value.retryable is False
    assert caught.value.message == (
        "Supabase did not accept your access token (HTTP 401); sign in again."
    )
    assert [r.status for r in fake.state.requests] == [401]


# --- thumbnails -----------------------------------------------------------------------


async def test_thumbnail_upload_is_a_jpeg_at_user_and_task_and_may_repeat(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    task = _task()
    path = await store.save_thumbnail(user_id=ALICE, task_id=task, jpeg=JPEG)
    assert path == f"{ALICE}/{task}.jpg"
    stored = fake.state.objects[(BUCKET, path)]
    assert (stored.data, stored.content_type, stored.cache_control) == (JPEG, "image/jpeg", "3600")
    [upload] = fake.state.requests
    assert (upload.method, upload.path) == ("POST", f"/storage/v1/object/{BUCKET}/{path}")
    assert upload.headers["x-upsert"] == "true"
    assert upload.bearer == SERVICE_KEY
    assert upload.upload is not None
    assert upload.upload.content_type == "image/jpeg"
    assert upload.upload.filename == f"{task}.jpg"

    # A retried job uploads again: replaced, not a 409.
    again = await store.save_thumbnail(user_id=ALICE, task_id=task, jpeg=JPEG + b"v2")
    assert again == path
    assert fake.state.objects[(BUCKET, path)].data == JPEG + b"v2"
    assert fake.state.objects[(BUCKET, path)].updated == 1
    assert [r.status for r in fake.state.requests] == [200, 200]


async def test_save_with_a_thumbnail_stores_its_path(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    task = _task()
    saved = await store.save(user_id=ALICE, task_id=task, recipe=_recipe(), thumbnail=JPEG)
    [row] = fake.state.rows
    assert row["thumbnail_path"] == f"{ALICE}/{task}.jpg"
    assert row["id"] == saved.id
    assert fake.state.objects[(BUCKET, f"{ALICE}/{task}.jpg")].data == JPEG


async def test_a_missing_bucket_is_reported_and_does_not_block_the_recipe(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    fake.state.buckets.clear()
    task = _task()
    with pytest.raises(errors.StorageFailed) as caught:
        await store.save_thumbnail(user_id=ALICE, task_id=task, jpeg=JPEG)
    assert caught.value.retryable is False
    assert caught.value.message == (
        "Supabase has no `recipes` table or `recipe-thumbnails` storage bucket "
        "(HTTP 404, code Bucket not found); apply deploy/supabase/migrations "
        "and check SUPABASE_BUCKET."
    )
    saved = await store.save(user_id=ALICE, task_id=task, recipe=_recipe(), thumbnail=JPEG)
    [row] = fake.state.rows
    assert row["id"] == saved.id
    assert row["thumbnail_path"] is None


# --- failures -------------------------------------------------------------------------


async def test_server_errors_are_retried_until_success(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    fake.state.fail(500, times=1, route="rest")
    fake.state.fail(502, times=1, route="rest")
    saved = await store.save(user_id=ALICE, task_id=_task(), recipe=_recipe())
    assert [r.status for r in fake.state.requests] == [500, 502, 201]
    assert [row["id"] for row in fake.state.rows] == [saved.id]

    fake.state.requests.clear()
    fake.state.fail(503, times=2, route="storage")
    path = await store.save_thumbnail(user_id=ALICE, task_id=_task(), jpeg=JPEG)
    assert [r.status for r in fake.state.requests] == [503, 503, 200]
    assert fake.state.objects[(BUCKET, path)].content_type == "image/jpeg"

    fake.state.requests.clear()
    fake.state.fail(429, times=1, route="rest", retry_after="0")
    assert await store.list(user_id=ALICE) == [saved]
    assert [r.status for r in fake.state.requests] == [429, 200]


async def test_a_service_down_until_the_deadline_is_a_retryable_failure(fake: Fake) -> None:
    store = fake.store(retry=RetryPolicy(deadline_s=0.6, base_delay_s=0.05, max_attempts=50))
    fake.state.fail(503, times=None)
    started = time.monotonic()
    with pytest.raises(errors.StorageFailed) as caught:
        await store.save(user_id=ALICE, task_id=_task(), recipe=_recipe())
    elapsed = time.monotonic() - started
    assert caught.value.retryable is True
    assert caught.value.message == "Saving the recipe failed; please try again later."
    assert elapsed < 2.0
    assert len(fake.state.requests) >= 2
    assert {r.status for r in fake.state.requests} == {503}
    assert fake.state.rows == []

    with pytest.raises(errors.StorageFailed) as caught:
        await store.list(user_id=ALICE)
    assert caught.value.retryable is True
    assert caught.value.message == "Reading the recipes failed; please try again later."
    await store.aclose()


async def test_timeouts_and_refused_connections_are_retryable(fake: Fake) -> None:
    fake.state.latency_s = 1.0
    slow = fake.store(retry=RetryPolicy(deadline_s=0.8, base_delay_s=0.01), http_timeout_s=0.2)
    with pytest.raises(errors.StorageFailed) as caught:
        await slow.save(user_id=ALICE, task_id=_task(), recipe=_recipe())
    assert caught.value.retryable is True
    assert len(fake.state.requests) >= 2
    await slow.aclose()

    # Nothing listens on the port of a stopped server.
    app_runner, url = await start_fake(web.Application())
    await app_runner.cleanup()
    gone = fake.store(url=url, retry=RetryPolicy(deadline_s=0.5, base_delay_s=0.01))
    with pytest.raises(errors.StorageFailed) as caught:
        await gone.get(user_id=ALICE, recipe_id=str(uuid.uuid4()))
    assert caught.value.retryable is True
    assert caught.value.message == "Reading the recipes failed; please try again later."
    await gone.aclose()


async def test_a_wrong_key_is_a_permanent_failure_without_the_key(fake: Fake) -> None:
    wrong = "sb_secret_WRONG-key-do-not-log-0123456789"
    store = fake.store(key=wrong)
    with pytest.raises(errors.StorageFailed) as caught:
        await store.save(user_id=ALICE, task_id=_task(), recipe=_recipe())
    assert caught.value.retryable is False
    assert caught.value.message == (
        "Supabase refused the service's credentials (HTTP 401); "
        "check SUPABASE_KEY (the service-role key) and SUPABASE_URL."
    )
    assert wrong not in str(caught.value)
    assert "Invalid API key" not in str(caught.value)  # no upstream body
    assert len(fake.state.requests) == 1  # not retried
    await store.aclose()


async def test_forbidden_is_permanent_and_names_the_code_only(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    fake.state.fail(
        403,
        times=None,
        route="rest",
        body={
            "code": "42501",
            "details": None,
            "hint": None,
            "message": f"permission denied for table recipes ({SERVICE_KEY})",
        },
    )
    with pytest.raises(errors.StorageFailed) as caught:
        await store.save(user_id=ALICE, task_id=_task(), recipe=_recipe())
    assert caught.value.retryable is False
    assert caught.value.message == (
        "Supabase refused the service's credentials (HTTP 403, code 42501); "
        "check SUPABASE_KEY (the service-role key) and SUPABASE_URL."
    )
    assert SERVICE_KEY not in caught.value.message
    assert "permission denied" not in caught.value.message
    assert len(fake.state.requests) == 1


async def test_an_anon_key_cannot_read_the_table(fake: Fake) -> None:
    store = fake.store(key=ANON_KEY)
    with pytest.raises(errors.StorageFailed) as caught:
        await store.list(user_id=ALICE)
    assert caught.value.retryable is False
    assert "HTTP 401, code 42501" in caught.value.message
    await store.aclose()


async def test_an_answer_that_is_not_postgrest_is_a_permanent_failure(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    fake.state.fail(200, route="rest", body={"unexpected": True})
    with pytest.raises(errors.StorageFailed) as caught:
        await store.save(user_id=ALICE, task_id=_task(), recipe=_recipe())
    assert caught.value.retryable is False
    assert caught.value.message == "Supabase sent an answer the service did not understand."


async def test_upper_case_ids_are_the_same_user(fake: Fake, store: SupabaseRecipeStore) -> None:
    task = _task()
    first = await store.save(user_id=ALICE.upper(), task_id=task, recipe=_recipe())
    again = await store.save(user_id=ALICE, task_id=task.upper(), recipe=_recipe())
    assert again == first
    assert [(r["user_id"], r["task_id"]) for r in fake.state.rows] == [(ALICE, task)]


# --- the client -----------------------------------------------------------------------


async def test_the_client_is_created_once_and_recreated_after_aclose(fake: Fake) -> None:
    created: list[AsyncClientOptions] = []

    async def factory(url: str, key: str, options: AsyncClientOptions) -> AsyncClient:
        assert (url, key) == (fake.base_url, SERVICE_KEY)
        created.append(options)
        return await acreate_client(url, key, options)

    settings = Settings(store="supabase", supabase_url=fake.base_url, supabase_key=SERVICE_KEY)
    store = SupabaseRecipeStore(settings, client_factory=factory, retry=FAST)
    await asyncio.gather(*(store.list(user_id=ALICE) for _ in range(5)))
    await store.save(user_id=ALICE, task_id=_task(), recipe=_recipe())
    assert len(created) == 1
    assert created[0].postgrest_client_retry is False
    assert created[0].httpx_client is not None
    assert created[0].httpx_client.timeout.read == settings.http_timeout_s

    await store.aclose()
    assert created[0].httpx_client.is_closed
    assert [r.title for r in await store.list(user_id=ALICE)] == ["Creamy Pasta Carbonara"]
    assert len(created) == 2
    await store.aclose()


def test_the_store_needs_url_and_key() -> None:
    with pytest.raises(ValueError, match="SUPABASE_URL and SUPABASE_KEY"):
        SupabaseRecipeStore(Settings(supabase_url="http://127.0.0.1:1"))
    assert SupabaseRecipeStore.name == "supabase"


# --- the fake answers like Supabase (checked with plain supabase-py) -------------------


async def test_the_fake_speaks_postgrest_and_storage_errors(fake: Fake) -> None:
    async with httpx.AsyncClient() as http:
        await _speak(fake, http)


async def _speak(fake: Fake, http: httpx.AsyncClient) -> None:
    service = await acreate_client(
        fake.base_url, SERVICE_KEY, AsyncClientOptions(httpx_client=http)
    )
    task = _task()
    inserted = (
        await service.table("recipes")
        .insert({"task_id": task, "user_id": ALICE, "title": "A"})
        .execute()
    )
    assert inserted.data[0]["user_id"] == ALICE
    with pytest.raises(APIError) as dup:
        await (
            service.table("recipes")
            .insert({"task_id": task, "user_id": ALICE, "title": "B"})
            .execute()
        )
    assert (dup.value.code, dup.value.message) == (
        "23505",
        'duplicate key value violates unique constraint "recipes_task_id_position_key"',
    )
    with pytest.raises(APIError) as not_null:
        await service.table("recipes").insert({"task_id": _task(), "user_id": ALICE}).execute()
    assert not_null.value.code == "23502"
    with pytest.raises(APIError) as single:
        await service.table("recipes").select("*").eq("user_id", BOB).single().execute()
    assert single.value.code == "PGRST116"

    alice = await acreate_client(
        fake.base_url,
        SERVICE_KEY,
        AsyncClientOptions(
            headers={"Authorization": f"Bearer {user_token(ALICE)}"}, httpx_client=http
        ),
    )
    own = await alice.table("recipes").insert({"task_id": _task(), "title": "Mine"}).execute()
    assert own.data[0]["user_id"] == ALICE  # user_id defaults to the token's sub
    with pytest.raises(APIError) as rls:
        await (
            alice.table("recipes")
            .insert({"task_id": _task(), "user_id": BOB, "title": "X"})
            .execute()
        )
    assert rls.value.code == "42501"
    assert fake.state.requests[-1].status == 403
    assert {r["user_id"] for r in fake.state.rows} == {ALICE}

    bucket = service.storage.from_(BUCKET)
    await bucket.upload("a/b.jpg", JPEG, {"content-type": "image/jpeg"})
    with pytest.raises(StorageApiError) as duplicate:
        await bucket.upload("a/b.jpg", JPEG, {"content-type": "image/jpeg"})
    assert (duplicate.value.status, duplicate.value.code) == ("409", "Duplicate")
    assert duplicate.value.message == "The resource already exists"
    assert await bucket.download("a/b.jpg") == JPEG


# --- drafts (resimply/drafts.py; migrations/20261208000000_drafts.sql) ----------------


def _draft(drafts: DraftStore) -> Draft:
    draft_id, created, expires = drafts.stamp()
    return Draft(
        draft_id=draft_id,
        task_id=_task(),
        url="https://www.tiktok.com/@a/video/1",
        error="not_a_recipe",
        message="No recipe in this video.",
        language="en",
        created_at=created,
        expires_at=expires,
        source=Source(platform="tiktok", url="https://www.tiktok.com/@a/video/1", video_id="1"),
        caption="Golden hour",
        frames=[DraftFrame(timestamp=1.5, jpeg=JPEG, width=64, height=36)],
    )


async def test_drafts_are_their_users_only_through_their_tokens(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    drafts = DraftStore(store, ttl_s=3600)
    mine = _draft(drafts)
    await drafts.save(ALICE, mine)
    [row] = fake.state.tables["drafts"]
    assert (row["id"], row["user_id"], row["task_id"]) == (mine.draft_id, ALICE, mine.task_id)
    alice, bob = user_token(ALICE), user_token(BOB)
    # The owner, as herself (RLS) and as the worker reads it (service role): all of it.
    assert await drafts.get(ALICE, mine.draft_id, access_token=alice) == mine
    assert await drafts.get(ALICE, mine.draft_id) == mine
    assert await drafts.list(ALICE, access_token=alice) == [mine]
    # Bob: nothing, whether he names Alice's id or his own (a token's `sub` is what counts).
    assert await drafts.get(BOB, mine.draft_id, access_token=bob) is None
    assert await drafts.get(ALICE, mine.draft_id, access_token=bob) is None
    assert await drafts.list(ALICE, access_token=bob) == []
    await drafts.delete(ALICE, mine.draft_id, access_token=bob)
    await drafts.delete(BOB, mine.draft_id)
    assert len(fake.state.tables["drafts"]) == 1
    # The requests that read as a user carried that user's token, not the service key.
    reads = [r for r in fake.state.hits("rest") if r.path.endswith("/drafts") and r.sub == BOB]
    assert reads and all(r.role == "authenticated" for r in reads)
    await drafts.delete(ALICE, mine.draft_id, access_token=alice)
    assert fake.state.tables["drafts"] == []
    assert await drafts.get(ALICE, "not-a-uuid") is None


async def test_expired_drafts_are_not_read_and_go_with_the_next_save(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    drafts = DraftStore(store, ttl_s=3600)
    old = _draft(drafts)
    await drafts.save(ALICE, old)
    # A retry that failed again: the same row, replaced.
    await drafts.save(ALICE, msgspec.structs.replace(old, error="timeout"))
    assert [d.error for d in await drafts.list(ALICE)] == ["timeout"]
    assert len(fake.state.tables["drafts"]) == 1
    fake.state.tables["drafts"][0]["expires_at"] = "2020-01-01T00:00:00+00:00"
    assert await drafts.get(ALICE, old.draft_id) is None
    assert await drafts.get(ALICE, old.draft_id, access_token=user_token(ALICE)) is None
    assert await drafts.list(ALICE, access_token=user_token(ALICE)) == []
    new = _draft(drafts)
    await drafts.save(BOB, new)
    assert [r["id"] for r in fake.state.tables["drafts"]] == [new.draft_id]


async def test_a_user_keeps_at_most_the_newest_drafts_in_supabase(
    fake: Fake, store: SupabaseRecipeStore
) -> None:
    drafts = DraftStore(store, ttl_s=3600)
    bobs = _draft(drafts)
    await drafts.save(BOB, bobs)
    ids = []
    for _ in range(MAX_DRAFTS_PER_USER + 2):
        draft = _draft(drafts)
        ids.append(draft.draft_id)
        await drafts.save(ALICE, draft)
    assert [d.draft_id for d in await drafts.list(ALICE)] == ids[::-1][:MAX_DRAFTS_PER_USER]
    assert [d.draft_id for d in await drafts.list(BOB)] == [bobs.draft_id]
    assert len(fake.state.tables["drafts"]) == MAX_DRAFTS_PER_USER + 1


async def test_a_draft_is_refused_when_its_ids_are_not_uuids(store: SupabaseRecipeStore) -> None:
    drafts = DraftStore(store, ttl_s=3600)
    with pytest.raises(errors.StorageFailed) as info:
        await drafts.save("u-1", _draft(drafts))
    assert not info.value.retryable
