"""The local pipeline's dependencies, for tests that run it in-process.

Real parts throughout: the task store on the test's Redis, the direct scraper,
the offline extractor and a SQLite recipe book in the test's directory. A test
overrides what it is about (`extractor=Counting()`, `cache=...`, `limits=...`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from resimply.keys import Keys
from resimply.media.analyze import MediaLimits
from resimply.pipeline import PipelineDeps
from resimply.providers.direct import DirectScraper
from resimply.providers.offline import OfflineExtractor
from resimply.providers.sqlite_store import SqliteRecipeStore
from resimply.settings import Settings
from resimply.tasks import TaskStore


@contextlib.asynccontextmanager
async def local_pipeline(
    redis: Redis, key_prefix: str, tmp_path: Path, **overrides: Any
) -> AsyncIterator[PipelineDeps]:
    executor = concurrent.futures.ThreadPoolExecutor(2)
    defaults: dict[str, Any] = {
        "tasks": TaskStore(redis, Keys(key_prefix), ttl_s=600, stream_maxlen=100, dedupe_ttl_s=600),
        "scraper": DirectScraper(dev=True, allow_private_urls=True),
        "extractor": OfflineExtractor(),
        "store": SqliteRecipeStore(tmp_path / "recipes.sqlite3"),
        "transcriber": None,
        "executor": executor,
        "limits": MediaLimits.from_settings(Settings()),
        "work_dir": tmp_path / "work",
        "download_timeout_s": 30,
        "job_timeout_s": 60,
    }
    try:
        yield PipelineDeps(**{**defaults, **overrides})
    finally:
        executor.shutdown()
