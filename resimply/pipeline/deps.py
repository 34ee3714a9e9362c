"""What the pipeline needs, passed in explicitly (never arq's `ctx` dict)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import Executor
from pathlib import Path

from ..media.analyze import MediaLimits
from ..providers.base import Extractor, RecipeStore, Scraper
from ..tasks import TaskStore


@dataclasses.dataclass(frozen=True, kw_only=True)
class PipelineDeps:
    tasks: TaskStore
    scraper: Scraper
    extractor: Extractor
    store: RecipeStore
    executor: Executor
    limits: MediaLimits
    work_dir: Path
    download_timeout_s: float
    job_timeout_s: float
