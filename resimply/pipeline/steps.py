"""The five steps of API.md, each a coroutine with typed inputs and one output.

init → scrape → media → extract → store
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import msgspec

from ..errors import UnsupportedUrl
from ..media.analyze import MediaAnalysis, analyze_video
from ..media.download import download
from ..media.subtitles import subtitle_text
from ..models import Recipe, ScrapeRequest, Source
from ..providers.base import Extraction, ExtractionInput, ScrapedPost, SubtitleTrack
from .deps import PipelineDeps
from .progress import TaskProgress


async def init(deps: PipelineDeps, request: ScrapeRequest, progress: TaskProgress) -> None:
    """Step 1: the link is checked again here because the worker may run a
    different scraper configuration than the web process that accepted it."""
    await progress.begin(1, "Validating link", request.url)
    if not deps.scraper.accepts(request.url):
        raise UnsupportedUrl()


async def scrape(deps: PipelineDeps, request: ScrapeRequest, progress: TaskProgress) -> ScrapedPost:
    """Step 2: caption, video location and subtitles of the post."""
    await progress.begin(2, "Fetching the post", f"Using the {deps.scraper.name} scraper")
    return await deps.scraper.scrape(request, progress)


@dataclasses.dataclass(frozen=True)
class MediaResult:
    analysis: MediaAnalysis
    subtitles: str | None
    subtitle_language: str | None


async def media(
    deps: PipelineDeps,
    post: ScrapedPost,
    work_dir: Path,
    progress: TaskProgress,
    language: str | None,
) -> MediaResult:
    """Step 3: video to disk (size-capped), probe, frames, subtitles."""
    await progress.begin(3, "Processing video", "Downloading the video")
    path = await download(
        post.video,
        work_dir / "video",
        max_bytes=deps.limits.max_bytes,
        timeout_s=deps.download_timeout_s,
        progress=progress,
        # No shared session: download() builds one whose resolver refuses private
        # addresses at connect time unless this video is allowed to use them.
    )
    analysis = await analyze_video(
        path, limits=deps.limits, progress=progress, executor=deps.executor
    )
    track = choose_subtitles(
        [*post.subtitles, *analysis.embedded_subtitles], language or post.language
    )
    text = subtitle_text(track.text) if track else None
    return MediaResult(analysis, text or None, track.language if track else None)


def choose_subtitles(tracks: list[SubtitleTrack], language: str | None) -> SubtitleTrack | None:
    """The requested (or the video's) language first, else the first track found.

    Track languages come as "en", "eng", "eng-US" or "de-DE": compare the first
    two letters, which is right for the languages TikTok and containers use.
    """
    usable = [t for t in tracks if t.text.strip()]
    if not usable:
        return None
    if language:
        wanted = language[:2].lower()
        for track in usable:
            if track.language and track.language[:2].lower() == wanted:
                return track
    return usable[0]


async def extract(
    deps: PipelineDeps,
    request: ScrapeRequest,
    post: ScrapedPost,
    media_result: MediaResult,
    progress: TaskProgress,
) -> Extraction:
    """Step 4: the recipe, read from caption, subtitles and frames."""
    await progress.begin(4, "Reading the recipe", f"Using the {deps.extractor.name} extractor")
    data = ExtractionInput(
        caption=post.caption,
        subtitles=media_result.subtitles,
        transcript=None,
        frames=media_result.analysis.frames,
        language=request.language,
        source_language=post.language or media_result.subtitle_language,
    )
    extraction = await deps.extractor.extract(data, progress)
    source = Source(
        platform=post.platform,
        url=post.url,
        video_id=post.video_id,
        author=post.author,
        caption=post.caption,
        thumbnail_url=post.thumbnail_url,
    )
    return Extraction(
        recipe=msgspec.structs.replace(extraction.recipe, source=source), usage=extraction.usage
    )


async def store(
    deps: PipelineDeps, request: ScrapeRequest, task_id: str, recipe: Recipe, progress: TaskProgress
) -> Recipe:
    """Step 5: one stored recipe per task id, however often the job runs."""
    await progress.begin(5, "Saving the recipe", f"Saving to the {deps.store.name} recipe book")
    return await deps.store.save(user_id=request.user_id, task_id=task_id, recipe=recipe)
