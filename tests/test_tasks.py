"""Task records on a real Redis: dedupe, idempotency, progress, exactly one terminal message."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from resimply.errors import RateLimited
from resimply.keys import Keys
from resimply.messages import Progress
from resimply.models import Recipe, TaskStatus
from resimply.tasks import Submission, TaskStore


def make_store(redis: Redis, prefix: str) -> TaskStore:
    return TaskStore(redis, Keys(prefix), ttl_s=3600, stream_maxlen=100, dedupe_ttl_s=600)


async def create(
    store: TaskStore,
    user: str = "u1",
    url: str = "https://x/v.mp4",
    key: str | None = None,
    limit: int = 1000,
) -> Submission:
    return await store.create(
        user_id=user,
        url=url,
        canonical_url=url,
        language=None,
        caption=None,
        idempotency_key=key,
        rate_limit_per_minute=limit,
    )


async def test_a_new_task_is_pending_and_listed_as_active(redis: Redis, key_prefix: str) -> None:
    store = make_store(redis, key_prefix)
    sub = await create(store)
    assert (sub.created, sub.http_status) == (True, 202)
    record = await store.get(sub.task_id)
    assert record is not None
    assert record.status is TaskStatus.PENDING and record.user_id == "u1"
    assert [r.task_id for r in await store.active("u1")] == [sub.task_id]
    assert await store.active("someone-else") == []


async def test_the_record_holds_the_submission_as_sent(redis: Redis, key_prefix: str) -> None:
    store = make_store(redis, key_prefix)
    caption = 'Pâtes « carbonara » 🍝 — "quoted", back\\slash\n' * 50
    sub = await store.create(
        user_id="u1",
        url="https://example.com/v.mp4?a=1&b=é",
        canonical_url="https://example.com/v.mp4?a=1&b=é",
        language="it",
        caption=caption,
        idempotency_key=None,
    )
    record = await store.get(sub.task_id)
    assert record is not None
    assert (record.url, record.language, record.caption) == (
        "https://example.com/v.mp4?a=1&b=é",
        "it",
        caption,
    )
    assert (record.step, record.message) == (0, "Waiting for a worker")
    assert record.created_at == record.updated_at > 0


async def test_submissions_survive_a_flushed_script_cache(redis: Redis, key_prefix: str) -> None:
    store = make_store(redis, key_prefix)
    await create(store, url="a")
    await redis.script_flush()  # as after a Redis restart
    assert (await create(store, url="b")).created


async def test_same_user_same_video_while_unfinished_gets_the_same_task(
    redis: Redis, key_prefix: str
) -> None:
    store = make_store(redis, key_prefix)
    first = await create(store)
    again = await create(store)
    other_user = await create(store, user="u2")
    assert (again.task_id, again.http_status, again.created) == (first.task_id, 200, False)
    assert other_user.task_id != first.task_id
    record = await store.get(first.task_id)
    assert record is not None
    await store.fail(record, code="internal", text="x", retryable=True)
    after_finish = await create(store)
    assert after_finish.created and after_finish.task_id != first.task_id


async def test_idempotency_key_repeats_the_first_response(redis: Redis, key_prefix: str) -> None:
    store = make_store(redis, key_prefix)
    first = await create(store, key="k-1")
    record = await store.get(first.task_id)
    assert record is not None
    await store.fail(record, code="internal", text="x", retryable=True)
    repeat = await create(store, key="k-1")
    assert (repeat.task_id, repeat.http_status, repeat.created) == (first.task_id, 202, False)
    fresh = await create(store, key="k-2")
    assert fresh.created and fresh.task_id != first.task_id


async def test_exactly_one_terminal_message_even_when_racing(redis: Redis, key_prefix: str) -> None:
    store = make_store(redis, key_prefix)
    sub = await create(store)
    record = await store.get(sub.task_id)
    assert record is not None
    recipe = Recipe(title="Soup", id="r1")
    outcomes = await asyncio.gather(
        store.succeed(record, recipe),
        store.fail(record, code="cancelled", text="c", retryable=False, cancelled=True),
        store.fail(record, code="internal", text="i", retryable=True),
    )
    assert sum(o is not None for o in outcomes) == 1
    entries = await redis.xrange(Keys(key_prefix).events(sub.task_id))
    assert len(entries) == 1
    final = await store.get(sub.task_id)
    assert final is not None and final.status.finished
    assert final.terminal_event_id == entries[0][0].decode()
    assert await store.active("u1") == []


async def test_progress_after_the_end_is_refused(redis: Redis, key_prefix: str) -> None:
    store = make_store(redis, key_prefix)
    sub = await create(store)
    progress = Progress(task_id=sub.task_id, step=2, stage="scrape", status="Fetching")
    assert await store.progress(progress, status=TaskStatus.PROGRESS) is not None
    record = await store.get(sub.task_id)
    assert record is not None and record.step == 2 and record.status is TaskStatus.PROGRESS
    await store.fail(record, code="cancelled", text="c", retryable=False, cancelled=True)
    assert await store.progress(progress, status=TaskStatus.PROGRESS) is None
    final = await store.get(sub.task_id)
    assert final is not None and final.status is TaskStatus.CANCELLED
    assert final.error is not None and final.error.error == "cancelled"


async def test_every_key_of_a_finished_task_expires(redis: Redis, key_prefix: str) -> None:
    store = make_store(redis, key_prefix)
    sub = await create(store, key="idem")
    record = await store.get(sub.task_id)
    assert record is not None
    await store.progress(
        Progress(task_id=sub.task_id, step=1, stage="init", status="s"), status=TaskStatus.STARTED
    )
    await store.fail(record, code="internal", text="x", retryable=True)
    keys = [k async for k in redis.scan_iter(match=f"{key_prefix}*")]
    assert keys, "the task wrote keys"
    for key in keys:
        assert await redis.ttl(key) > 0, key


async def test_submissions_past_the_rate_limit_are_refused(redis: Redis, key_prefix: str) -> None:
    store = make_store(redis, key_prefix)
    first = await create(store, url="a", limit=2)
    again = await create(store, url="a", limit=2)  # a duplicate counts too
    assert again.task_id == first.task_id
    with pytest.raises(RateLimited) as refused:
        await create(store, url="b", limit=2)
    assert 0 < refused.value.retry_after <= 60
    assert (await create(store, user="u2", url="b", limit=2)).created  # per user


async def test_a_new_task_and_its_arq_job_are_written_together(
    redis: Redis, key_prefix: str
) -> None:
    from arq.constants import job_key_prefix
    from arq.jobs import deserialize_job

    from resimply.jobs import JOB_NAME, JobQueue, job_deserializer

    keys = Keys(key_prefix)
    store = TaskStore(
        redis, keys, ttl_s=3600, stream_maxlen=100, dedupe_ttl_s=600, jobs=JobQueue(redis, keys)
    )
    sub = await create(store)
    again = await create(store)  # the unfinished duplicate enqueues nothing
    assert again.task_id == sub.task_id
    assert await redis.zrange(keys.queue, 0, -1) == [sub.task_id.encode()]
    raw = await redis.get(job_key_prefix + sub.task_id)
    job = deserialize_job(raw, deserializer=job_deserializer)
    assert (job.function, list(job.args)) == (JOB_NAME, [sub.task_id])
    assert await redis.pttl(job_key_prefix + sub.task_id) > 0
