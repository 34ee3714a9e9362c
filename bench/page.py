"""A recipe page against the video path on the same dish (issue 12).

    .venv/bin/python -m bench.page [--rounds 3] [--latency 1.5]

Both through the real pipeline (`run_task`: scrape → media → extract → store)
in this process, on a private redis-server, in the same run:

* video: the bundled sample (`resimply/samples/carbonara.mp4`, its caption
  next to it), read by the real `OpenAIExtractor` against the fake OpenAI
  server (which bills tokens by OpenAI's rules; a chat completion takes
  `--latency` seconds, as in bench.cache);
* page: a page holding the same carbonara recipe as schema.org JSON-LD
  (tests/pages/carbonara.html), served by a local HTTP server.

Figures per path: wall time from the start of the task to its SUCCESS (median
over the rounds), model requests, tokens and dollars, and whether the video was
downloaded. Expected: the page costs 0 tokens and needs no download.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import dataclasses
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import structlog
from redis.asyncio import Redis

from resimply.costs import pricing_of
from resimply.keys import Keys
from resimply.media.analyze import MediaLimits
from resimply.models import TaskResult
from resimply.pipeline import PipelineDeps, run_task
from resimply.providers.direct import DirectScraper
from resimply.providers.openai_extractor import OpenAIExtractor
from resimply.providers.sqlite_store import SqliteRecipeStore
from resimply.sample import SAMPLE_VIDEO
from resimply.settings import Settings
from resimply.tasks import TaskStore
from tests.fakes.openai import API_KEY, OpenAIFakeState, make_openai_app
from tests.fakes.server import start_fake
from tests.pages.server import PageServer
from tests.servers import redis_server

USER = "00000000-0000-4000-8000-0000000000be"


@dataclasses.dataclass
class Row:
    name: str
    seconds: list[float] = dataclasses.field(default_factory=list)
    requests: int = 0
    tokens: int = 0
    usd: float = 0.0
    downloads: int = 0
    evidence: list[str] = dataclasses.field(default_factory=list)
    title: str = ""
    ingredients: int = 0


async def _one(
    deps: PipelineDeps, url: str, row: Row, pages: PageServer, caption: str | None = None
) -> None:
    """One task through the pipeline, its figures added to `row`."""
    submission = await deps.tasks.create(
        user_id=USER,
        url=url,
        canonical_url=url,
        language=None,
        caption=caption,
        idempotency_key=None,
    )
    served = len(pages.requests)
    start = time.perf_counter()
    status = await run_task(deps, submission.task_id)
    row.seconds.append(time.perf_counter() - start)
    record = await deps.tasks.get(submission.task_id)
    assert status == "SUCCESS" and record is not None and record.result is not None, status
    result: TaskResult = record.result
    usage = result.usage
    assert usage is not None
    row.requests += usage.requests
    row.tokens += usage.prompt_tokens + usage.completion_tokens
    row.usd += usage.total_usd or 0.0
    row.downloads += sum(p.endswith(".mp4") for p in pages.requests[served:])
    row.evidence = result.evidence or []
    row.title = result.recipe.title
    row.ingredients = len(result.recipe.ingredients)


async def main_async(rounds: int, latency: float) -> int:
    state = OpenAIFakeState(latency_s=latency)
    runner, openai_url = await start_fake(make_openai_app(state))
    pages = PageServer()
    executor = concurrent.futures.ThreadPoolExecutor(2)
    settings = dataclasses.replace(
        Settings.from_env(),
        extractor="openai",
        openai_api_key=API_KEY,
        openai_base_url=f"{openai_url}/v1",
    )
    extractor = OpenAIExtractor(settings)
    try:
        with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as redis_url:
            redis = Redis.from_url(redis_url)
            deps = PipelineDeps(
                tasks=TaskStore(
                    redis, Keys("bench-page:"), ttl_s=600, stream_maxlen=100, dedupe_ttl_s=600
                ),
                scraper=DirectScraper(dev=True, allow_private_urls=True),
                extractor=extractor,
                store=SqliteRecipeStore(Path(tmp) / "recipes.sqlite3"),
                transcriber=None,
                executor=executor,
                limits=MediaLimits.from_settings(settings),
                work_dir=Path(tmp) / "work",
                download_timeout_s=60,
                job_timeout_s=120,
                pricing=pricing_of(settings),
                allow_private_urls=True,
            )
            # The sample served over HTTP, like a video link; its caption comes
            # from the request in real use, so it is sent here too.
            video = Row("video (sample .mp4 + OpenAI)")
            page = Row("page (schema.org JSON-LD)")
            caption = SAMPLE_VIDEO.with_suffix(".txt").read_text()
            for _ in range(rounds):
                await _one(deps, pages.url("carbonara.mp4"), video, pages, caption)
                await _one(deps, pages.url("carbonara.html"), page, pages)
            await redis.aclose()
    finally:
        await extractor.aclose()
        await runner.cleanup()
        pages.close()
        executor.shutdown()

    print(
        f"Recipe page against the video path, same dish (carbonara), {rounds} round(s); "
        f"model: {settings.openai_model} (fake, {latency:g} s a completion)\n"
    )
    print(
        f"  {'path':<30} {'median s':>9} {'min s':>7} {'requests':>8} {'tokens':>8} "
        f"{'USD':>10} {'.mp4 GETs':>9}  evidence / recipe"
    )
    for row in (video, page):
        print(
            f"  {row.name:<30} {statistics.median(row.seconds):>9.3f} {min(row.seconds):>7.3f} "
            f"{row.requests / rounds:>8.1f} {row.tokens / rounds:>8.0f} "
            f"{row.usd / rounds:>10.6f} {row.downloads / rounds:>9.1f}  "
            f"{','.join(row.evidence)} / {row.title!r}, {row.ingredients} ingredients"
        )
    speedup = statistics.median(video.seconds) / statistics.median(page.seconds)
    print(f"\n  page is {speedup:.1f}x faster per recipe, {page.tokens} tokens in all")
    ok = page.tokens == 0 and page.requests == 0 and page.downloads == 0
    print("  OK: the page path made no model call and no download" if ok else "  FAILED")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--latency", type=float, default=1.5, help="seconds a fake completion takes"
    )
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    return asyncio.run(main_async(args.rounds, args.latency))


if __name__ == "__main__":
    sys.exit(main())
