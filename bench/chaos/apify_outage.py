"""Apify failing: how long until a link is answered by the yt-dlp fallback, or refused.

    python -m bench.chaos apify_outage

The router (providers/routing.py) with the real Apify scrapers and apify-client
against the fake Apify API on loopback, whose actor runs take `RUN_S`; yt-dlp's
role is played by a stand-in that answers at once (the real one's own time is
its own benchmark), so the figures are what the Apify side adds. Baseline: the
same Reel with Apify healthy. Faults: the actor run FAILS; the API answers 503
to everything (Apify down) until `RESIMPLY_UPSTREAM_DEADLINE_S` (here
`DEADLINE_S`); the same with the fallback off; a deleted post (never falls back).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from resimply import errors
from resimply.links import post_id
from resimply.models import ScrapeRequest
from resimply.providers.apify import ApifyScraper
from resimply.providers.apify_instagram import ApifyInstagramScraper
from resimply.providers.base import ProgressReporter, ScrapedPost, VideoRef
from resimply.providers.direct import DirectScraper
from resimply.providers.routing import RoutingScraper
from resimply.settings import Settings
from tests.fakes.apify import (
    TOKEN,
    ApifyFakeState,
    Failure,
    FakeInstagramPost,
    make_apify_app,
    make_instagram_item,
)
from tests.fakes.server import start_fake

RUN_S = 1.0
DEADLINE_S = 5.0
REEL = "C9xYz_AbC12"
URL = f"https://www.instagram.com/reel/{REEL}/"
USER = "00000000-0000-4000-8000-000000000001"


class _Quiet:
    async def update(self, details: str, fraction: float | None = None) -> None:
        pass


class _YtDlpStandIn:
    name = "ytdlp"
    platforms = frozenset({"tiktok", "instagram", "youtube"})

    def __init__(self) -> None:
        self.calls = 0

    def accepts(self, url: str) -> bool:
        return post_id(url) is not None

    async def scrape(self, request: ScrapeRequest, progress: ProgressReporter) -> ScrapedPost:
        self.calls += 1
        found = post_id(request.url)
        assert found is not None
        return ScrapedPost(
            platform=found[0],
            url=request.url,
            video=VideoRef(url="https://cdn.example/v.mp4"),
            video_id=found[1],
        )

    async def aclose(self) -> None:
        pass


async def _one(
    base: str, state: ApifyFakeState, url: str, *, fallback: bool
) -> tuple[float, str, int, int]:
    """(seconds, outcome, Apify runs started, yt-dlp calls) for one scrape."""
    settings = Settings(
        apify_api_token=TOKEN, apify_api_url=base, upstream_deadline_s=DEADLINE_S, http_timeout_s=5
    )
    ytdlp = _YtDlpStandIn()
    router = RoutingScraper(
        {"tiktok": ApifyScraper(settings), "instagram": ApifyInstagramScraper(settings)},
        direct=DirectScraper(dev=False, allow_private_urls=False),
        fallback=ytdlp if fallback else None,
    )
    runs = len(state.runs)
    started = time.monotonic()
    try:
        await router.scrape(ScrapeRequest(url=url, user_id=USER), _Quiet())
        outcome = "post"
    except errors.TaskError as exc:
        outcome = f"{exc.code}{' (retryable)' if exc.retryable else ''}"
    elapsed = time.monotonic() - started
    await router.aclose()
    return elapsed, outcome, len(state.runs) - runs, ytdlp.calls


async def _scenarios() -> list[tuple[str, tuple[float, str, int, int]]]:
    state = ApifyFakeState(run_duration_s=RUN_S)
    state.add_instagram_post(REEL, FakeInstagramPost(item=make_instagram_item(REEL), video=b"v"))
    runner, base = await start_fake(make_apify_app(state))
    rows: list[tuple[str, Any]] = []
    try:
        rows.append(("baseline: Apify healthy", await _one(base, state, URL, fallback=True)))
        state.run_status = "FAILED"
        state.instagram_posts[REEL].run_status = "FAILED"
        rows.append(("actor run FAILED → yt-dlp", await _one(base, state, URL, fallback=True)))
        state.instagram_posts[REEL].run_status = None
        state.run_status = "SUCCEEDED"
        state.failures.append(Failure("*", 503, times=10**6))
        rows.append(("Apify API down (503) → yt-dlp", await _one(base, state, URL, fallback=True)))
        rows.append(("Apify API down, fallback off", await _one(base, state, URL, fallback=False)))
        state.failures.clear()
        gone = "https://www.instagram.com/p/Cdeleted123/"
        rows.append(("deleted post (no fallback)", await _one(base, state, gone, fallback=True)))
    finally:
        await runner.cleanup()
    return rows


def main() -> None:
    rows = asyncio.run(_scenarios())
    print(f"actor run time {RUN_S:g} s, upstream deadline {DEADLINE_S:g} s")
    print(f"{'scenario':34} {'seconds':>8}  {'outcome':28} {'apify runs':>10} {'yt-dlp':>6}")
    for name, (seconds, outcome, runs, calls) in rows:
        print(f"{name:34} {seconds:8.2f}  {outcome:28} {runs:10d} {calls:6d}")


if __name__ == "__main__":
    main()
