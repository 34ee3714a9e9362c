"""The protocols every provider implements, and the values passed between steps."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from ..models import Recipe, ScrapeRequest, Usage


class ProgressReporter(Protocol):
    """Publishes a `progress` message for the current step of the running task."""

    async def update(self, details: str, fraction: float | None = None) -> None: ...


@dataclasses.dataclass(frozen=True, kw_only=True)
class SubtitleTrack:
    language: str | None
    text: str  # WebVTT or plain text, as found
    origin: str = "sidecar"  # request | sidecar | embedded | platform


@dataclasses.dataclass(frozen=True, kw_only=True)
class VideoRef:
    """Where the video's bytes are: a local file, or a URL to stream (with headers)."""

    path: Path | None = None
    url: str | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    # Loopback / private addresses are refused for URLs unless this is set.
    allow_private: bool = False


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScrapedPost:
    platform: str  # "tiktok", "direct", ...
    url: str  # canonical link of the post / media
    video: VideoRef
    video_id: str | None = None
    author: str | None = None
    caption: str | None = None
    subtitles: tuple[SubtitleTrack, ...] = ()
    thumbnail_url: str | None = None
    language: str | None = None
    cost_usd: float | None = None  # what the scraping service charged, when it says
    # A written recipe the scrape already found (a recipe page's schema.org data):
    # the pipeline then skips the media and extract steps (no download, no model).
    recipe: Recipe | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Frame:
    timestamp: float  # seconds from the start
    jpeg: bytes
    width: int
    height: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class MediaInfo:
    duration_s: float
    width: int
    height: int
    has_audio: bool
    size_bytes: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExtractionInput:
    caption: str | None
    subtitles: str | None  # plain text of the chosen subtitle track
    transcript: str | None
    frames: tuple[Frame, ...]
    language: str | None  # the language the user asked for, if any
    source_language: str | None  # the video's language, if known
    # The caption / subtitles alone hold a complete recipe (`pipeline.evidence`):
    # an extractor that pays for images sends few or none.
    text_complete: bool = False
    # Text read on screen by OCR (`media.ocr`), one paragraph per shot, and how
    # the reading went (`ScreenRead.status`: read | partial | off | unavailable | failed).
    screen: str | None = None
    screen_status: str = "off"


def screen_evidence(data: ExtractionInput) -> tuple[str, ...]:
    """ "screen" when on-screen text was read and passed on; "screen_unread" when it
    could not be read because the OCR extra is missing (docs/ocr.md)."""
    if data.screen and data.screen.strip():
        return ("screen",)
    if data.screen_status in ("unavailable", "failed"):
        return ("screen_unread",)
    return ()


@dataclasses.dataclass(frozen=True, kw_only=True)
class Extraction:
    recipe: Recipe
    usage: Usage | None = None  # None for extractors that call no paid service
    # What the recipe was read from: a subset of `models.EVIDENCE`, in its order.
    evidence: tuple[str, ...] = ()
    # The post's further recipes, in its order (a main's sauce, a second dish):
    # each is stored as its own row. `recipe` is the first.
    others: tuple[Recipe, ...] = ()

    @property
    def recipes(self) -> tuple[Recipe, ...]:
        return (self.recipe, *self.others)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Transcript:
    text: str
    language: str | None
    seconds: float  # audio duration billed


class Scraper(Protocol):
    name: str

    def accepts(self, url: str) -> bool:
        """Cheap, synchronous check used by `POST /scrape/async` to answer 422 early."""
        ...

    async def scrape(self, request: ScrapeRequest, progress: ProgressReporter) -> ScrapedPost: ...

    async def aclose(self) -> None: ...


class Extractor(Protocol):
    name: str

    async def extract(self, data: ExtractionInput, progress: ProgressReporter) -> Extraction:
        """Return the recipe; raise `errors.NotARecipe` when there is none."""
        ...

    async def aclose(self) -> None: ...


class Transcriber(Protocol):
    """Speech to text, used when a video has an audio track but no subtitles."""

    name: str

    async def transcribe(
        self, audio: Path, *, language: str | None, progress: ProgressReporter
    ) -> Transcript: ...

    async def aclose(self) -> None: ...


class RecipeStore(Protocol):
    name: str

    async def save(
        self, *, user_id: str, task_id: str, recipe: Recipe, thumbnail: bytes | None = None
    ) -> Recipe:
        """Store once per task id (a second call returns the first row) and return
        the stored recipe with `id` and `created_at` set. `thumbnail` (JPEG) is kept
        by stores that can serve it; the others ignore it."""
        ...

    async def save_all(
        self,
        *,
        user_id: str,
        task_id: str,
        recipes: Sequence[Recipe],
        thumbnail: bytes | None = None,
    ) -> list[Recipe]:
        """Several recipes of one post, one row each linked to `task_id`, in
        order; once per task id like `save` (a repeat returns the first rows).
        `save` is `save_all` of one recipe."""
        ...

    # Reads happen on behalf of the user: a store that enforces row-level
    # security itself (Supabase) uses the user's `access_token`; others filter
    # by `user_id` and may ignore it.
    async def get(
        self, *, user_id: str, recipe_id: str, access_token: str | None = None
    ) -> Recipe | None: ...

    async def list(
        self, *, user_id: str, limit: int = 50, offset: int = 0, access_token: str | None = None
    ) -> list[Recipe]: ...

    async def aclose(self) -> None: ...
