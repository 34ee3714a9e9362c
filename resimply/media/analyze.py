"""The media step's one async entry point: check, then frames, subtitles and the
text on screen (`ocr.py`), off the loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
from pathlib import Path
from typing import TYPE_CHECKING

from av.container import InputContainer

from ..providers.base import Frame, MediaInfo, ProgressReporter, SubtitleTrack
from ..settings import Settings
from . import ocr
from .container import open_media
from .frames import Picked, read_frames
from .ocr import ScreenRead
from .probe import check, checked_size
from .subtitles import EmbeddedSubtitles, embedded_subtitles

if TYPE_CHECKING:
    from .processes import MediaProcesses


@dataclasses.dataclass(frozen=True, kw_only=True)
class MediaLimits:
    max_bytes: int
    max_duration_s: float
    max_pixels: int
    max_frames: int
    max_edge: int
    jpeg_quality: int
    # On-screen text (`ocr.py`): seconds of OCR per video (0: off) and the most
    # pictures kept for it.
    ocr_budget_s: float = 0.0
    ocr_max_shots: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaLimits:
        return cls(
            max_bytes=settings.max_video_bytes,
            max_duration_s=settings.max_duration_s,
            max_pixels=settings.max_pixels,
            max_frames=settings.max_frames,
            max_edge=settings.frame_max_edge,
            jpeg_quality=settings.jpeg_quality,
            ocr_budget_s=settings.ocr_budget_s,
            ocr_max_shots=settings.ocr_max_shots,
        )


# What reading one video gives: its description, the picked frames, embedded
# subtitles, the text read on screen.
VideoRead = tuple[MediaInfo, list[Frame], list[SubtitleTrack], ScreenRead]


@dataclasses.dataclass(frozen=True, kw_only=True)
class MediaAnalysis:
    info: MediaInfo
    frames: tuple[Frame, ...]
    embedded_subtitles: tuple[SubtitleTrack, ...]
    screen: ScreenRead = dataclasses.field(default_factory=ScreenRead)


async def analyze_video(
    path: Path,
    *,
    limits: MediaLimits,
    progress: ProgressReporter,
    executor: concurrent.futures.Executor | None = None,
    processes: MediaProcesses | None = None,
) -> MediaAnalysis:
    """Check `path` against `limits`, then pick frames and read embedded subtitles.

    All PyAV work runs in `processes` when given (one call per video, see
    `processes.py`), else in `executor` (the loop's default thread pool when
    None), on one container opened once: opening (reading the headers, probing
    the streams) costs as much as picking the frames of a short video.
    Raises `InvalidMedia` or `VideoTooLarge` from the check, before any decoding.
    """
    await progress.update("Checking the video", 0.0)
    if processes is not None:
        info, frames, subtitles, screen = await processes.read(path, limits)
    else:
        info, frames, subtitles, screen = await _in_threads(path, limits, progress, executor)
    done = f"Picked {len(frames)} frames"
    if screen.read:
        done += f", read the text of {screen.read} shots"
    await progress.update(done, 1.0)
    return MediaAnalysis(
        info=info, frames=tuple(frames), embedded_subtitles=tuple(subtitles), screen=screen
    )


async def _in_threads(
    path: Path,
    limits: MediaLimits,
    progress: ProgressReporter,
    executor: concurrent.futures.Executor | None,
) -> VideoRead:
    loop = asyncio.get_running_loop()
    container, info = await loop.run_in_executor(
        executor, functools.partial(open_checked, path, limits)
    )
    reading: asyncio.Future[tuple[Picked, list[SubtitleTrack]]] | None = None
    try:
        await progress.update("Extracting frames", 0.2)
        reading = loop.run_in_executor(
            executor, functools.partial(read_frames_and_subtitles, container, info, limits)
        )
        picked, subtitles = await reading
    finally:
        if reading is None:
            container.close()  # opened but never read: cheap to close here
    screen = ScreenRead()
    if limits.ocr_budget_s > 0:
        await progress.update("Reading the text on screen", 0.6)
        screen = await loop.run_in_executor(
            executor, functools.partial(ocr.read_screen, picked.shots, budget_s=limits.ocr_budget_s)
        )
    return info, picked.frames, subtitles, screen


def read_video(path: Path, limits: MediaLimits) -> VideoRead:
    """All of the media step's CPU work on one video, in one synchronous call
    (what a pool process runs): check, then frames and embedded subtitles, then
    the text on screen."""
    container, info = open_checked(path, limits)
    picked, subtitles = read_frames_and_subtitles(container, info, limits)
    screen = ocr.read_screen(picked.shots, budget_s=limits.ocr_budget_s)
    return info, picked.frames, subtitles, screen


def open_checked(path: Path, limits: MediaLimits) -> tuple[InputContainer, MediaInfo]:
    """The open video and what its headers say, or `InvalidMedia` / `VideoTooLarge`."""
    size = checked_size(path, max_bytes=limits.max_bytes)
    container = open_media(path)
    try:
        info = check(
            container,
            size=size,
            max_duration_s=limits.max_duration_s,
            max_pixels=limits.max_pixels,
        )
    except BaseException:
        container.close()
        raise
    return container, info


def read_frames_and_subtitles(
    container: InputContainer, info: MediaInfo, limits: MediaLimits
) -> tuple[Picked, list[SubtitleTrack]]:
    """Frames (and the pictures to read text in), then the embedded subtitles,
    from a checked container; closes it.

    Closing here, on the thread that read it, means the container is never
    closed under a decode still running (a cancelled task stops awaiting, the
    thread goes on).
    """
    with container:
        subtitles = EmbeddedSubtitles(container)
        shots = limits.ocr_max_shots if limits.ocr_budget_s > 0 and ocr.available() else 0
        picked = Picked([], [])
        if limits.max_frames > 0 or shots > 0:
            picked = read_frames(
                container,
                max_frames=limits.max_frames,
                max_edge=limits.max_edge,
                jpeg_quality=limits.jpeg_quality,
                duration_s=info.duration_s,
                max_pixels=limits.max_pixels,
                subtitles=subtitles,
                max_shots=shots,
            )
        # Read along with the frame scan; a pass of their own if no scan ran.
        return picked, subtitles.tracks() if subtitles.read else embedded_subtitles(container)
