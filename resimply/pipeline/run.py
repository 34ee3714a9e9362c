"""Runs one task through the five steps and writes exactly one terminal message."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import Sequence
from pathlib import Path

import msgspec
import structlog

from .. import metrics
from ..costs import Pricing
from ..errors import (
    Cancelled,
    ExtractionFailed,
    InternalError,
    ResimplyError,
    StepTimeout,
    TaskError,
)
from ..models import Recipe, Usage
from ..outages import is_unavailable
from ..providers.base import Extraction, ScrapedPost
from ..tasks import TaskRecord
from . import drafts, steps
from .cache import CachedExtraction
from .deps import PipelineDeps
from .progress import TaskProgress

log = structlog.get_logger(__name__)

# arq runs a job again when its worker dies. A task whose job keeps killing
# workers (say, a video that crashes the decoder) must end, not loop forever.
MAX_ATTEMPTS = 3


async def run_task(deps: PipelineDeps, task_id: str, *, attempt: int = 1) -> str:
    """Run the task; returns its final status. Safe to call again for the same task."""
    record = await deps.tasks.get(task_id)
    if record is None:
        log.warning("task_missing")
        return "MISSING"
    if record.status.finished:
        # A retried job whose task already ended (or was cancelled while queued).
        return record.status.value
    if attempt > MAX_ATTEMPTS:
        await deps.tasks.fail(
            record,
            code=InternalError.code,
            text=f"Processing failed {MAX_ATTEMPTS} times in a row and was given up.",
            retryable=True,
        )
        metrics.task_failed(InternalError.code, 0)
        return "FAILURE"

    progress = TaskProgress(deps.tasks, task_id)
    work_dir = deps.work_dir / task_id
    meter = CostMeter()
    reading = drafts.Reading()  # kept as a draft should the task fail after the media step
    status = "INTERRUPTED"  # shutdown or abort: the job runs again elsewhere
    try:
        async with asyncio.timeout(deps.job_timeout_s):
            status = await _run_steps(deps, record, progress, work_dir, meter, attempt, reading)
    except TimeoutError:
        timeout = StepTimeout()
        draft_id = await drafts.keep(deps, record, reading, timeout)
        await _fail(deps, record, timeout, progress.step, draft_id=draft_id)
        status = "FAILURE"
    except Cancelled:
        # The task ended underneath us (DELETE); its terminal message is written.
        status = "CANCELLED"
    except TaskError as exc:
        if exc.spent is not None:
            meter.extraction = exc.spent
        draft_id = await drafts.keep(deps, record, reading, exc)
        await _fail(deps, record, exc, progress.step, draft_id=draft_id)
        status = "FAILURE"
    except asyncio.CancelledError:
        # arq aborts a cancelled job this way, and shuts down this way: in both
        # cases the task's outcome is someone else's to write.
        raise
    except Exception as exc:
        if is_unavailable(exc):
            # Redis is away: no outcome can be written now, and this is no fault
            # of the task. The job is handed back to run later (worker.process_task).
            raise
        log.exception("task_crashed", step=progress.step)
        await _fail(deps, record, InternalError(), progress.step)
        status = "FAILURE"
    finally:
        await asyncio.to_thread(shutil.rmtree, work_dir, True)
        # One line per task with everything it paid for, whatever the outcome.
        meter.log(deps.pricing, status=status, step=progress.step)
        metrics.task_finished(status)
    log.info("task_finished", status=status)
    return status


@dataclasses.dataclass
class CostMeter:
    """What one task has paid for so far, filled in as the steps run."""

    extraction: Usage | None = None
    transcription_seconds: float = 0.0
    actor_usd: float | None = None
    cache_hit: bool = False

    def usage(self, pricing: Pricing) -> Usage:
        base = self.extraction or Usage()
        model_usd = pricing.model_usd(
            model=base.model,
            requests=base.requests,
            prompt_tokens=base.prompt_tokens,
            cached_tokens=base.cached_tokens,
            completion_tokens=base.completion_tokens,
            transcription_seconds=self.transcription_seconds,
        )
        total = None if model_usd is None else round(model_usd + (self.actor_usd or 0.0), 8)
        return msgspec.structs.replace(
            base,
            transcription_seconds=self.transcription_seconds,
            transcription_model=pricing.transcription_model if self.transcription_seconds else None,
            actor_usd=self.actor_usd,
            model_usd=model_usd,
            total_usd=total,
            cache_hit=self.cache_hit,
        )

    def log(self, pricing: Pricing, *, status: str, step: int) -> None:
        usage = self.usage(pricing)
        log.info("task_cost", status=status, step=step, **msgspec.structs.asdict(usage))
        metrics.spent(usage)


async def _run_steps(
    deps: PipelineDeps,
    record: TaskRecord,
    progress: TaskProgress,
    work_dir: Path,
    meter: CostMeter,
    attempt: int,
    reading: drafts.Reading,
) -> str:
    request = record.request
    if record.draft_id is not None:
        return await _from_draft(deps, record, progress, meter, reading, record.draft_id)
    await steps.init(deps, request, progress, restarted=attempt > 1)
    # A link that names its video may need no scrape at all (pipeline.cache).
    hit = await steps.cached_for_link(deps, request)
    if hit is not None:
        return await _from_cache(deps, record, progress, meter, hit, first=2)
    post = await steps.scrape(deps, request, progress)
    meter.actor_usd = post.cost_usd
    hit = await steps.cached_for_post(deps, request, post)
    if hit is not None:
        return await _from_cache(deps, record, progress, meter, hit, first=3)
    # A written recipe: the page's own, or one the caption links to. No video
    # download and no model call (pages.recipe_data).
    if post.recipe is not None:
        written = steps.written_extraction(post, post.recipe, via_caption=False)
        return await _from_page(deps, record, progress, meter, post, written)
    linked = await steps.linked_recipe(deps, post, progress)
    if linked is not None:
        written = steps.written_extraction(post, linked, via_caption=True)
        return await _from_page(deps, record, progress, meter, post, written)
    await asyncio.to_thread(work_dir.mkdir, parents=True, exist_ok=True)
    media = await steps.media(deps, post, work_dir, progress, request.language)
    reading.post, reading.media = post, media
    if media.transcript is not None:
        meter.transcription_seconds = media.transcript.seconds
    extraction = await steps.extract(deps, request, post, media, progress)
    meter.extraction = extraction.usage
    # The last frame is usually the finished dish: the best picture for the book.
    frames = media.analysis.frames
    thumbnail = frames[-1].jpeg if frames else None
    await steps.remember(deps, request, record.task_id, post, extraction, thumbnail)
    await _store_and_succeed(
        deps, record, meter, progress, extraction.recipes, thumbnail, list(extraction.evidence)
    )
    return "SUCCESS"


async def _from_draft(
    deps: PipelineDeps,
    record: TaskRecord,
    progress: TaskProgress,
    meter: CostMeter,
    reading: drafts.Reading,
    draft_id: str,
) -> str:
    """A retry of a draft: what an earlier task read goes to the extractor again
    (`POST /drafts/{id}/retry`), with no scrape and no download."""
    await progress.begin(1, "Validating link", drafts.FROM_DRAFT)
    draft = await deps.drafts.get(record.user_id, draft_id) if deps.drafts else None
    if draft is None:
        raise ExtractionFailed(
            "The draft this task was to read has expired; send the link again.", retryable=False
        )
    reading.draft = draft
    extraction = await drafts.extract(deps, record, draft, progress)
    meter.extraction = extraction.usage
    thumbnail = draft.frames[-1].jpeg if draft.frames else None
    await _store_and_succeed(
        deps, record, meter, progress, extraction.recipes, thumbnail, list(extraction.evidence)
    )
    if deps.drafts is not None:
        await deps.drafts.delete(record.user_id, draft_id)  # it is a recipe now
    return "SUCCESS"


async def _from_page(
    deps: PipelineDeps,
    record: TaskRecord,
    progress: TaskProgress,
    meter: CostMeter,
    post: ScrapedPost,
    extraction: Extraction,
) -> str:
    """The recipe is written out on a page: store it with the post's picture."""
    await steps.skip_for_page(progress)
    # The post's thumbnail URL rather than frames: a small GET instead of the
    # whole video (pipeline.steps.page_thumbnail).
    thumbnail = await steps.page_thumbnail(deps, post, extraction.recipe)
    await steps.remember(deps, record.request, record.task_id, post, extraction, thumbnail)
    await _store_and_succeed(
        deps, record, meter, progress, extraction.recipes, thumbnail, list(extraction.evidence)
    )
    return "SUCCESS"


