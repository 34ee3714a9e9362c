"""End to end with the production providers — Apify, OpenAI, Supabase — pointed at
fake servers that speak their wire protocols: `resimply serve` and `arq` as real
processes, the real client libraries inside them."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jose import jwt

from tests.client import auth, sse_messages, submit, ws_messages
from tests.fakes import apify as fake_apify
from tests.fakes import openai as fake_openai
from tests.fakes.stack import DEMO_URL, DEMO_VIDEO_ID, JWT_SECRET, FakeStack, FakesThread, demo_post
from tests.servers import Service

STAGES = ["init", "scrape", "media", "extract", "store"]


@pytest.fixture(scope="module")
def fakes() -> Iterator[FakeStack]:
    with FakesThread() as stack:
        yield stack


@pytest.fixture(scope="module")
def prod(
    redis_url: str, fakes: FakeStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    svc = Service(
        redis_url,
        tmp_path_factory.mktemp("prod"),
        **fakes.env(),
        RESIMPLY_DEV="0",
        RESIMPLY_UPSTREAM_DEADLINE_S="3",
        # These tests script the fakes' answers for the same video again and
        # again: every task must really run (the cache has its own tests below).
        RESIMPLY_CACHE_TTL_S="0",
    )
    with svc.running():
        yield svc


def token_for(fakes: FakeStack, user_id: str) -> str:
    now = int(time.time())
    claims = {
        "sub": user_id,
        "aud": "authenticated",
        "role": "authenticated",
        "iss": f"{fakes.urls['supabase']}/auth/v1",
        "iat": now,
        "exp": now + 600,
    }
    return str(jwt.encode(claims, JWT_SECRET, algorithm="HS256"))


def new_user(fakes: FakeStack) -> tuple[str, str]:
    user_id = str(uuid.uuid4())
    return user_id, token_for(fakes, user_id)


def run(svc: Service, token: str, url: str = DEMO_URL) -> tuple[str, list[dict[str, Any]]]:
    response = submit(svc, token, {"url": url})
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]
    status, messages = sse_messages(svc, token, task_id)
    assert status == 200
    return task_id, messages


def assert_good_task(svc: Service, fakes: FakeStack) -> None:
    """After any failure, the next task still goes through."""
    _, token = new_user(fakes)
    _, messages = run(svc, token)
    assert messages[-1]["type"] == "completion", messages[-1]


async def test_a_tiktok_link_goes_through_all_five_steps_into_supabase(
    prod: Service, fakes: FakeStack
) -> None:
    user_id, token = new_user(fakes)
    response = submit(prod, token, {"url": DEMO_URL + "?is_from_webapp=1"})
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]
    (ws_code, ws_msgs), (_, sse_msgs) = await asyncio.gather(
        ws_messages(prod, token, task_id), asyncio.to_thread(sse_messages, prod, token, task_id)
    )
    assert ws_code == 1000 and ws_msgs == sse_msgs
    progress = [m for m in ws_msgs if m["type"] == "progress"]
    assert [s for s in STAGES if any(m["stage"] == s for m in progress)] == STAGES
    done = ws_msgs[-1]
    assert done["type"] == "completion", done
    recipe = done["recipe"]
    assert (
        recipe["source"]["platform"] == "tiktok" and recipe["source"]["video_id"] == DEMO_VIDEO_ID
    )
    assert recipe["source"]["author"] == "chefanna"

    # Supabase: one row with the token's user and the task id; the thumbnail as a JPEG.
    rows = [r for r in fakes.supabase.rows if r["task_id"] == task_id]
    assert len(rows) == 1 and rows[0]["user_id"] == user_id and rows[0]["id"] == recipe["id"]
    uploads = [
        o for (bucket, path), o in fakes.supabase.objects.items() if path.startswith(user_id)
    ]
    assert uploads and all(o.content_type == "image/jpeg" for o in uploads)

    # Apify: the actor input the current schema wants.
    run_input = fakes.apify.runs[-1].input
    assert run_input["postURLs"] == [DEMO_URL + "?is_from_webapp=1"]
    assert run_input["shouldDownloadVideos"] is True and run_input["scrapeRelatedVideos"] is False
    assert run_input["downloadSubtitlesOptions"] == "DOWNLOAD_SUBTITLES"
    assert run_input["proxyConfiguration"]["apifyProxyGroups"] == ["RESIDENTIAL"]
    assert fakes.apify.hits("items") and fakes.apify.hits("record")

    # OpenAI: the caption holds the whole recipe, so one low-detail frame (the
    # dish) goes with it; the strict schema; the text.
    request = fakes.openai.chat_requests[-1]
    assert len(request.image_parts) == 1 and request.image_parts[0]["detail"] == "low"
    assert all(p["url"].startswith("data:image/jpeg;base64,") for p in request.image_parts)
    assert request.body["response_format"]["json_schema"]["strict"] is True
    assert any("spaghetti" in t.lower() for t in request.text_parts)

    # Reads on the user's behalf, and the task's usage.
    listed = httpx.get(f"{prod.base_url}/recipes", headers=auth(token)).json()["recipes"]
    assert [r["id"] for r in listed] == [recipe["id"]]
    task = httpx.get(f"{prod.base_url}/task/{task_id}", headers=auth(token)).json()
    usage = task["result"]["usage"]
    assert usage["requests"] == 1 and usage["prompt_tokens"] > 0
    assert task["result"]["evidence"] == ["caption", "subtitles", "frames"]
    # Cost: gpt-4o-mini bills a low-detail image 2833 tokens; Apify's run cost
    # (`usageTotalUsd`); the price from the default table.
    assert (usage["images"], usage["image_detail"], usage["image_tokens"]) == (1, "low", 2833)
    assert usage["actor_usd"] == 0.01 and usage["cache_hit"] is False
    expected = (
        (usage["prompt_tokens"] - usage["cached_tokens"]) * 0.15
        + usage["cached_tokens"] * 0.075
        + usage["completion_tokens"] * 0.60
    ) / 1e6
    assert usage["model_usd"] == pytest.approx(expected)
    assert usage["total_usd"] == pytest.approx(expected + 0.01)
    assert _cost_lines(prod, task_id) and _cost_lines(prod, task_id)[0]["status"] == "SUCCESS"
    # The log's cost line carries the same counts (not redacted for their names).
    line = _cost_lines(prod, task_id)[0]
    counts = ("prompt_tokens", "completion_tokens", "image_tokens")
    assert [line[k] for k in counts] == [usage[k] for k in counts]
    _, other = new_user(fakes)
    assert (
        httpx.get(f"{prod.base_url}/recipes/{recipe['id']}", headers=auth(other)).status_code == 404
    )


def _cost_lines(svc: Service, task_id: str) -> list[dict[str, Any]]:
    """The `task_cost` log lines the worker wrote for `task_id` (JSON logs)."""
    lines = []
    for line in svc.logs().splitlines():
        if '"task_cost"' in line and task_id in line:
            lines.append(json.loads(line))
    return lines


def test_a_video_with_a_main_and_its_sauce_is_two_supabase_rows(
    prod: Service, fakes: FakeStack
) -> None:
    step = [{"text": "Cook it.", "minutes": 5}]
    fakes.openai.answer_recipe(
        fake_openai.full_recipe(
            title="Schnitzel",
            language="en",
            servings=2,
            ingredients=[fake_openai.ingredient(text="2 cutlets", name="cutlets", quantity=2)],
            steps=step,
            more_recipes=[
                fake_openai.more_recipe(
                    title="Mushroom sauce",
                    ingredients=[
                        fake_openai.ingredient(
                            text="250 g mushrooms", name="mushrooms", quantity=250, unit="g"
                        )
                    ],
                    steps=step,
                )
            ],
        )
    )
    user_id, token = new_user(fakes)
    task_id, messages = run(prod, token)
    done = messages[-1]
    assert done["type"] == "completion", done
    assert [r["title"] for r in done["recipes"]] == ["Schnitzel", "Mushroom sauce"]
    assert done["recipe"] == done["recipes"][0] and done["recipe_id"] == done["recipe_ids"][0]
    # Two rows of the task and the user, at positions 0 and 1, sharing the picture.
    rows = sorted(
        (r for r in fakes.supabase.rows if r["task_id"] == task_id), key=lambda r: r["position"]
    )
    assert [(r["id"], r["position"], r["user_id"]) for r in rows] == [
        (done["recipe_ids"][0], 0, user_id),
        (done["recipe_ids"][1], 1, user_id),
    ]
    assert rows[0]["thumbnail_path"] == rows[1]["thumbnail_path"] is not None
    sauce = httpx.get(f"{prod.base_url}/recipes/{done['recipe_ids'][1]}", headers=auth(token))
    assert sauce.status_code == 200 and sauce.json()["title"] == "Mushroom sauce"
    _, other = new_user(fakes)
    hidden = httpx.get(f"{prod.base_url}/recipes/{done['recipe_ids'][1]}", headers=auth(other))
    assert hidden.status_code == 404


def test_a_short_link_is_accepted(prod: Service, fakes: FakeStack) -> None:
    fakes.apify.short_links["https://vm.tiktok.com/ZMdemo123/"] = DEMO_VIDEO_ID
    _, token = new_user(fakes)
    _, messages = run(prod, token, "https://vm.tiktok.com/ZMdemo123/")
    assert messages[-1]["type"] == "completion", messages[-1]


def _failure(prod: Service, fakes: FakeStack, url: str = DEMO_URL) -> dict[str, Any]:
    _, token = new_user(fakes)
    _, messages = run(prod, token, url)
    final = messages[-1]
    assert final["type"] == "error" and final["status"] == "FAILURE", final
    return final


def test_an_actor_run_that_fails_ends_with_scrape_failed(prod: Service, fakes: FakeStack) -> None:
    fakes.apify.run_status = "FAILED"
    try:
        final = _failure(prod, fakes)
    finally:
        fakes.apify.run_status = "SUCCEEDED"
    assert (final["error"], final["retryable"]) == ("scrape_failed", True)
    assert_good_task(prod, fakes)


def test_a_deleted_post_ends_with_video_not_found(prod: Service, fakes: FakeStack) -> None:
    final = _failure(prod, fakes, "https://www.tiktok.com/@gone/video/7000000000000000001")
    assert (final["error"], final["retryable"]) == ("video_not_found", False)
    assert_good_task(prod, fakes)


def test_a_video_download_refused_with_403_ends_with_video_not_found(
    prod: Service, fakes: FakeStack
) -> None:
    fakes.apify.failures.append(fake_apify.Failure(route="record", status=403, times=1))
    final = _failure(prod, fakes)
    assert final["error"] == "video_not_found"
    assert_good_task(prod, fakes)


def test_a_video_over_the_size_cap_mid_stream_ends_with_video_too_large(
    prod: Service, fakes: FakeStack
) -> None:
    fakes.apify.video_stream = "endless"
    try:
        final = _failure(prod, fakes)
    finally:
        fakes.apify.video_stream = "normal"
    assert final["error"] == "video_too_large"
    assert_good_task(prod, fakes)


def test_openai_429_then_success(prod: Service, fakes: FakeStack) -> None:
    fakes.openai.fail(fake_openai.rate_limited(retry_after_ms=50), times=2)
    _, token = new_user(fakes)
    _, messages = run(prod, token)
    assert messages[-1]["type"] == "completion", messages[-1]


def test_openai_500_until_the_deadline_ends_retryable(prod: Service, fakes: FakeStack) -> None:
    fakes.openai.fail(fake_openai.server_error(500), times=None)
    try:
        started = time.monotonic()
        final = _failure(prod, fakes)
        assert time.monotonic() - started < 30
    finally:
        fakes.openai.chat_script.clear()
    assert (final["error"], final["retryable"]) == ("extraction_failed", True)
    assert_good_task(prod, fakes)


def test_a_refusal_ends_with_not_a_recipe(prod: Service, fakes: FakeStack) -> None:
    fakes.openai.answer_refusal()
    final = _failure(prod, fakes)
    assert (final["error"], final["retryable"]) == ("not_a_recipe", False)
    assert_good_task(prod, fakes)


def test_a_refused_import_is_a_supabase_draft_its_owner_alone_reads_and_saves(
    prod: Service, fakes: FakeStack
) -> None:
    """The draft of a failed import is a row of Supabase's `drafts` table, read
    back through the user's token (RLS), saved as a recipe, then gone."""
    fakes.openai.answer_refusal()
    user_id, token = new_user(fakes)
    _, messages = run(prod, token)
    final = messages[-1]
    assert final["error"] == "not_a_recipe" and final.get("draft_id"), final
    draft_id = final["draft_id"]
    [row] = [r for r in fakes.supabase.tables["drafts"] if r["id"] == draft_id]
    assert row["user_id"] == user_id

    def get(path: str, who: str) -> httpx.Response:
        return httpx.get(f"{prod.base_url}{path}", headers=auth(who), timeout=10)

    listing = get("/drafts", token).json()["drafts"]
    assert [d["draft_id"] for d in listing] == [draft_id]
    assert get(f"/drafts/{draft_id}", token).json()["error"] == "not_a_recipe"
    _, other = new_user(fakes)
    assert get(f"/drafts/{draft_id}", other).status_code == 404
    assert get("/drafts", other).json()["drafts"] == []
    # The web tier's reads went to Supabase as the user, not with the service key
    # (the worker's save looks up the user's drafts over the cap: `select=id`).
    reads = [
        r
        for r in fakes.supabase.hits("rest", "GET")
        if r.path.endswith("/drafts") and r.query.get("select") == "data"
    ]
    assert reads and {r.role for r in reads} == {"authenticated"}

    fixed = {"title": "Flatbread", "ingredients": [{"text": "200 g flour"}]}
    saved = httpx.post(
        f"{prod.base_url}/drafts/{draft_id}/recipe", json=fixed, headers=auth(token), timeout=10
    )
    assert saved.status_code == 201, saved.text
    assert [r for r in fakes.supabase.rows if r["id"] == saved.json()["id"]]
    assert not [r for r in fakes.supabase.tables["drafts"] if r["id"] == draft_id]
    assert get(f"/drafts/{draft_id}", token).status_code == 404


