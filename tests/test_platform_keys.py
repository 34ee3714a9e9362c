"""Dedupe and extraction-cache keys for every platform (issue 12, item 7), and what a
running server says it accepts (`GET /capabilities`, the page hint, the 422s).

In the pipeline: a Reel scraped through the Apify Instagram actor (the real
apify-client against the fake Apify API, its video fetched from the fake's CDN)
and a YouTube Short (through a stand-in for yt-dlp's scraper), each shared again
in another spelling, are served from the cache without a second scrape or model
call. Against `resimply serve` + `arq` as real processes: `/capabilities`, the
landing page and the 422 tell the same story, and a link shared twice with
different tracking parameters is one task.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from resimply.keys import Keys
from resimply.models import ScrapeRequest
from resimply.pipeline import PipelineDeps, run_task
from resimply.pipeline.cache import ExtractionCache
from resimply.providers.apify_instagram import ApifyInstagramScraper
from resimply.providers.base import (
    Extraction,
    ExtractionInput,
    ProgressReporter,
    ScrapedPost,
    VideoRef,
)
from resimply.providers.direct import DirectScraper
from resimply.providers.offline import OfflineExtractor
from resimply.providers.routing import RoutingScraper
from resimply.sample import SAMPLE_VIDEO
from resimply.settings import Settings
from tests.fakes.apify import (
    TOKEN,
    ApifyFakeState,
    FakeInstagramPost,
    make_apify_app,
    make_instagram_item,
)
from tests.fakes.server import start_fake
from tests.pipelines import local_pipeline
from tests.servers import GatedVideoServer, Service

CODE = "C9xYz_AbC12"
YT = "dQw4w9WgXcQ"
CAPTION = (SAMPLE_VIDEO.with_suffix(".txt")).read_text()


class _Counting(OfflineExtractor):
    def __init__(self) -> None:
        self.calls = 0

    async def extract(self, data: ExtractionInput, progress: ProgressReporter) -> Extraction:
        self.calls += 1
        return await super().extract(data, progress)


class _YouTubeStandIn:
    """yt-dlp's role for YouTube: the sample video with its caption."""

    name = "ytdlp"
    platforms = frozenset({"youtube"})

    def __init__(self) -> None:
        self.scrapes = 0

    def accepts(self, url: str) -> bool:
        from resimply.links import platform_of

        return platform_of(url) == "youtube"

    async def scrape(self, request: ScrapeRequest, progress: ProgressReporter) -> ScrapedPost:
        from resimply.links import youtube_video_id

        self.scrapes += 1
        video_id = youtube_video_id(request.url)
        return ScrapedPost(
            platform="youtube",
            url=f"https://www.youtube.com/watch?v={video_id}",
            video=VideoRef(path=SAMPLE_VIDEO),
            video_id=video_id,
            caption=CAPTION,
        )

    async def aclose(self) -> None:
        pass


@pytest.fixture
async def apify_base() -> AsyncIterator[tuple[ApifyFakeState, str]]:
    state = ApifyFakeState()
    state.add_instagram_post(
        CODE,
        FakeInstagramPost(
            item=make_instagram_item(CODE, caption=CAPTION), video=SAMPLE_VIDEO.read_bytes()
        ),
    )
    runner, base = await start_fake(make_apify_app(state))
    yield state, base
    await runner.cleanup()


@pytest.fixture
async def deps(
    redis: Redis, key_prefix: str, tmp_path: Path, apify_base: tuple[ApifyFakeState, str]
) -> AsyncIterator[PipelineDeps]:
    _, base = apify_base
    settings = Settings(
        apify_api_token=TOKEN, apify_api_url=base, upstream_deadline_s=10, http_timeout_s=5
    )
    router = RoutingScraper(
        {"instagram": ApifyInstagramScraper(settings), "youtube": _YouTubeStandIn()},
        direct=DirectScraper(dev=True, allow_private_urls=True),
    )
    async with local_pipeline(
        redis,
        key_prefix,
        tmp_path,
        scraper=router,
        extractor=_Counting(),
        cache=ExtractionCache(redis, Keys(key_prefix), ttl_s=600, variant="offline"),
    ) as deps:
        yield deps
    await router.aclose()


async def _run(deps: PipelineDeps, user: str, url: str) -> tuple[str, bool | None]:
    """Run one task; (its status, whether it was a cache hit)."""
    submission = await deps.tasks.create(
        user_id=user, url=url, canonical_url=url, language=None, caption=None, idempotency_key=None
    )
    status = await run_task(deps, submission.task_id)
    record = await deps.tasks.get(submission.task_id)
    assert record is not None
    usage = record.result.usage if record.result else None
    return status, (usage.cache_hit if usage else None)