async def _from_cache(
    deps: PipelineDeps,
    record: TaskRecord,
    progress: TaskProgress,
    meter: CostMeter,
    hit: CachedExtraction,
    *,
    first: int,
) -> str:
    """The recipe was read before from the same video: store it for this user."""
    meter.cache_hit = True
    log.info("cache_hit", from_task=hit.task_id, skipped_from_step=first)
    await steps.skip_from_cache(progress, first)
    recipes = [hit.recipe, *hit.others]
    await _store_and_succeed(deps, record, meter, progress, recipes, hit.thumbnail, hit.evidence)
    return "SUCCESS"


async def _store_and_succeed(
    deps: PipelineDeps,
    record: TaskRecord,
    meter: CostMeter,
    progress: TaskProgress,
    recipes: Sequence[Recipe],
    thumbnail: bytes | None,
    evidence: list[str] | None,
) -> None:
    """Step 5 and the task's success: the post's recipes stored (one row each),
    then the completion naming the first, with the others beside it."""
    main, *others = await steps.store(
        deps, record.request, record.task_id, recipes, thumbnail, progress
    )
    await deps.tasks.succeed(
        record, main, meter.usage(deps.pricing), evidence=evidence, others=others
    )


async def _fail(
    deps: PipelineDeps,
    record: TaskRecord,
    error: ResimplyError,
    step: int,
    *,
    draft_id: str | None = None,
) -> None:
    log.info("task_failed", error=error.code, step=step, retryable=error.retryable)
    metrics.task_failed(error.code, step)
    await deps.tasks.fail(
        record,
        code=error.code,
        text=error.message,
        retryable=error.retryable,
        cancelled=isinstance(error, Cancelled),
        draft_id=draft_id,
    )