def test_invalid_json_twice_ends_with_extraction_failed(prod: Service, fakes: FakeStack) -> None:
    fakes.openai.answer_invalid_json(times=2)
    final = _failure(prod, fakes)
    assert final["error"] == "extraction_failed"
    assert_good_task(prod, fakes)


def test_supabase_5xx_ends_with_storage_failed_retryable(prod: Service, fakes: FakeStack) -> None:
    failure = fakes.supabase.fail(503, times=None, route="rest")
    try:
        final = _failure(prod, fakes)
    finally:
        fakes.supabase.failures.remove(failure)
    assert (final["error"], final["retryable"]) == ("storage_failed", True)
    assert_good_task(prod, fakes)


def test_es256_tokens_are_refused_when_the_jwks_cannot_be_fetched(
    prod: Service, fakes: FakeStack, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    now = int(time.time())
    token = jwt.encode(
        {
            "sub": str(uuid.uuid4()),
            "aud": "authenticated",
            "iss": f"{fakes.urls['supabase']}/auth/v1",
            "iat": now,
            "exp": now + 600,
        },
        pem.decode(),
        algorithm="ES256",
        headers={"kid": "unknown-key"},
    )
    response = submit(prod, token, {"url": DEMO_URL})
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"
    assert_good_task(prod, fakes)


# --- caption first, the extraction cache and cost, with the cache on ----------------------

OTHER_VIDEO_ID = "7524354452762037999"
OTHER_URL = f"https://www.tiktok.com/@chefanna/video/{OTHER_VIDEO_ID}"


@pytest.fixture(scope="module")
def cached(
    redis_url: str, fakes: FakeStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """A second service on the same fakes, with the extraction cache on (its own key prefix)."""
    post = demo_post()
    post.item = fake_apify.make_item(OTHER_VIDEO_ID, author="chefanna", text=post.item["text"])
    fakes.apify.add_post(post)
    svc = Service(
        redis_url,
        tmp_path_factory.mktemp("cached"),
        **fakes.env(),
        RESIMPLY_DEV="0",
        RESIMPLY_UPSTREAM_DEADLINE_S="3",
        RESIMPLY_CACHE_TTL_S="600",
    )
    with svc.running():
        yield svc


def _result(svc: Service, token: str, task_id: str) -> dict[str, Any]:
    task = httpx.get(f"{svc.base_url}/task/{task_id}", headers=auth(token)).json()
    result: dict[str, Any] = task["result"]
    return result


def test_a_second_user_gets_the_cached_recipe_without_a_model_call(
    cached: Service, fakes: FakeStack
) -> None:
    first_user, first_token = new_user(fakes)
    first_task, messages = run(cached, first_token)
    assert messages[-1]["type"] == "completion", messages[-1]
    first = messages[-1]["recipe"]
    chats, runs = len(fakes.openai.chat_requests), len(fakes.apify.runs)

    second_user, second_token = new_user(fakes)
    started = time.monotonic()
    second_task, messages = run(cached, second_token)
    elapsed = time.monotonic() - started
    assert messages[-1]["type"] == "completion", messages[-1]
    assert elapsed < 1.0, elapsed
    # No model call, and not even a scraper run: the link names the video.
    assert (len(fakes.openai.chat_requests), len(fakes.apify.runs)) == (chats, runs)
    # Clients still see steps 1–5, the skipped ones "From cache".
    progress = [m for m in messages if m["type"] == "progress"]
    assert [s for s in STAGES if any(m["stage"] == s for m in progress)] == STAGES
    skipped = {m["stage"] for m in progress if m.get("details") == "From cache"}
    assert skipped == {"scrape", "media", "extract"}
    # The second user's own row (own recipe id), with the same recipe and a thumbnail.
    second = messages[-1]["recipe"]
    assert second["id"] != first["id"] and second["title"] == first["title"]
    assert second["ingredients"] == first["ingredients"]
    rows = [r for r in fakes.supabase.rows if r["task_id"] == second_task]
    assert len(rows) == 1 and rows[0]["user_id"] == second_user
    assert any(path.startswith(second_user) for _, path in fakes.supabase.objects)
    listed = httpx.get(f"{cached.base_url}/recipes", headers=auth(second_token)).json()
    assert [r["id"] for r in listed["recipes"]] == [second["id"]]
    # The result says where it came from and what it cost (nothing).
    result = _result(cached, second_token, second_task)
    assert result["usage"]["cache_hit"] is True and result["usage"]["requests"] == 0
    assert result["usage"]["total_usd"] == 0.0
    assert result["evidence"] == _result(cached, first_token, first_task)["evidence"]
    assert [line["cache_hit"] for line in _cost_lines(cached, second_task)] == [True]
    del first_user


def test_a_short_link_finds_the_cache_after_the_scrape(cached: Service, fakes: FakeStack) -> None:
    fakes.apify.short_links["https://vm.tiktok.com/ZMcache42/"] = DEMO_VIDEO_ID
    _, token = new_user(fakes)
    run(cached, token)  # fills the cache if an earlier test did not
    chats, runs = len(fakes.openai.chat_requests), len(fakes.apify.runs)
    _, token = new_user(fakes)
    task_id, messages = run(cached, token, "https://vm.tiktok.com/ZMcache42/")
    assert messages[-1]["type"] == "completion", messages[-1]
    # The short link needs the scraper to learn the video id; the model is not asked.
    assert (len(fakes.openai.chat_requests), len(fakes.apify.runs)) == (chats, runs + 1)
    skipped = {m["stage"] for m in messages if m.get("details") == "From cache"}
    assert skipped == {"media", "extract"}
    usage = _result(cached, token, task_id)["usage"]
    assert usage["cache_hit"] is True and usage["actor_usd"] == 0.01


def test_a_failed_extraction_is_not_cached(cached: Service, fakes: FakeStack) -> None:
    fakes.openai.answer_refusal()
    _, token = new_user(fakes)
    _, messages = run(cached, token, OTHER_URL)
    assert messages[-1]["type"] == "error" and messages[-1]["error"] == "not_a_recipe"
    chats = len(fakes.openai.chat_requests)
    _, token = new_user(fakes)
    _, messages = run(cached, token, OTHER_URL)
    assert messages[-1]["type"] == "completion", messages[-1]
    assert len(fakes.openai.chat_requests) == chats + 1  # read afresh


def test_another_language_is_another_cache_entry(cached: Service, fakes: FakeStack) -> None:
    _, token = new_user(fakes)
    run(cached, token)
    chats = len(fakes.openai.chat_requests)
    _, token = new_user(fakes)
    response = submit(cached, token, {"url": DEMO_URL, "language": "de"})
    assert response.status_code == 202, response.text
    _, messages = sse_messages(cached, token, response.json()["task_id"])
    assert messages[-1]["type"] == "completion", messages[-1]
    assert len(fakes.openai.chat_requests) == chats + 1


def test_with_the_cache_off_every_task_asks_the_model(prod: Service, fakes: FakeStack) -> None:
    chats = len(fakes.openai.chat_requests)
    for _ in range(2):
        _, token = new_user(fakes)
        _, messages = run(prod, token)
        assert messages[-1]["type"] == "completion", messages[-1]
    assert len(fakes.openai.chat_requests) == chats + 2