async def test_a_reel_shared_again_is_served_from_the_cache(
    deps: PipelineDeps, apify_base: tuple[ApifyFakeState, str]
) -> None:
    state, _ = apify_base
    extractor = deps.extractor
    assert isinstance(extractor, _Counting)
    first = await _run(deps, "u1", f"https://www.instagram.com/reel/{CODE}/?igsh=MWZ0dGRh")
    second = await _run(deps, "u2", f"https://instagram.com/p/{CODE}")
    assert first == ("SUCCESS", False) and second == ("SUCCESS", True)
    assert len(state.runs) == 1  # the second link names the same post: no actor run
    assert extractor.calls == 1


async def test_a_youtube_short_shared_again_is_served_from_the_cache(deps: PipelineDeps) -> None:
    extractor = deps.extractor
    assert isinstance(extractor, _Counting)
    first = await _run(deps, "u1", f"https://youtu.be/{YT}?si=AbCdEf")
    second = await _run(deps, "u2", f"https://www.youtube.com/shorts/{YT}?feature=share")
    assert first == ("SUCCESS", False) and second == ("SUCCESS", True)
    scraper = deps.scraper
    assert isinstance(scraper, RoutingScraper)
    youtube = scraper.scraper_for(f"https://youtu.be/{YT}")
    assert isinstance(youtube, _YouTubeStandIn) and youtube.scrapes == 1
    assert extractor.calls == 1


async def test_a_direct_media_link_is_still_read_afresh(deps: PipelineDeps) -> None:
    extractor = deps.extractor
    assert isinstance(extractor, _Counting)
    for user in ("u1", "u2"):
        status, hit = await _run(deps, user, str(SAMPLE_VIDEO))
        assert (status, hit) == ("SUCCESS", False)
    assert extractor.calls == 2


# --- a running server ----------------------------------------------------------------


@pytest.fixture
def gated() -> Iterator[GatedVideoServer]:
    server = GatedVideoServer(SAMPLE_VIDEO)
    yield server
    server.close()


def test_capabilities_page_and_422_agree(service: Service) -> None:
    caps = httpx.get(f"{service.base_url}/capabilities", timeout=5)
    assert caps.status_code == 200 and caps.headers["content-type"] == "application/json"
    body = caps.json()
    assert set(body) == {"platforms", "web_pages", "media_links", "local_files", "hint"}
    assert body["media_links"] is True and body["local_files"] is True  # dev mode
    page = httpx.get(service.base_url, timeout=5).text
    # The page lists the kinds of link the hint names (tests/test_page.py reads them in a browser).
    listed = re.search(r'<ul id="kinds"[^>]*>(.*?)</ul>', page, re.S)
    assert listed is not None
    kinds = [html.unescape(k) for k in re.findall(r"<li>(.*?)</li>", listed.group(1))]
    assert kinds and all(kind in body["hint"] for kind in kinds), kinds
    assert [p["links"] for p in body["platforms"]] == kinds[: len(body["platforms"])]
    assert "{{" not in page
    if not body["platforms"]:  # the placeholder shows a link this server takes
        assert 'placeholder="https://videos.example.com/carbonara.mp4"' in page
    token = service.token("00000000-0000-4000-8000-00000000c0de")
    refused = httpx.post(
        f"{service.base_url}/scrape/async",
        json={"url": "ftp://example.com/v.mp4"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert refused.status_code == 422 and refused.json()["error"] == "unsupported_url"
    assert body["hint"] in refused.json()["message"]
    for platform in body["platforms"]:
        assert platform["name"] in body["hint"]


def test_a_link_shared_with_other_tracking_parameters_is_one_task(
    service: Service, gated: GatedVideoServer
) -> None:
    token = service.token("00000000-0000-4000-8000-00000000d00d")
    headers = {"Authorization": f"Bearer {token}"}
    ids = []
    for suffix in ("?utm_source=instagram&igshid=abc", "?fbclid=IwAR0#t=3"):
        answer = httpx.post(
            f"{service.base_url}/scrape/async",
            json={"url": gated.url + suffix},
            headers=headers,
            timeout=5,
        )
        assert answer.status_code in (200, 202), answer.text
        ids.append(answer.json()["task_id"])
    gated.release()
    assert ids[0] == ids[1]
    assert gated.requests <= 1
