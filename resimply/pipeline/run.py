"""Runs one task through the five steps and writes exactly one terminal message."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import structlog

from ..errors import Cancelled, InternalError, ResimplyError, StepTimeout, TaskError
from ..tasks import TaskRecord
from . import steps
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
        return "FAILURE"

    progress = TaskProgress(deps.tasks, task_id)
    work_dir = deps.work_dir / task_id
    try:
        async with asyncio.timeout(deps.job_timeout_s):
            status = await _run_steps(deps, record, progress, work_dir)
    except TimeoutError:
        await _fail(deps, record, StepTimeout(), progress.step)
        status = "FAILURE"
    except Cancelled:
        # The task ended underneath us (DELETE); its terminal message is written.
        status = "CANCELLED"
    except TaskError as exc:
        await _fail(deps, record, exc, progress.step)
        status = "FAILURE"
    except asyncio.CancelledError:
        # arq aborts a cancelled job this way, and shuts down this way: in both
        # cases the task's outcome is someone else's to write.
        raise
    except Exception:
        log.exception("task_crashed", step=progress.step)
        await _fail(deps, record, InternalError(), progress.step)
        status = "FAILURE"
    finally:
        await asyncio.to_thread(shutil.rmtree, work_dir, True)
    log.info("task_finished", status=status)
    return status


async def _run_steps(
    deps: PipelineDeps, record: TaskRecord, progress: TaskProgress, work_dir: Path
) -> str:
    request = record.request
    await steps.init(deps, request, progress)
    post = await steps.scrape(deps, request, progress)
    await asyncio.to_thread(work_dir.mkdir, parents=True, exist_ok=True)
    media = await steps.media(deps, post, work_dir, progress, request.language)
    extraction = await steps.extract(deps, request, post, media, progress)
    stored = await steps.store(deps, request, record.task_id, extraction.recipe, progress)
    await deps.tasks.succeed(record, stored, extraction.usage)
    return "SUCCESS"


async def _fail(deps: PipelineDeps, record: TaskRecord, error: ResimplyError, step: int) -> None:
    log.info("task_failed", error=error.code, step=step, retryable=error.retryable)
    await deps.tasks.fail(
        record,
        code=error.code,
        text=error.message,
        retryable=error.retryable,
        cancelled=isinstance(error, Cancelled),
    )
