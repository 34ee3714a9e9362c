"""The media step's CPU work in a few lower-priority processes.

Decoding, thumbnails and JPEG encoding hold the GIL for much of their time, so
a thread pool lets one worker use about 1.4 of 2 cores. In processes they use
every core; niced, so that the event loop's process always gets the CPU first
(without that, a busy pool delayed the loop by 90 ms at p99).

One call per video (`analyze.read_video`): the arguments are a path and the
limits, the answer a few small JPEGs, so crossing the process boundary costs
little. At most two calls per process are handed to the pool at a time (one
running, one queued, so that a process never waits for the event loop between
two videos); the rest wait here, on the event loop, where a cancelled task
simply stops waiting.

A pool process that dies (a decoder crash, the kernel's OOM killer) breaks
every call the pool was running, not only the one that killed it. The pool is
replaced for the next calls, and each broken call runs again alone in a
process of its own: only a video that kills that one too fails, with
`invalid_media`. A call running longer than `timeout_s` kills its process
(SIGALRM), so a decoder stuck in a loop cannot hold a slot for good.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import structlog

from ..errors import InvalidMedia
from .analyze import MediaLimits, VideoRead, read_video

log = structlog.get_logger(__name__)

# Added to the pool processes' nice value: on a busy machine they get about a
# tenth of the CPU the event loop's process gets (Linux CFS weights 110 : 1024).
NICE = 10
# Calls handed to the pool per process (running + queued): one queued was worth
# +15 % throughput over none, as the next video is there when a process is done.
QUEUED_PER_PROCESS = 2
START_TIMEOUT_S = 60.0
ORPHAN_CHECK_S = 1.0  # how soon a pool process notices that the worker is gone
CRASHED = "Reading the video crashed the video decoder twice; the file is likely damaged."

Work = Callable[[Path, MediaLimits], VideoRead]


def _set_up_process(nice: int, parent: int) -> None:
    """Runs first in every pool process."""
    os.nice(nice)
    # Ctrl-C reaches the whole process group: the worker shuts down gracefully
    # (arq hands its jobs back) and stops the pool; its processes must not die
    # mid-video first, which would look like a decoder crash.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A pool process holds both ends of its call queue's pipe, so it never sees
    # the worker go: a SIGKILLed worker would leave its processes behind for good.
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(1)


def _run(work: Work, path: Path, limits: MediaLimits, timeout_s: int) -> VideoRead:
    """In a pool process: `work`, killed by the kernel (SIGALRM's default action)
    should it run past `timeout_s`."""
    signal.alarm(timeout_s)
    try:
        return work(path, limits)
    finally:
        signal.alarm(0)


class MediaProcesses:
    """A bounded pool of niced processes that read videos (see the module docstring)."""

    def __init__(
        self, size: int, *, timeout_s: float, nice: int = NICE, work: Work = read_video
    ) -> None:
        self.size = size
        self._timeout_s = max(1, math.ceil(timeout_s))
        self._nice = nice
        self._work = work
        # Spawned, not forked: the worker has threads and an event loop by now, and
        # a fork copies their locks in whatever state they are in.
        self._context = multiprocessing.get_context("spawn")
        self._pool = self._new_pool(size)
        self._slots = asyncio.Semaphore(QUEUED_PER_PROCESS * size)
        self._alone = asyncio.Semaphore(size)  # broken calls run again, this many at once

    def _new_pool(self, size: int) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=size,
            mp_context=self._context,
            initializer=_set_up_process,
            initargs=(self._nice, os.getpid()),
        )

    async def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start every process now (importing PyAV and numpy takes a while), so the
        first videos do not wait for it and a pool that cannot start fails the
        worker's start-up instead of every task."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(
                *(loop.run_in_executor(self._pool, os.getpid) for _ in range(self.size))
            )

    async def read(self, path: Path, limits: MediaLimits) -> VideoRead:
        """`analyze.read_video(path, limits)` in a pool process.

        Raises what `read_video` raises (`InvalidMedia`, `VideoTooLarge` cross the
        process boundary intact), or `InvalidMedia` when the video kills the
        decoder's process.
        """
        while True:
            await self._slots.acquire()
            pool = self._pool  # the current one: it may have been replaced while we waited
            try:
                future = self._submit(pool, path, limits, self._slots)
            except BrokenProcessPool:
                # Broken by another video before this one got to it: nothing of ours
                # ran there, so the next pool gets it like any other video.
                self._replace(pool)
                continue
            try:
                return await self._result(future)
            except BrokenProcessPool:
                self._replace(pool)
                break
        log.warning("media_process_died", action="reading the video again on its own")
        async with self._alone:
            alone = self._new_pool(1)
            try:
                return await self._result(self._submit(alone, path, limits, None))
            except BrokenProcessPool as exc:
                raise InvalidMedia(CRASHED) from exc
            finally:
                alone.shutdown(wait=False, cancel_futures=True)

    def _submit(
        self,
        pool: concurrent.futures.ProcessPoolExecutor,
        path: Path,
        limits: MediaLimits,
        slot: asyncio.Semaphore | None,
    ) -> concurrent.futures.Future[VideoRead]:
        """One call in `pool`; `slot`, acquired by the caller, is released when the
        process is done with it — not when the caller stops waiting: a cancelled
        task's call still runs to its end (or its alarm), and holds its slot until then."""
        loop = asyncio.get_running_loop()
        try:
            future = pool.submit(_run, self._work, path, limits, self._timeout_s)
        except BaseException:
            if slot is not None:
                slot.release()
            raise
        if slot is not None:
            future.add_done_callback(lambda _: _call_soon(loop, slot.release))
        return future

    async def _result(self, future: concurrent.futures.Future[VideoRead]) -> VideoRead:
        started = time.monotonic()
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            if time.monotonic() - started >= self._timeout_s:
                raise InvalidMedia(
                    f"Reading the video took longer than {self._timeout_s} s and was stopped."
                ) from None
            raise

    def _replace(self, broken: concurrent.futures.ProcessPoolExecutor) -> None:
        """A new pool for the next calls, once per broken pool (all its calls end here)."""
        if self._pool is broken:
            log.warning("media_pool_replaced")
            self._pool = self._new_pool(self.size)
            broken.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        """Stop the processes; calls still running are abandoned."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    # Runs on the pool's management thread; the loop may already be closed at exit.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback)
