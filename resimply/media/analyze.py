"""The media step's one async entry point: check, then frames and subtitles, off the loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
from pathlib import Path

from ..providers.base import Frame, MediaInfo, ProgressReporter, SubtitleTrack
from ..settings import Settings
from .frames import pick_frames
from .probe import probe
from .subtitles import read_embedded_subtitles


@dataclasses.dataclass(frozen=True, kw_only=True)
class MediaLimits:
    max_bytes: int
    max_duration_s: float
    max_pixels: int
    max_frames: int
    max_edge: int
    jpeg_quality: int

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaLimits:
        return cls(
            max_bytes=settings.max_video_bytes,
            max_duration_s=settings.max_duration_s,
            max_pixels=settings.max_pixels,
            max_frames=settings.max_frames,
            max_edge=settings.frame_max_edge,
            jpeg_quality=settings.jpeg_quality,
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class MediaAnalysis:
    info: MediaInfo
    frames: tuple[Frame, ...]
    embedded_subtitles: tuple[SubtitleTrack, ...]


async def analyze_video(
    path: Path,
    *,
    limits: MediaLimits,
    progress: ProgressReporter,
    executor: concurrent.futures.Executor | None = None,
) -> MediaAnalysis:
    """Check `path` against `limits`, then pick frames and read embedded subtitles.

    All PyAV work runs in `executor` (the loop's default thread pool when None).
    Raises `InvalidMedia` or `VideoTooLarge` from the check, before any decoding.
    The functions are plain module-level callables, so a process pool works too.
    """
    loop = asyncio.get_running_loop()
    await progress.update("Checking the video", 0.0)
    info = await loop.run_in_executor(
        executor,
        functools.partial(
            probe,
            path,
            max_bytes=limits.max_bytes,
            max_duration_s=limits.max_duration_s,
            max_pixels=limits.max_pixels,
        ),
    )
    await progress.update("Extracting frames", 0.2)
    frames_job = loop.run_in_executor(
        executor,
        functools.partial(
            pick_frames,
            path,
            max_frames=limits.max_frames,
            max_edge=limits.max_edge,
            jpeg_quality=limits.jpeg_quality,
            duration_s=info.duration_s,
            max_pixels=limits.max_pixels,
        ),
    )
    subtitles_job = loop.run_in_executor(executor, read_embedded_subtitles, path)
    # Wait for both even when one fails, so no error is left unretrieved in a future.
    frames, subtitles = await asyncio.gather(frames_job, subtitles_job, return_exceptions=True)
    if isinstance(frames, BaseException):
        raise frames
    if isinstance(subtitles, BaseException):
        raise subtitles
    await progress.update(f"Picked {len(frames)} frames", 1.0)
    return MediaAnalysis(info=info, frames=tuple(frames), embedded_subtitles=tuple(subtitles))
