"""What the pipeline needs, passed in explicitly (never arq's `ctx` dict)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import Executor
from pathlib import Path

from ..costs import Pricing
from ..media.analyze import MediaLimits
from ..providers.base import Extractor, RecipeStore, Scraper, Transcriber
from ..tasks import TaskStore
from .cache import ExtractionCache


@dataclasses.dataclass(frozen=True, kw_only=True)
class PipelineDeps:
    tasks: TaskStore
    scraper: Scraper
    extractor: Extractor
    store: RecipeStore
    transcriber: Transcriber | None  # None: videos without subtitles go without speech
    executor: Executor
    limits: MediaLimits
    work_dir: Path
    download_timeout_s: float
    job_timeout_s: float
    cache: ExtractionCache | None = None  # None: every video is read afresh
    pricing: Pricing = dataclasses.field(default_factory=Pricing)
