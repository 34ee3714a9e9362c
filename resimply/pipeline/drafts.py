"""The pipeline's side of drafts (resimply/drafts.py): keep what a failed task
read, and run a task again from a draft instead of from its link."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time

import msgspec
import structlog

from ..drafts import (
    DRAFT_ERRORS,
    FRAME_EDGE,
    MAX_FRAME_BYTES,
    Draft,
    DraftFrame,
    cut,
    iso,
    pick_frames,
)
from ..errors import ExtractionFailed, ResimplyError
from ..models import Recipe, Source
from ..pages.images import thumbnail_jpeg
from ..providers.base import Extraction, ExtractionInput, Extractor, Frame, ScrapedPost
from ..providers.offline import OfflineExtractor
from ..tasks import TaskRecord
from .deps import PipelineDeps
from .progress import TaskProgress
from .steps import STEP_NAMES, MediaResult

log = structlog.get_logger(__name__)

FROM_DRAFT = "Not needed: read again from the saved draft"


@dataclasses.dataclass
class Reading:
    """What the running task has read so far (filled in as the steps run)."""

    post: ScrapedPost | None = None
    media: MediaResult | None = None
    draft: Draft | None = None  # the task runs from this draft (a retry)
    # What the extractor had read when the task stopped, for a streaming extractor
    # to set as it goes (issue 15, partial recipes); also read from the error's
    # `partial` attribute when it has one.
    partial: Recipe | None = None


async def keep(
    deps: PipelineDeps, record: TaskRecord, reading: Reading, error: ResimplyError
) -> str | None:
    """Save the reading of a task ending with `error` as a draft; its id, or None
    when this error or this reading leaves none. Best-effort: a draft that cannot
    be written is logged, and the task still ends with its error."""
    store = deps.drafts
    if store is None or not store.enabled or error.code not in DRAFT_ERRORS:
        return None
    if reading.draft is not None:
        # A retry failed again: the same draft, now saying how this run ended.
        draft = msgspec.structs.replace(
            reading.draft,
            task_id=record.task_id,
            error=error.code,
            message=error.message,
            language=record.language,
            expires_at=iso_in(store.ttl_s),
        )
    elif reading.post is not None and reading.media is not None:
        draft = _from_media(record, reading.post, reading.media, error, store.stamp())
        draft = msgspec.structs.replace(draft, frames=await _shrink(deps, draft.frames))
    else:
        return None  # the media step had not finished: nothing worth keeping was read
    partial = getattr(error, "partial", None)
    partial = partial if isinstance(partial, Recipe) else reading.partial
    if partial is not None:
        draft = msgspec.structs.replace(draft, partial=partial)
    try:
        await store.save(record.user_id, draft)
    except Exception as exc:
        log.warning("draft_not_saved", error=type(exc).__name__)
        return None
    log.info("draft_saved", draft_id=draft.draft_id, frames=len(draft.frames))
    return draft.draft_id


def iso_in(seconds: int) -> str:
    return iso(time.time() + seconds)


def _from_media(
    record: TaskRecord,
    post: ScrapedPost,
    media: MediaResult,
    error: ResimplyError,
    stamp: tuple[str, str, str],
) -> Draft:
    # Only the post's public description: never post.video (a signed URL, request
    # headers with cookies) and never the video's bytes.
    source = Source(
        platform=post.platform,
        url=post.url,
        video_id=post.video_id,
        author=post.author,
        caption=cut(post.caption),
        thumbnail_url=post.thumbnail_url,
    )
    frames = [
        DraftFrame(timestamp=f.timestamp, jpeg=f.jpeg, width=f.width, height=f.height)
        for f in media.analysis.frames
    ]
    draft_id, created_at, expires_at = stamp
    return Draft(
        draft_id=draft_id,
        created_at=created_at,
        expires_at=expires_at,
        task_id=record.task_id,
        url=record.url,
        error=error.code,
        message=error.message,
        language=record.language,
        source=source,
        source_language=post.language or media.subtitle_language,
        caption=cut(post.caption),
        subtitles=cut(media.subtitles),
        transcript=cut(media.transcript.text if media.transcript else None),
        # On-screen text the media step read (OCR: media/ocr.py).
        screen_text=cut(media.analysis.screen.text()),
        frames=pick_frames(frames),  # made small by `_shrink`
        text_complete=media.text_complete,
    )


async def _shrink(deps: PipelineDeps, frames: list[DraftFrame]) -> list[DraftFrame]:
    """Each frame at most FRAME_EDGE px and MAX_FRAME_BYTES (JPEG work: in the executor)."""
    loop = asyncio.get_running_loop()
    small: list[DraftFrame] = []
    for frame in frames:
        encode = functools.partial(
            thumbnail_jpeg, frame.jpeg, keep_jpeg_bytes=MAX_FRAME_BYTES // 2, max_edge=FRAME_EDGE
        )
        jpeg = await loop.run_in_executor(deps.executor, encode)
        if jpeg is None or len(jpeg) > MAX_FRAME_BYTES:
            continue
        if jpeg is not frame.jpeg:  # encoded again, scaled as thumbnail_jpeg scales
            scale = min(1.0, FRAME_EDGE / max(frame.width, frame.height, 1))
            width, height = (
                max(2, int(side * scale) // 2 * 2) for side in (frame.width, frame.height)
            )
            frame = DraftFrame(timestamp=frame.timestamp, jpeg=jpeg, width=width, height=height)
        small.append(frame)
    return small


def extractor_for(deps: PipelineDeps, name: str | None) -> Extractor:
    """The extractor a retry asked for: the worker's own, or the offline one
    (free, always at hand). The web tier only accepts those names."""
    if name is None or name == deps.extractor.name:
        return deps.extractor
    if name == OfflineExtractor.name:
        return OfflineExtractor()
    raise ExtractionFailed(
        f'This server cannot read recipes with the "{name}" extractor; retry the draft '
        f'with "{deps.extractor.name}" or "offline".',
        retryable=False,
    )


async def extract(
    deps: PipelineDeps, record: TaskRecord, draft: Draft, progress: TaskProgress
) -> Extraction:
    """Steps 2–4 of a retry: nothing is scraped or downloaded; the draft's reading
    goes to the extractor, in the language the retry asked for."""
    for step in (2, 3):
        await progress.begin(step, STEP_NAMES[step], FROM_DRAFT)
    extractor = extractor_for(deps, record.extractor)
    await progress.begin(4, STEP_NAMES[4], f"Using the {extractor.name} extractor")
    data = ExtractionInput(
        caption=draft.caption,
        subtitles=draft.subtitles,
        transcript=draft.transcript,
        frames=tuple(
            Frame(timestamp=f.timestamp, jpeg=f.jpeg, width=f.width, height=f.height)
            for f in draft.frames
        ),
        language=record.language,
        source_language=draft.source_language,
        text_complete=draft.text_complete,
        # Read again like the first time: the text shown on screen counts as a source.
        screen=draft.screen_text,
        screen_status="read" if draft.screen_text else "off",
    )
    extraction = await extractor.extract(data, progress)
    return Extraction(
        recipe=msgspec.structs.replace(extraction.recipe, source=draft.source),
        others=tuple(msgspec.structs.replace(r, source=draft.source) for r in extraction.others),
        usage=extraction.usage,
        evidence=extraction.evidence,
    )
