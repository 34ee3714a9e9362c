"""Amounts only said in a video's subtitles reach the stored recipe, through the real
local pipeline (direct scraper with sidecar files → media → offline extractor → store)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from resimply.pipeline import PipelineDeps, run_task
from resimply.sample import SAMPLE_VIDEO
from tests.pipelines import local_pipeline

SPOKEN_VTT = """WEBVTT

00:00:00.500 --> 00:00:03.000
Hi everyone, today we're making fluffy pancakes.

00:00:03.000 --> 00:00:07.000
You need 200 g flour, 2 eggs, 300 ml milk, 1 tbsp sugar and a pinch of salt.

00:00:07.000 --> 00:00:09.000
Bake them for 2 minutes on each side at 180 degrees.
"""


@pytest.fixture
async def deps(redis: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[PipelineDeps]:
    async with local_pipeline(redis, key_prefix, tmp_path) as deps:
        yield deps


async def test_a_video_whose_amounts_are_only_spoken_has_them_as_ingredients(
    deps: PipelineDeps, tmp_path: Path
) -> None:
    video = tmp_path / "videos" / "pancakes.mp4"
    video.parent.mkdir()
    shutil.copyfile(SAMPLE_VIDEO, video)
    video.with_suffix(".txt").write_text("Fluffy pancakes 🥞 #breakfast\n")
    video.with_suffix(".en.vtt").write_text(SPOKEN_VTT)
    submission = await deps.tasks.create(
        user_id="u1",
        url=str(video),
        canonical_url=str(video),
        language=None,
        caption=None,
        idempotency_key=None,
    )
    assert await run_task(deps, submission.task_id) == "SUCCESS"
    (recipe,) = await deps.store.list(user_id="u1")
    assert [(i.quantity, i.unit, i.name) for i in recipe.ingredients] == [
        (200.0, "g", "flour"),
        (2.0, None, "eggs"),
        (300.0, "ml", "milk"),
        (1.0, "tbsp", "sugar"),
        (1.0, "pinch", "salt"),
    ]
    assert recipe.title == "Fluffy pancakes"
