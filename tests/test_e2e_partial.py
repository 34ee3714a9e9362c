"""The recipe appearing as it is read (issue 15 item 4), end to end: `resimply serve`
and `arq` as real processes with the production providers, the fake OpenAI
streaming its answer chunk by chunk at a set pace (the SDK reads the real SSE
wire format), clients with and without `?partial=1`."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from resimply.providers.partial_recipe import PARTIAL_INTERVAL_S
from tests.client import auth, sse_messages, submit, ws_messages
from tests.fakes import openai as fake_openai
from tests.fakes.stack import DEMO_URL, FakeStack, FakesThread
from tests.servers import Service
from tests.test_e2e_production import new_user

INGREDIENTS = [
    {"text": f"{n * 10} g ingredient number {n}", "name": f"ingredient {n}", "quantity": n * 10}
    for n in range(1, 9)
]
STEPS = [{"text": f"Do step {n} carefully and patiently.", "minutes": n} for n in range(1, 6)]
ANSWER = fake_openai.full_recipe(
    title="Eight things pasta", language="en", ingredients=INGREDIENTS, steps=STEPS, tags=["pasta"]
)


@pytest.fixture(scope="module")
def fakes() -> Iterator[FakeStack]:
    with FakesThread() as stack:
        # ~2 s for the answer: long enough for several partials, short for a test.
        stack.openai.stream_first_token_s = 0.2
        stack.openai.stream_tokens_per_s = 250
        yield stack


@pytest.fixture(scope="module")
def svc(
    redis_url: str, fakes: FakeStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    service = Service(
        redis_url,
        tmp_path_factory.mktemp("partial"),
        **fakes.env(),
        RESIMPLY_DEV="0",
        RESIMPLY_UPSTREAM_DEADLINE_S="6",
        RESIMPLY_CACHE_TTL_S="0",
    )
    with service.running():
        yield service


def start(svc: Service, token: str) -> str:
    # A fresh link each time: no dedupe with an earlier task of the same user.
    response = submit(svc, token, {"url": f"{DEMO_URL}?n={uuid.uuid4().hex[:8]}"})
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def texts(items: list[dict[str, Any]]) -> list[str]:
    return [item["text"] for item in items]


async def test_partials_reach_only_clients_that_ask_grow_and_end_in_the_recipe(
    svc: Service, fakes: FakeStack
) -> None:
    fakes.openai.answer_recipe(ANSWER)
    _, token = new_user(fakes)
    task_id = start(svc, token)
    (_, opted_sse), (ws_code, opted_ws), (_, plain_sse), (_, plain_ws) = await asyncio.gather(
        asyncio.to_thread(sse_messages, svc, token, task_id, partial=True),
        ws_messages(svc, token, task_id, partial=True),
        asyncio.to_thread(sse_messages, svc, token, task_id),
        ws_messages(svc, token, task_id),
    )
    assert ws_code == 1000 and opted_ws == opted_sse
    done = opted_sse[-1]
    assert done["type"] == "completion", done
    partials = [m for m in opted_sse if m["type"] == "partial"]
    assert len(partials) >= 3, [m["type"] for m in opted_sse]
    # Clients that did not ask see exactly the rest, none of these.
    assert plain_sse == plain_ws == [m for m in opted_sse if m["type"] != "partial"]

    # Each partial is the recipe so far: finished items only, so each list is a
    # prefix of the stored recipe's and never shrinks.
    recipe = done["recipe"]
    counts = [(len(p["ingredients"]), len(p["steps"])) for p in partials]
    assert counts == sorted(counts) and counts[0] < counts[-1]
    for p in partials:
        assert p["task_id"] == task_id and p["title"] in (None, recipe["title"])
        assert texts(p["ingredients"]) == texts(recipe["ingredients"])[: len(p["ingredients"])]
        assert texts(p["steps"]) == texts(recipe["steps"])[: len(p["steps"])]
        assert p["ingredients"] == recipe["ingredients"][: len(p["ingredients"])]
    assert any(p["ingredients"] for p in partials)
    # Rate-limited per task: never two within the interval.
    stamps = [p["timestamp"] for p in partials]
    assert all(b - a >= PARTIAL_INTERVAL_S - 0.02 for a, b in itertools.pairwise(stamps))

    # Cost accounting with streaming: usage came in the stream's last chunk.
    task = httpx.get(f"{svc.base_url}/task/{task_id}", headers=auth(token)).json()
    usage = task["result"]["usage"]
    completion_chars = len(json.dumps(ANSWER, ensure_ascii=False))
    assert usage["requests"] == 1 and usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] == completion_chars // 4 + 1  # the fake's count
    request = fakes.openai.chat_requests[-1]
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("how", ["abort", "end", "error"])
def test_a_stream_broken_midway_is_asked_again_and_stored_once(
    svc: Service, fakes: FakeStack, how: str
) -> None:
    broken = fake_openai.ChatAnswer(
        content=json.dumps(ANSWER), break_after=700, break_how=how, completion_tokens=999
    )
    fakes.openai.script(broken)
    fakes.openai.answer_recipe(ANSWER)
    requests_before = len(fakes.openai.chat_requests)
    user_id, token = new_user(fakes)
    task_id = start(svc, token)
    _, messages = sse_messages(svc, token, task_id, partial=True)
    assert messages[-1]["type"] == "completion", messages[-1]
    assert len(fakes.openai.chat_requests) - requests_before == 2
    partials = [m for m in messages if m["type"] == "partial"]
    assert partials  # from the broken answer, the retried one or both
    rows = [r for r in fakes.supabase.rows if r["task_id"] == task_id]
    assert len(rows) == 1 and rows[0]["user_id"] == user_id
    assert texts(messages[-1]["recipe"]["ingredients"]) == texts(INGREDIENTS)
    usage = httpx.get(f"{svc.base_url}/task/{task_id}", headers=auth(token)).json()["result"][
        "usage"
    ]
    # The broken answer sent no usage: only the whole one is counted.
    assert usage["requests"] == 1 and usage["completion_tokens"] != 999


def test_a_stream_that_always_breaks_fails_cleanly_with_nothing_stored(
    svc: Service, fakes: FakeStack
) -> None:
    broken = fake_openai.ChatAnswer(content=json.dumps(ANSWER), break_after=400)
    fakes.openai.script(broken, times=None)
    try:
        _, token = new_user(fakes)
        task_id = start(svc, token)
        started = time.monotonic()
        _, messages = sse_messages(svc, token, task_id, partial=True)
        assert time.monotonic() - started < 30
    finally:
        fakes.openai.chat_script.clear()
    final = messages[-1]
    assert final["type"] == "error", final
    assert (final["error"], final["retryable"]) == ("extraction_failed", True)
    assert not [r for r in fakes.supabase.rows if r["task_id"] == task_id]
    task = httpx.get(f"{svc.base_url}/task/{task_id}", headers=auth(token)).json()
    assert task["result"] is None and task["status"] == "FAILURE"
