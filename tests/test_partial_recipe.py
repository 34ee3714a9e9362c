"""Partial recipes from a streamed answer (resimply.providers.partial_recipe,
openai_stream), and the extractors that do and do not publish them."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from resimply.errors import ExtractionFailed
from resimply.keys import Keys
from resimply.providers.offline import OfflineExtractor
from resimply.providers.openai_extractor import OpenAIExtractor
from resimply.providers.partial_recipe import (
    MAX_PARTIALS,
    PARTIAL_INTERVAL_S,
    PartialPublisher,
    PartialRecipe,
    PartialSink,
    read_partial,
)
from resimply.providers.recipe_schema import decode_output, to_recipe
from tests.fakes.openai import ChatAnswer, OpenAIFakeState, ingredient, make_openai_app
from tests.fakes.server import start_fake
from tests.test_openai_extractor import CARBONARA, Fake, data

LONG = {
    **CARBONARA,
    "ingredients": [
        {**CARBONARA["ingredients"][0], "text": f"{n}00 g thing {n}", "quantity": n * 100}
        for n in range(1, 7)
    ],
}


class RecordingSink:
    """A progress handle that also takes partial recipes (as `TaskProgress` does)."""

    def __init__(self) -> None:
        self.updates: list[str] = []
        self.partials: list[PartialRecipe] = []

    async def update(self, details: str, fraction: float | None = None) -> None:
        self.updates.append(details)

    async def partial(self, recipe: PartialRecipe) -> None:
        self.partials.append(recipe)


# --- reading an incomplete answer ---------------------------------------------------


@pytest.mark.parametrize("answer", [CARBONARA, LONG], ids=["carbonara", "six-ingredients"])
def test_every_prefix_shows_only_finished_items_that_the_whole_answer_keeps(
    answer: dict[str, object],
) -> None:
    text = json.dumps(answer, ensure_ascii=False)
    final = to_recipe(decode_output(text))
    seen: list[PartialRecipe] = []
    for end in range(len(text) + 1):
        partial = read_partial(text[:end])
        # Never anything the whole answer does not have, in its order: a prefix.
        assert list(partial.ingredients) == final.ingredients[: len(partial.ingredients)]
        assert list(partial.steps) == final.steps[: len(partial.steps)]
        assert partial.title in (None, final.title)
        if seen:  # and it only grows
            assert len(partial.ingredients) >= len(seen[-1].ingredients)
            assert len(partial.steps) >= len(seen[-1].steps)
        seen.append(partial)
    assert list(seen[-1].ingredients) == final.ingredients and list(seen[-1].steps) == final.steps
    # Each ingredient shows before the answer is done: the first one while the
    # ingredient list is still being written.
    first = next(i for i, p in enumerate(seen) if p.ingredients)
    assert first < text.index('"steps"')


def test_a_number_still_being_written_is_not_shown() -> None:
    text = json.dumps(LONG)
    cut = text.index('"quantity": 300') + len('"quantity": 30')  # 30 of 300
    partial = read_partial(text[:cut])
    assert [i.quantity for i in partial.ingredients] == [100, 200]


def test_the_first_of_several_recipes_is_read() -> None:
    text = json.dumps({"recipes": [CARBONARA, LONG]})
    partial = read_partial(text[: text.index('"tags"')])
    assert partial.title == "Spaghetti Carbonara"
    assert [i.text for i in partial.ingredients] == ["200 g spaghetti", "2 eggs"]


@pytest.mark.parametrize(
    "text", ["", "not json", "[1, 2", '{"ingredients": 3, "steps": "x"', '"a string"']
)
def test_anything_else_reads_as_nothing(text: str) -> None:
    assert read_partial(text).empty


def test_items_that_do_not_fit_the_schema_are_skipped() -> None:
    text = json.dumps(
        {
            "title": "  ",
            "ingredients": [
                ingredient(text="2 eggs", quantity="two"),
                ingredient(text="1 onion"),
                {"text": "no other field"},
                ingredient(text="  "),
            ],
            "steps": [{"text": "   ", "minutes": None}, {"text": "Chop.", "minutes": -1}],
            "tags": [],
        }
    )
    partial = read_partial(text)
    assert partial.title is None
    assert [i.text for i in partial.ingredients] == ["1 onion"]
    assert [(s.text, s.minutes) for s in partial.steps] == [("Chop.", None)]


# --- the rate limit -----------------------------------------------------------------


async def test_the_publisher_sends_at_most_one_per_interval_and_only_changes() -> None:
    now = [0.0]
    sink = RecordingSink()
    publisher = PartialPublisher(sink, interval_s=PARTIAL_INTERVAL_S, clock=lambda: now[0])
    text = json.dumps(LONG)
    # 3 s of answer, a chunk every 10 ms.
    steps = 300
    for n in range(1, steps + 1):
        now[0] = n * 0.01
        await publisher.offer(text[: len(text) * n // steps])
    assert 3 <= publisher.sent == len(sink.partials) <= 3 / PARTIAL_INTERVAL_S + 1
    assert all(a != b for a, b in itertools.pairwise(sink.partials))  # each one a change
    # Unchanged text after the interval: nothing more.
    now[0] += 10
    sent = publisher.sent
    await publisher.offer(text)
    await publisher.offer(text)
    assert publisher.sent <= sent + 1


async def test_a_runaway_answer_stops_at_the_cap_per_task() -> None:
    sink = RecordingSink()
    publisher = PartialPublisher(sink, interval_s=0)
    items = [ingredient(text=f"{n} g salt", quantity=n) for n in range(1, MAX_PARTIALS + 30)]
    for n in range(len(items)):
        await publisher.offer(lambda n=n: json.dumps({"ingredients": items[: n + 1], "steps": []}))
    assert publisher.sent == len(sink.partials) == MAX_PARTIALS
    assert len(sink.partials[-1].ingredients) == MAX_PARTIALS


async def test_without_a_sink_nothing_is_parsed_or_sent() -> None:
    publisher = PartialPublisher(None, interval_s=0)
    await publisher.offer(json.dumps(LONG))
    assert publisher.sent == 0


def test_the_task_progress_handle_is_a_sink() -> None:
    from resimply.pipeline.progress import TaskProgress

    assert issubclass(TaskProgress, PartialSink)


# --- the extractors -----------------------------------------------------------------


@pytest.fixture
async def slow_fake() -> AsyncIterator[Fake]:
    state = OpenAIFakeState(stream_first_token_s=0.05, stream_tokens_per_s=400)
    runner, url = await start_fake(make_openai_app(state))
    yield Fake(state, url)
    await runner.cleanup()


async def test_the_openai_extractor_publishes_partials_while_the_answer_streams(
    slow_fake: Fake,
) -> None:
    slow_fake.state.answer_recipe(LONG)
    extractor = OpenAIExtractor(slow_fake.settings())
    sink = RecordingSink()
    try:
        extraction = await extractor.extract(data(), sink)
    finally:
        await extractor.aclose()
    assert len(sink.partials) >= 2
    assert any(p.ingredients for p in sink.partials)
    last = sink.partials[-1]
    assert list(last.ingredients) == extraction.recipe.ingredients[: len(last.ingredients)]
    assert extraction.usage.requests == 1 and extraction.usage.completion_tokens > 0


async def test_a_plain_progress_handle_gets_no_partials_and_the_same_recipe(
    slow_fake: Fake,
) -> None:
    from tests.test_openai_extractor import RecordingProgress

    slow_fake.state.answer_recipe(LONG)
    extractor = OpenAIExtractor(slow_fake.settings())
    try:
        extraction = await extractor.extract(data(), RecordingProgress())
    finally:
        await extractor.aclose()
    assert [i.quantity for i in extraction.recipe.ingredients] == [n * 100 for n in range(1, 7)]


@pytest.mark.parametrize("how", ["abort", "end", "error"])
async def test_a_stream_that_keeps_breaking_fails_retryably_with_no_usage_counted(
    slow_fake: Fake, how: str
) -> None:
    broken = ChatAnswer(content=json.dumps(LONG), break_after=300, break_how=how)
    slow_fake.state.script(broken, times=None)
    extractor = OpenAIExtractor(slow_fake.settings(upstream_deadline_s=1.5))
    try:
        with pytest.raises(ExtractionFailed) as caught:
            await extractor.extract(data(), RecordingSink())
    finally:
        await extractor.aclose()
    assert caught.value.retryable
    assert len(slow_fake.state.chat_requests) >= 2  # asked again before giving up
    assert caught.value.spent is None  # no answer finished: nothing OpenAI reported


async def test_the_offline_extractor_publishes_no_partial() -> None:
    sink = RecordingSink()
    extraction = await OfflineExtractor().extract(data(frames=()), sink)
    assert extraction.recipe.ingredients and sink.partials == []


# --- into the task's stream -----------------------------------------------------------


async def test_a_partial_goes_into_the_stream_without_touching_the_status_and_stops_at_the_end(
    redis: Redis, key_prefix: str
) -> None:
    from resimply.errors import Cancelled
    from resimply.pipeline.progress import TaskProgress
    from tests.test_tasks import create, make_store

    store = make_store(redis, key_prefix)
    sub = await create(store)
    progress = TaskProgress(store, sub.task_id)
    await progress.begin(4, "Reading the recipe")
    await progress.partial(read_partial(json.dumps(LONG)))
    record = await store.get(sub.task_id)
    assert record is not None and record.step == 4 and record.message == "Reading the recipe"
    entries = await redis.xrange(Keys(key_prefix).events(sub.task_id))
    kind, body = entries[-1][1][b"t"], json.loads(entries[-1][1][b"d"])
    assert kind == b"partial" and body["type"] == "partial" and body["task_id"] == sub.task_id
    assert [i["quantity"] for i in body["ingredients"]] == [n * 100 for n in range(1, 7)]
    assert body["title"] == "Spaghetti Carbonara" and len(body["steps"]) == 2
    # Once the task has ended (here: cancelled), a partial is refused and the step stops.
    await store.fail(record, code="cancelled", text="c", retryable=False, cancelled=True)
    with pytest.raises(Cancelled):
        await progress.partial(read_partial(json.dumps(LONG)))
    assert len(await redis.xrange(Keys(key_prefix).events(sub.task_id))) == len(entries) + 1


async def test_the_fake_streams_openais_wire_format(slow_fake: Fake) -> None:
    """What the SDK reads: `data:` lines of `chat.completion.chunk`s, the role first,
    then text deltas, a `finish_reason` with an empty delta, the usage alone in the
    last chunk (`"usage": null` before it), then `[DONE]`."""
    import httpx

    slow_fake.state.answer_recipe(CARBONARA)
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"Authorization": f"Bearer {slow_fake.state.api_key}"}
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{slow_fake.url}/v1/chat/completions", json=body, headers=headers
        )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [e for e in response.text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert json.loads(text) == CARBONARA
    assert chunks[-2]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert all(c["usage"] is None for c in chunks[:-1])
