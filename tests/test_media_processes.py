"""The media step's process pool: real spawned processes, real crashes."""

import asyncio
import dataclasses
import os
import pickle
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from arq.connections import create_pool

from resimply.errors import InvalidMedia, VideoTooLarge
from resimply.media.analyze import MediaLimits, VideoRead, analyze_video, read_video
from resimply.media.ocr import ScreenRead
from resimply.media.processes import CRASHED, NICE, QUEUED_PER_PROCESS, MediaProcesses
from resimply.settings import Settings
from resimply.worker import media_processes, worker_options
from tests.test_media_analyze import LIMITS, SAMPLE, Progress

# --- work functions, run in the pool's processes (module level: spawn imports them) ---


def niceness(path: Path, limits: MediaLimits) -> VideoRead:
    """The process's pid, nice value and SIGINT handling, where `read_video` gives
    its result."""
    ignores_ctrl_c = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    return (os.getpid(), os.nice(0), ignores_ctrl_c), [], [], ScreenRead()  # type: ignore[return-value]


def crash_or_read(path: Path, limits: MediaLimits) -> VideoRead:
    """Dies like a decoder that segfaults on `crash*` files; `slow*` files take a while;
    files named `pid*` first note the process's pid next to them."""
    if path.name.startswith("crash"):
        time.sleep(0.3)  # let the other calls get under way
        os.kill(os.getpid(), signal.SIGSEGV)
    if path.name.startswith("pid"):
        path.with_suffix(".pid").write_text(str(os.getpid()))
    if path.name.startswith(("slow", "pid")):
        time.sleep(1.0)
        path.with_suffix(".done").touch()
    return read_video(SAMPLE, limits)


def hang(path: Path, limits: MediaLimits) -> VideoRead:
    """A decoder stuck in a loop."""
    if path.name.startswith("hang"):
        time.sleep(60)
    return read_video(SAMPLE, limits)


@pytest.fixture
def video_dir(tmp_path: Path) -> Path:
    for name in ("crash.mp4", "slow.mp4", "pid.mp4", "hang.mp4", "ok.mp4"):
        (tmp_path / name).write_bytes(b"not read: the work functions read the sample")
    return tmp_path


async def test_a_video_is_read_in_a_lower_priority_process_as_in_a_thread() -> None:
    processes = MediaProcesses(1, timeout_s=60)
    try:
        info, frames, subtitles, screen = await processes.read(SAMPLE, LIMITS)
    finally:
        processes.shutdown()
    assert (info, frames, subtitles, screen) == read_video(SAMPLE, LIMITS)
    assert [f.timestamp for f in frames] == [0.0, 3.0, 6.0, 9.0, 12.0]

    probe = MediaProcesses(1, timeout_s=60, work=niceness)
    try:
        (pid, nice, ignores_ctrl_c), _, _, _ = await probe.read(SAMPLE, LIMITS)
    finally:
        probe.shutdown()
    assert pid != os.getpid()
    assert nice == os.nice(0) + NICE
    assert ignores_ctrl_c  # the worker's graceful shutdown stops them, not Ctrl-C


async def test_analyze_video_reads_in_processes_when_given() -> None:
    progress = Progress()
    processes = MediaProcesses(1, timeout_s=60)
    try:
        result = await analyze_video(SAMPLE, limits=LIMITS, progress=progress, processes=processes)
    finally:
        processes.shutdown()
    assert [f.timestamp for f in result.frames] == [0.0, 3.0, 6.0, 9.0, 12.0]
    assert [t.origin for t in result.embedded_subtitles] == ["embedded"]
    assert progress.updates == [("Checking the video", 0.0), ("Picked 5 frames", 1.0)]


