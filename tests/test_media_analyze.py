import concurrent.futures
import dataclasses
import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from resimply.errors import InvalidMedia, VideoTooLarge
from resimply.media.analyze import MediaAnalysis, MediaLimits, analyze_video
from resimply.providers.base import MediaInfo
from resimply.settings import Settings
from tests.mediagen import make_8k, make_video

SAMPLE = Path(__file__).resolve().parent.parent / "resimply" / "samples" / "carbonara.mp4"
LIMITS = MediaLimits(
    max_bytes=10 * 1024 * 1024,
    max_duration_s=60,
    max_pixels=1920 * 1080,
    max_frames=6,
    max_edge=320,
    jpeg_quality=80,
)


class Progress:
    def __init__(self) -> None:
        self.updates: list[tuple[str, float | None]] = []

    async def update(self, details: str, fraction: float | None = None) -> None:
        self.updates.append((details, fraction))


class RecordingExecutor(concurrent.futures.ThreadPoolExecutor):
    """A thread pool that notes which function ran, and on which thread."""

    def __init__(self) -> None:
        super().__init__(max_workers=2, thread_name_prefix="media")
        self.calls: list[tuple[str, str]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        name = fn.func.__name__ if isinstance(fn, functools.partial) else fn.__name__

        def run() -> Any:
            self.calls.append((name, threading.current_thread().name))
            return fn(*args, **kwargs)

        return super().submit(run)


def test_limits_come_from_the_settings() -> None:
    settings = Settings(max_video_bytes=1000, max_duration_s=90, max_frames=4, frame_max_edge=512)
    assert MediaLimits.from_settings(settings) == MediaLimits(
        max_bytes=1000,
        max_duration_s=90,
        max_pixels=4096 * 2304,
        max_frames=4,
        max_edge=512,
        jpeg_quality=80,
        ocr_budget_s=30,
        ocr_max_shots=96,
    )


async def test_the_sample_is_analysed_off_the_event_loop() -> None:
    progress = Progress()
    with RecordingExecutor() as executor:
        result = await analyze_video(SAMPLE, limits=LIMITS, progress=progress, executor=executor)

    assert isinstance(result, MediaAnalysis)
    assert result.info == MediaInfo(
        duration_s=15.0, width=360, height=640, has_audio=False, size_bytes=SAMPLE.stat().st_size
    )
    assert [f.timestamp for f in result.frames] == [0.0, 3.0, 6.0, 9.0, 12.0]
    assert {(f.width, f.height) for f in result.frames} == {(180, 320)}
    [track] = result.embedded_subtitles
    assert (track.language, track.origin) == ("en", "embedded")
    assert "Boil 200 g spaghetti in salted water for 10 minutes." in track.text

    # One container, opened and checked first, then read (frames, subtitles) and closed.
    assert [name for name, _ in executor.calls] == ["open_checked", "read_frames_and_subtitles"]
    assert all(thread.startswith("media") for _, thread in executor.calls)
    assert progress.updates == [
        ("Checking the video", 0.0),
        ("Extracting frames", 0.2),
        ("Picked 5 frames", 1.0),
    ]


async def test_a_video_over_the_limits_is_refused_before_any_decoding() -> None:
    progress = Progress()
    limits = dataclasses.replace(LIMITS, max_duration_s=10)
    with RecordingExecutor() as executor, pytest.raises(VideoTooLarge) as caught:
        await analyze_video(SAMPLE, limits=limits, progress=progress, executor=executor)
    assert caught.value.message == "The video is 15.0 seconds long; the limit is 10 seconds."
    assert [name for name, _ in executor.calls] == ["open_checked"]
    assert progress.updates == [("Checking the video", 0.0)]


async def test_the_default_executor_is_used_when_none_is_given(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", width=320, height=240, seconds=2, audio=True)
    result = await analyze_video(path, limits=LIMITS, progress=Progress())
    assert (result.info.width, result.info.height, result.info.has_audio) == (320, 240, True)
    assert [(f.width, f.height) for f in result.frames] == [(320, 240)] * 3
    assert result.embedded_subtitles == ()


async def test_an_8k_video_is_refused_before_any_decoding(tmp_path: Path) -> None:
    path = make_8k(tmp_path / "8k.mp4")
    with RecordingExecutor() as executor, pytest.raises(VideoTooLarge, match="7680×4320"):
        await analyze_video(path, limits=LIMITS, progress=Progress(), executor=executor)
    assert [name for name, _ in executor.calls] == ["open_checked"]


@pytest.mark.parametrize("content", [b"", b"\x00\x00\x00\x18ftypisom"])
async def test_an_empty_or_cut_short_file_is_invalid(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "v.mp4"
    path.write_bytes(content)
    with pytest.raises(InvalidMedia):
        await analyze_video(path, limits=LIMITS, progress=Progress())
