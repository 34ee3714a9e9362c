"""The extraction cache (resimply.pipeline.cache) on a real Redis, alone and in the pipeline."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from redis.asyncio import Redis

from resimply.errors import NotARecipe
from resimply.keys import Keys
from resimply.models import Recipe, ScrapeRequest
from resimply.pipeline import PipelineDeps, run_task
from resimply.pipeline.cache import ExtractionCache
from resimply.providers.base import Extraction, ExtractionInput, ProgressReporter, ScrapedPost
from resimply.providers.direct import DirectScraper
from resimply.providers.offline import OfflineExtractor
from resimply.sample import SAMPLE_VIDEO
from tests.pipelines import local_pipeline

VIDEO_ID = "7524354452762037512"
LINK = f"https://www.tiktok.com/@chefanna/video/{VIDEO_ID}"
SHORT = "https://vm.tiktok.com/ZMabc123/"


def cache(
    redis: Redis, key_prefix: str, *, ttl_s: int = 600, variant: str = "offline"
) -> ExtractionCache:
    return ExtractionCache(redis, Keys(key_prefix), ttl_s=ttl_s, variant=variant)


async def test_put_then_get_with_ttl(redis: Redis, key_prefix: str) -> None:
    c = cache(redis, key_prefix)
    recipe = Recipe(title="Carbonara")
    assert await c.put(
        "tiktok",
        VIDEO_ID,
        "en",
        recipe=recipe,
        thumbnail=b"jpeg",
        evidence=("caption",),
        task_id="t1",
    )
    hit = await c.get("tiktok", VIDEO_ID, "EN")  # the language's case does not matter
    assert hit is not None and hit.recipe == recipe and hit.thumbnail == b"jpeg"
    assert hit.evidence == ["caption"] and hit.task_id == "t1"
    key = c.key("tiktok", VIDEO_ID, "en")
    assert key is not None and key.startswith(key_prefix + "xcache:")
    assert 0 < await redis.ttl(key) <= 600
    # Another language, another pipeline variant, another video: misses.
    assert await c.get("tiktok", VIDEO_ID, None) is None
    assert (
        await cache(redis, key_prefix, variant="openai:gpt-4o").get("tiktok", VIDEO_ID, "en")
        is None
    )
    assert await c.get("tiktok", "1", "en") is None


async def test_off_direct_links_and_garbage(redis: Redis, key_prefix: str) -> None:
    off = cache(redis, key_prefix, ttl_s=0)
    assert not off.enabled
    assert not await off.put(
        "tiktok", VIDEO_ID, None, recipe=Recipe(title="x"), thumbnail=None, evidence=(), task_id="t"
    )
    assert await off.get("tiktok", VIDEO_ID, None) is None
    c = cache(redis, key_prefix)
    # Direct links and files are never cached: what is behind them may change.
    assert not await c.put(
        "direct", "abc", None, recipe=Recipe(title="x"), thumbnail=None, evidence=(), task_id="t"
    )
    assert await c.get("tiktok", None, None) is None
    key = c.key("tiktok", VIDEO_ID, None)
    assert key is not None
    await redis.set(key, b"\x00not msgpack", ex=60)
    assert await c.get("tiktok", VIDEO_ID, None) is None  # unreadable: a miss


# --- in the pipeline ---------------------------------------------------------------


class _TikTokFromSample(DirectScraper):
    """A TikTok post whose video is the sample (the Apify path is in test_e2e_production)."""

    name = "fake-tiktok"

    def __init__(self) -> None:
        super().__init__(dev=True, allow_private_urls=True)
        self.scrapes = 0

    def accepts(self, url: str) -> bool:
        return url in (LINK, SHORT)

    async def scrape(self, request: ScrapeRequest, progress: ProgressReporter) -> ScrapedPost:
        self.scrapes += 1
        local = msgspec.structs.replace(request, url=str(SAMPLE_VIDEO))
        post = await super().scrape(local, progress)
        return dataclasses.replace(post, platform="tiktok", video_id=VIDEO_ID, cost_usd=0.01)


class _Counting(OfflineExtractor):
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    async def extract(self, data: ExtractionInput, progress: ProgressReporter) -> Extraction:
        self.calls += 1
        if self.fail:
            raise NotARecipe()
        return await super().extract(data, progress)


@pytest.fixture
async def deps(redis: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[PipelineDeps]:
    async with local_pipeline(
        redis,
        key_prefix,
        tmp_path,
        scraper=_TikTokFromSample(),
        extractor=_Counting(),
        cache=cache(redis, key_prefix),
    ) as deps:
        yield deps


async def _run(deps: PipelineDeps, user: str, url: str = LINK) -> str:
    submission = await deps.tasks.create(
        user_id=user, url=url, canonical_url=url, language=None, caption=None, idempotency_key=None
    )
    assert await run_task(deps, submission.task_id) in ("SUCCESS", "FAILURE")
    return submission.task_id


async def _messages(redis: Redis, key_prefix: str, task_id: str) -> list[dict[str, object]]:
    entries = await redis.xrange(Keys(key_prefix).events(task_id))
    return [msgspec.json.decode(fields[b"d"]) for _, fields in entries]


async def test_the_second_user_is_served_from_the_cache(
    deps: PipelineDeps, redis: Redis, key_prefix: str
) -> None:
    extractor, scraper = deps.extractor, deps.scraper
    assert isinstance(extractor, _Counting) and isinstance(scraper, _TikTokFromSample)
    first = await _run(deps, "u1")
    second = await _run(deps, "u2")
    third = await _run(deps, "u3", SHORT)
    assert extractor.calls == 1
    assert scraper.scrapes == 2  # the link names the video; the short link must be scraped
    books = [await deps.store.list(user_id=u) for u in ("u1", "u2", "u3")]
    assert all(len(book) == 1 for book in books)
    assert len({book[0].id for book in books}) == 3  # each user's own row
    assert books[1][0].title == books[0][0].title
    records = [await deps.tasks.get(t) for t in (first, second, third)]
    results = [r.result for r in records if r is not None and r.result is not None]
    assert [r.usage.cache_hit for r in results if r.usage] == [False, True, True]
    assert [r.evidence for r in results] == [["caption", "subtitles"]] * 3
    assert [r.usage.actor_usd for r in results if r.usage] == [0.01, None, 0.01]
    sent = await _messages(redis, key_prefix, second)
    progress = [m for m in sent if m["type"] == "progress"]
    assert {m["step"] for m in progress} == {1, 2, 3, 4, 5}
    assert {m["step"] for m in progress if m["details"] == "From cache"} == {2, 3, 4}


async def test_a_failed_extraction_is_not_cached(deps: PipelineDeps) -> None:
    extractor = deps.extractor
    assert isinstance(extractor, _Counting)
    extractor.fail = True
    await _run(deps, "u1")
    extractor.fail = False
    await _run(deps, "u2")
    await _run(deps, "u3")
    assert extractor.calls == 2  # the failure, then one success that u3 reuses


async def test_with_the_cache_off_every_task_extracts(
    deps: PipelineDeps, redis: Redis, key_prefix: str
) -> None:
    off = dataclasses.replace(deps, cache=cache(redis, key_prefix, ttl_s=0))
    extractor = off.extractor
    assert isinstance(extractor, _Counting)
    await _run(off, "u1")
    await _run(off, "u2")
    assert extractor.calls == 2


async def test_a_post_with_two_recipes_is_served_whole_from_the_cache(
    deps: PipelineDeps,
) -> None:
    caption = (Path(__file__).parent / "data/captions/en_schnitzel_and_sauce.txt").read_text()
    tasks = []
    for user in ("u1", "u2"):
        submission = await deps.tasks.create(
            user_id=user,
            url=LINK,
            canonical_url=LINK,
            language=None,
            caption=caption,
            idempotency_key=None,
        )
        assert await run_task(deps, submission.task_id) == "SUCCESS"
        tasks.append(submission.task_id)
    extractor = deps.extractor
    assert isinstance(extractor, _Counting) and extractor.calls == 1
    records = [await deps.tasks.get(t) for t in tasks]
    results = [r.result for r in records if r is not None and r.result is not None]
    assert [[x.title for x in r.recipes or []] for r in results] == [
        ["Crispy Schnitzel with Mushroom Sauce", "Crispy Schnitzel with Mushroom Sauce – sauce"]
    ] * 2
    # The second user's own two rows.
    assert results[1].recipe_ids is not None and len(set(results[1].recipe_ids)) == 2
    assert set(results[1].recipe_ids).isdisjoint(results[0].recipe_ids or [])
    assert len(await deps.store.list(user_id="u2")) == 2
