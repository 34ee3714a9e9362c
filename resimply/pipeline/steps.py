"""The five steps of API.md, each a coroutine with typed inputs and one output.

init → scrape → media → extract → store
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path

import msgspec
import structlog

from .. import metrics
from ..errors import TaskError, UnsupportedUrl
from ..media.analyze import MediaAnalysis, analyze_video
from ..media.audio import extract_audio
from ..media.download import download
from ..media.subtitles import subtitle_text
from ..models import Recipe, ScrapeRequest, Source
from ..pages import parse_page
from ..pages.fetch import fetch_page, fetch_small
from ..pages.images import thumbnail_jpeg
from ..pages.links import recipe_links
from ..providers.base import (
    Extraction,
    ExtractionInput,
    ScrapedPost,
    SubtitleTrack,
    Transcriber,
    Transcript,
)
from ..providers.routing import refusal
from .cache import CachedExtraction, platform_id_of_link
from .deps import PipelineDeps
from .evidence import text_holds_recipe
from .progress import TaskProgress

log = structlog.get_logger(__name__)

STEP_NAMES = {
    2: "Fetching the post",
    3: "Processing video",
    4: "Reading the recipe",
}
FROM_CACHE = "From cache"
FROM_PAGE = "Not needed: the recipe page holds the written recipe"


async def init(
    deps: PipelineDeps, request: ScrapeRequest, progress: TaskProgress, *, restarted: bool = False
) -> None:
    """Step 1: the link is checked again here because the worker may run a
    different scraper configuration than the web process that accepted it.
    `restarted`: an earlier run stopped midway (its worker was stopped or died),
    and watchers see the steps start over, so say why."""
    details = "Starting again: the previous run was interrupted" if restarted else request.url
    await progress.begin(1, "Validating link", details)
    if not deps.scraper.accepts(request.url):
        raise UnsupportedUrl(refusal(deps.scraper, request.url))


@metrics.timed_step("scrape")
async def scrape(deps: PipelineDeps, request: ScrapeRequest, progress: TaskProgress) -> ScrapedPost:
    """Step 2: caption, video location and subtitles of the post."""
    await progress.begin(2, STEP_NAMES[2], f"Using the {deps.scraper.name} scraper")
    return await deps.scraper.scrape(request, progress)


@dataclasses.dataclass(frozen=True)
class MediaResult:
    analysis: MediaAnalysis
    subtitles: str | None
    subtitle_language: str | None
    transcript: Transcript | None = None
    # Caption + subtitles alone hold a complete recipe (`evidence.text_holds_recipe`).
    text_complete: bool = False


@metrics.timed_step("media")
async def media(
    deps: PipelineDeps,
    post: ScrapedPost,
    work_dir: Path,
    progress: TaskProgress,
    language: str | None,
) -> MediaResult:
    """Step 3: video to disk (size-capped), probe, frames, subtitles."""
    await progress.begin(3, STEP_NAMES[3], "Downloading the video")
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
        path,
        limits=deps.limits,
        progress=progress,
        executor=deps.executor,
        processes=deps.media_processes,
    )
    track = choose_subtitles(
        [*post.subtitles, *analysis.embedded_subtitles], language or post.language
    )
    text = subtitle_text(track.text) if track else None
    # Parsing is milliseconds of bounded CPU work (offline.parse.MAX_CHARS).
    complete = text_holds_recipe(post.caption, text, analysis.screen.text())
    transcript = None
    # A caption that already holds the recipe makes speech worth no paid transcription.
    if not text and not complete and analysis.info.has_audio and deps.transcriber is not None:
        transcript = await transcribe(deps, deps.transcriber, path, work_dir, progress, language)
    return MediaResult(
        analysis, text or None, track.language if track else None, transcript, complete
    )


async def transcribe(
    deps: PipelineDeps,
    transcriber: Transcriber,
    video: Path,
    work_dir: Path,
    progress: TaskProgress,
    language: str | None,
) -> Transcript | None:
    """No subtitles but an audio track: what is said often is the recipe."""
    await progress.update("Transcribing speech", 0.9)
    loop = asyncio.get_running_loop()
    audio = await loop.run_in_executor(
        deps.executor,
        functools.partial(extract_audio, video, work_dir, max_seconds=deps.limits.max_duration_s),
    )
    if audio is None:
        return None
    return await transcriber.transcribe(audio, language=language, progress=progress)


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


@metrics.timed_step("extract")
async def extract(
    deps: PipelineDeps,
    request: ScrapeRequest,
    post: ScrapedPost,
    media_result: MediaResult,
    progress: TaskProgress,
) -> Extraction:
    """Step 4: the recipe, read from caption, subtitles and frames."""
    await progress.begin(4, STEP_NAMES[4], f"Using the {deps.extractor.name} extractor")
    data = ExtractionInput(
        caption=post.caption,
        subtitles=media_result.subtitles,
        transcript=media_result.transcript.text if media_result.transcript else None,
        frames=media_result.analysis.frames,
        language=request.language,
        source_language=post.language or media_result.subtitle_language,
        text_complete=media_result.text_complete,
        screen=media_result.analysis.screen.text(),
        screen_status=media_result.analysis.screen.status,
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
        recipe=msgspec.structs.replace(extraction.recipe, source=source),
        usage=extraction.usage,
        evidence=extraction.evidence,
        others=tuple(msgspec.structs.replace(r, source=source) for r in extraction.others),
    )


async def cached_for_link(deps: PipelineDeps, request: ScrapeRequest) -> CachedExtraction | None:
    """Before step 2: a recipe already read from the video the link names, if any.

    Only links that carry the platform's video id (a TikTok link with
    `/video/<id>`) can be looked up this early; a short link is looked up after
    the scrape (`cached_for_post`). A hit skips the scraper run, the download
    and the model call.
    """
    if deps.cache is None:
        return None
    found = platform_id_of_link(request.url)
    if found is None:
        return None
    return await deps.cache.get(*found, request.language)


async def cached_for_post(
    deps: PipelineDeps, request: ScrapeRequest, post: ScrapedPost
) -> CachedExtraction | None:
    """After step 2: the recipe already read from this post's video, if any."""
    if deps.cache is None:
        return None
    return await deps.cache.get(post.platform, post.video_id, request.language)