async def test_media_errors_cross_the_process_boundary_intact(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    processes = MediaProcesses(1, timeout_s=60)
    try:
        with pytest.raises(VideoTooLarge) as too_long:
            await processes.read(SAMPLE, dataclasses.replace(LIMITS, max_duration_s=10))
        with pytest.raises(InvalidMedia) as invalid:
            await processes.read(empty, LIMITS)
    finally:
        processes.shutdown()
    assert too_long.value.message == "The video is 15.0 seconds long; the limit is 10 seconds."
    assert (too_long.value.code, too_long.value.retryable) == ("video_too_large", False)
    assert (invalid.value.message, invalid.value.code) == (
        "The video file is empty.",
        "invalid_media",
    )


@pytest.mark.parametrize("error", [InvalidMedia("Bad file."), VideoTooLarge("Too long.")])
def test_media_errors_pickle_with_message_and_code(error: InvalidMedia | VideoTooLarge) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert (copy.message, copy.code, copy.retryable, str(copy)) == (
        error.message,
        error.code,
        error.retryable,
        str(error),
    )


async def test_a_crashing_video_fails_alone_and_the_pool_is_rebuilt(video_dir: Path) -> None:
    processes = MediaProcesses(2, timeout_s=60, work=crash_or_read)
    first_pool = processes._pool
    try:
        crashed, innocent = await asyncio.gather(
            processes.read(video_dir / "crash.mp4", LIMITS),
            processes.read(video_dir / "slow.mp4", LIMITS),
            return_exceptions=True,
        )
        # The video running beside the crash lost its process too: read again, alone.
        assert isinstance(innocent, tuple)
        assert len(innocent[1]) == 5
        assert isinstance(crashed, InvalidMedia)
        assert crashed.message == CRASHED
        # The next videos go to a new pool.
        assert processes._pool is not first_pool
        _, frames, _, _ = await processes.read(video_dir / "ok.mp4", LIMITS)
        assert len(frames) == 5
    finally:
        processes.shutdown()


async def test_a_process_killed_mid_video_costs_a_second_reading_not_the_task(
    video_dir: Path,
) -> None:
    processes = MediaProcesses(1, timeout_s=60, work=crash_or_read)
    try:
        reading = asyncio.create_task(processes.read(video_dir / "pid.mp4", LIMITS))
        pid_file = video_dir / "pid.pid"
        while not pid_file.exists() or not pid_file.read_text():
            await asyncio.sleep(0.02)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        _, frames, _, _ = await reading  # read again in a process of its own
        assert len(frames) == 5
        assert (video_dir / "pid.done").exists()
    finally:
        processes.shutdown()


async def test_a_video_past_the_time_limit_is_stopped_and_frees_its_slot(video_dir: Path) -> None:
    processes = MediaProcesses(1, timeout_s=1, work=hang)
    try:
        started = time.monotonic()
        with pytest.raises(InvalidMedia, match="took longer than 1 s and was stopped"):
            await processes.read(video_dir / "hang.mp4", LIMITS)
        assert time.monotonic() - started < 10
        _, frames, _, _ = await processes.read(video_dir / "ok.mp4", LIMITS)
        assert len(frames) == 5
    finally:
        processes.shutdown()


async def test_a_cancelled_read_holds_its_slot_until_its_process_is_done(
    video_dir: Path,
) -> None:
    processes = MediaProcesses(1, timeout_s=60, work=crash_or_read)
    try:
        cancelled = asyncio.create_task(processes.read(video_dir / "slow.mp4", LIMITS))
        await asyncio.sleep(0.3)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        # Its process is still at it: its slot is not free yet.
        assert processes._slots._value == QUEUED_PER_PROCESS - 1
        # The cancelled video still runs to its end in its process: the next one
        # waits for it there (one process).
        _, frames, _, _ = await processes.read(video_dir / "ok.mp4", LIMITS)
        assert (video_dir / "slow.done").exists()
        assert len(frames) == 5
        await asyncio.sleep(0.1)  # the slots come back through the loop
        assert processes._slots._value == QUEUED_PER_PROCESS  # nothing leaked
    finally:
        processes.shutdown()


def test_one_process_per_cpu_unless_set() -> None:
    assert media_processes(Settings()) == min(8, len(os.sched_getaffinity(0)))
    assert media_processes(Settings(media_processes=3)) == 3


async def test_start_brings_up_every_process_before_the_first_video() -> None:
    processes = MediaProcesses(2, timeout_s=60)
    try:
        await processes.start()
        assert len(processes._pool._processes) == 2
        _, frames, _, _ = await processes.read(SAMPLE, LIMITS)
        assert len(frames) == 5
        assert len(processes._pool._processes) == 2
    finally:
        processes.shutdown()


@pytest.mark.parametrize(("embedded", "processes"), [(False, 2), (True, None)])
async def test_an_arq_worker_reads_videos_in_processes_and_the_in_process_one_in_threads(
    redis_url: str, key_prefix: str, tmp_path: Path, embedded: bool, processes: int | None
) -> None:
    settings = Settings(
        redis_url=redis_url, key_prefix=key_prefix, data_dir=tmp_path, media_processes=2
    )
    options = worker_options(settings, embedded=embedded)
    ctx: dict[str, Any] = {"redis": await create_pool(options["redis_settings"])}
    await options["on_startup"](ctx)
    try:
        pool = ctx["deps"].media_processes
        assert (pool.size if pool else None) == processes
    finally:
        await options["on_shutdown"](ctx)
        await ctx["redis"].aclose()


_OWNER = """
import asyncio, os, sys
from resimply.media.ocr import ScreenRead
from resimply.media.processes import MediaProcesses

async def main():
    processes = MediaProcesses(2, timeout_s=60)
    await processes.start()
    print(" ".join(str(pid) for pid in processes._pool._processes), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone too: it only waits for its (new) parent to reap it.
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}").exists() else ""
    return bool(stat) and stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_a_killed_worker_leaves_no_media_process_behind() -> None:
    owner = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _OWNER, stdout=asyncio.subprocess.PIPE
    )
    assert owner.stdout is not None
    line = await asyncio.wait_for(owner.stdout.readline(), timeout=60)
    pids = [int(pid) for pid in line.split()]
    assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    owner.kill()  # SIGKILL: no shutdown, no clean-up of its own
    await owner.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)
