"""The pipeline runner, in-process on a real Redis with the local providers."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from redis.asyncio import Redis

from resimply.keys import Keys
from resimply.models import Recipe, ScrapeRequest, TaskStatus
from resimply.pipeline import PipelineDeps, run_task
from resimply.pipeline.run import MAX_ATTEMPTS
from resimply.providers.base import ProgressReporter, ScrapedPost
from resimply.providers.direct import DirectScraper
from resimply.sample import SAMPLE_VIDEO
from tests.pipelines import local_pipeline


@pytest.fixture
async def deps(redis: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[PipelineDeps]:
    async with local_pipeline(redis, key_prefix, tmp_path) as deps:
        yield deps


async def new_task(deps: PipelineDeps, url: str = str(SAMPLE_VIDEO), user: str = "u1") -> str:
    submission = await deps.tasks.create(
        user_id=user, url=url, canonical_url=url, language=None, caption=None, idempotency_key=None
    )
    return submission.task_id


async def messages(redis: Redis, key_prefix: str, task_id: str) -> list[dict[str, object]]:
    entries = await redis.xrange(Keys(key_prefix).events(task_id))
    return [msgspec.json.decode(fields[b"d"]) for _, fields in entries]


async def test_the_sample_runs_all_five_steps_and_cleans_up(
    deps: PipelineDeps, redis: Redis, key_prefix: str
) -> None:
    task_id = await new_task(deps)
    assert await run_task(deps, task_id) == "SUCCESS"
    sent = await messages(redis, key_prefix, task_id)
    assert next(m["stage"] for m in sent if m["type"] == "progress") == "init"
    assert {m["step"] for m in sent if m["type"] == "progress"} == {1, 2, 3, 4, 5}
    assert sent[-1]["type"] == "completion"
    assert not (deps.work_dir / task_id).exists()


async def test_a_job_run_twice_stores_one_recipe(
    deps: PipelineDeps, redis: Redis, key_prefix: str
) -> None:
    """arq runs a job again when its worker died after storing but before finishing."""
    task_id = await new_task(deps)
    earlier = await deps.store.save(user_id="u1", task_id=task_id, recipe=Recipe(title="Carbonara"))
    assert await run_task(deps, task_id, attempt=2) == "SUCCESS"
    assert await run_task(deps, task_id, attempt=3) == "SUCCESS"  # a third run changes nothing
    assert [r.id for r in await deps.store.list(user_id="u1")] == [earlier.id]
    record = await deps.tasks.get(task_id)
    assert record is not None and record.result is not None
    assert record.result.recipe_id == earlier.id
    assert sum(m["type"] == "completion" for m in await messages(redis, key_prefix, task_id)) == 1


async def test_a_job_that_keeps_killing_workers_is_given_up(deps: PipelineDeps) -> None:
    task_id = await new_task(deps)
    assert await run_task(deps, task_id, attempt=MAX_ATTEMPTS + 1) == "FAILURE"
    record = await deps.tasks.get(task_id)
    assert record is not None and record.error is not None
    assert (record.error.error, record.error.retryable) == ("internal", True)


class _BrokenExtractor:
    name = "broken"

    async def extract(self, data: object, progress: ProgressReporter) -> Recipe:
        raise RuntimeError("secret-ish internal detail")

    async def aclose(self) -> None:
        pass


class _StuckScraper(DirectScraper):
    async def scrape(self, request: ScrapeRequest, progress: ProgressReporter) -> ScrapedPost:
        await asyncio.sleep(60)
        raise AssertionError("unreachable")


async def test_a_crash_in_a_step_ends_the_task_with_internal_and_no_details(
    deps: PipelineDeps,
) -> None:
    broken = dataclasses.replace(deps, extractor=_BrokenExtractor())  # type: ignore[arg-type]
    task_id = await new_task(broken)
    assert await run_task(broken, task_id) == "FAILURE"
    record = await deps.tasks.get(task_id)
    assert record is not None and record.error is not None
    assert record.error.error == "internal" and "secret" not in record.error.message
    assert record.step == 4


async def test_a_task_over_its_time_budget_ends_with_timeout(deps: PipelineDeps) -> None:
    stuck = dataclasses.replace(
        deps, scraper=_StuckScraper(dev=True, allow_private_urls=True), job_timeout_s=0.5
    )
    task_id = await new_task(stuck)
    assert await run_task(stuck, task_id) == "FAILURE"
    record = await deps.tasks.get(task_id)
    assert record is not None and record.error is not None
    assert (record.error.error, record.error.retryable, record.status) == (
        "timeout",
        True,
        TaskStatus.FAILURE,
    )