async def skip_from_cache(progress: TaskProgress, first: int) -> None:
    """Steps `first`..4 are not run: announce each, so clients still see 1–5."""
    for step in range(first, 5):
        await progress.begin(step, STEP_NAMES[step], FROM_CACHE)


async def remember(
    deps: PipelineDeps,
    request: ScrapeRequest,
    task_id: str,
    post: ScrapedPost,
    extraction: Extraction,
    thumbnail: bytes | None,
) -> None:
    """Keep a successful extraction for the next user who shares the same video."""
    if deps.cache is None:
        return
    await deps.cache.put(
        post.platform,
        post.video_id,
        request.language,
        recipe=extraction.recipe,
        thumbnail=thumbnail,
        evidence=extraction.evidence,
        task_id=task_id,
        others=extraction.others,
    )


@metrics.timed_step("store")
async def store(
    deps: PipelineDeps,
    request: ScrapeRequest,
    task_id: str,
    recipes: Sequence[Recipe],
    thumbnail: bytes | None,
    progress: TaskProgress,
) -> list[Recipe]:
    """Step 5: the post's recipes stored once per task id (one row each, in
    order), however often the job runs."""
    await progress.begin(5, "Saving the recipe", f"Saving to the {deps.store.name} recipe book")
    if len(recipes) == 1:
        # The common case goes through `save`, which every store has had from the start.
        return [
            await deps.store.save(
                user_id=request.user_id, task_id=task_id, recipe=recipes[0], thumbnail=thumbnail
            )
        ]
    return await deps.store.save_all(
        user_id=request.user_id, task_id=task_id, recipes=recipes, thumbnail=thumbnail
    )


def _allow_private(deps: PipelineDeps, post: ScrapedPost) -> bool:
    return deps.allow_private_urls or post.video.allow_private


async def linked_recipe(
    deps: PipelineDeps, post: ScrapedPost, progress: TaskProgress
) -> Recipe | None:
    """After step 2: the written recipe a link in the caption leads to, if any.

    "Full recipe: https://…" — the creator's own amounts beat those read off a
    video, and cost no model call. At most two links (`pages.links`), fetched
    with the page rules; a link that fails or holds no Recipe is passed over
    with one log line, and the video path goes on.
    """
    links = recipe_links(post.caption)
    for url in links:
        await progress.update("Looking at the recipe link in the caption")
        try:
            got = await fetch_page(url, allow_private=_allow_private(deps, post))
        except TaskError as exc:
            log.info("caption_link_unreadable", error=exc.code)
            continue
        if got.body is None:
            log.info("caption_link_not_a_page", content_type=got.content_type)
            continue
        try:
            content = await asyncio.to_thread(parse_page, got.text(), got.url, want_video=False)
        except Exception as exc:
            log.info("caption_link_unreadable", error=type(exc).__name__)
            continue
        if content.recipe is not None:
            log.info("caption_link_recipe", links=len(links))
            return content.recipe
        log.info("caption_link_no_recipe")
    return None


async def skip_for_page(progress: TaskProgress) -> None:
    """Steps 3 and 4 are not run: the recipe is written out on a page."""
    for step in (3, 4):
        await progress.begin(step, STEP_NAMES[step], FROM_PAGE)


async def page_thumbnail(deps: PipelineDeps, post: ScrapedPost, recipe: Recipe) -> bytes | None:
    """The picture for the book without downloading the video: the post's
    thumbnail (the video's cover), else the recipe page's image. Small
    (`pages.fetch.SMALL_MAX_BYTES`), made a JPEG (stores keep JPEG) in the
    executor; a picture that cannot be had is no error."""
    image = recipe.source.thumbnail_url if recipe.source else None
    loop = asyncio.get_running_loop()
    for url in dict.fromkeys(u for u in (post.thumbnail_url, image) if u):
        try:
            data = await fetch_small(
                url,
                allow_private=_allow_private(deps, post),
                accept=lambda content_type: content_type.startswith("image/"),
            )
        except TaskError as exc:
            log.info("thumbnail_unavailable", error=exc.code)
            continue
        jpeg = await loop.run_in_executor(deps.executor, thumbnail_jpeg, data)
        if jpeg is not None:
            return jpeg
        log.info("thumbnail_unreadable")
    return None


def written_extraction(post: ScrapedPost, recipe: Recipe, *, via_caption: bool) -> Extraction:
    """A page's recipe as an extraction: no usage (no model), evidence "page"."""
    source = Source(
        platform=post.platform,
        url=post.url,
        video_id=post.video_id,
        author=post.author or (recipe.source.author if recipe.source else None),
        caption=post.caption,
        thumbnail_url=post.thumbnail_url
        or (recipe.source.thumbnail_url if recipe.source else None),
    )
    return Extraction(
        recipe=msgspec.structs.replace(recipe, source=source),
        evidence=("caption", "page") if via_caption else ("page",),
    )
