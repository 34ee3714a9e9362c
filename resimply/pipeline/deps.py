"""What the pipeline needs, passed in explicitly (never arq's `ctx` dict)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import Executor
from pathlib import Path

from ..costs import Pricing
from ..drafts import DraftStore
from ..media.analyze import MediaLimits
from ..media.processes import MediaProcesses
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
    executor: Executor  # audio extraction; the media step's CPU work too without processes
    limits: MediaLimits
    work_dir: Path
    download_timeout_s: float
    job_timeout_s: float
    cache: ExtractionCache | None = None  # None: every video is read afresh
    pricing: Pricing = dataclasses.field(default_factory=Pricing)
    # Decoding, thumbnails and JPEGs in processes (arq workers); None: in `executor`.
    media_processes: MediaProcesses | None = None
    # Links found in captions (`steps.linked_recipe`) may reach private addresses
    # (development and tests); posts whose own video may do so allow it too.
    allow_private_urls: bool = False
    # Where failed tasks keep what they read (resimply/drafts.py); None: nowhere.
    drafts: DraftStore | None = None
