"""Check a video against the limits from its headers alone, before any decoding."""

from __future__ import annotations

from pathlib import Path

from av.container import InputContainer
from av.video.stream import VideoStream

from ..errors import InvalidMedia, VideoTooLarge
from ..providers.base import MediaInfo
from .container import DECODE_ERRORS, UNREADABLE, header_duration, open_media, video_stream


def probe(path: Path, *, max_bytes: int, max_duration_s: float, max_pixels: int) -> MediaInfo:
    """Describe the video at `path`, or raise `InvalidMedia` / `VideoTooLarge`.

    Only headers are read (plus, for files whose headers give no duration, the
    packet timestamps), so an oversized video is refused before it costs any
    decoding work.
    """
    size = checked_size(path, max_bytes=max_bytes)
    with open_media(path) as container:
        return check(container, size=size, max_duration_s=max_duration_s, max_pixels=max_pixels)


def checked_size(path: Path, *, max_bytes: int) -> int:
    """The file's size in bytes, or `InvalidMedia` (missing, empty) / `VideoTooLarge`."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidMedia("The video file is missing.") from exc
    if size == 0:
        raise InvalidMedia("The video file is empty.")
    if size > max_bytes:
        raise VideoTooLarge(
            f"The video is {_megabytes(size)}; the limit is {_megabytes(max_bytes)}."
        )
    return size


def check(
    container: InputContainer, *, size: int, max_duration_s: float, max_pixels: int
) -> MediaInfo:
    """Describe an open video of `size` bytes, or refuse it from its headers."""
    stream = video_stream(container)
    width, height = stream.codec_context.width, stream.codec_context.height
    if width <= 0 or height <= 0:
        raise InvalidMedia("The video track has no picture size; the file may be damaged.")
    if width * height > max_pixels:
        raise VideoTooLarge(
            f"The video is {width}×{height} ({_pixels(width * height)}); "
            f"the limit is {_pixels(max_pixels)}."
        )
    duration = header_duration(container, stream)
    if duration is None:
        duration = _scan_duration(container, stream, stop_after=max_duration_s)
    if duration > max_duration_s:
        raise VideoTooLarge(
            f"The video is {_length(duration, exact=True)} long; "
            f"the limit is {_length(max_duration_s)}."
        )
    has_audio = len(container.streams.audio) > 0
    return MediaInfo(
        duration_s=duration, width=width, height=height, has_audio=has_audio, size_bytes=size
    )


def _scan_duration(container: InputContainer, stream: VideoStream, *, stop_after: float) -> float:
    """Duration from packet timestamps (demuxing only), for headers without one.

    Stops as soon as the limit is passed: a huge file costs no more than a short one.
    """
    end = 0.0
    try:
        for packet in container.demux(stream):
            if packet.pts is None or packet.time_base is None:
                continue
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
            if end > stop_after:
                break
    except DECODE_ERRORS as exc:
        raise InvalidMedia(UNREADABLE) from exc
    if end <= 0:
        raise InvalidMedia("The video has no pictures we can read.")
    return end


def _megabytes(size: int) -> str:
    # Binary megabytes, as the settings are written (200 * 1024 * 1024 reads "200 MB").
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    value = size / (1024 * 1024)
    return f"{value:g} MB" if value.is_integer() else f"{value:.1f} MB"


def _pixels(count: int) -> str:
    return f"{count / 1e6:.1f} megapixels" if count >= 1_000_000 else f"{count:,} pixels"


def _length(seconds: float, *, exact: bool = False) -> str:
    """'8.0 minutes' for a measured length (exact), '5 minutes' / '1 minute' for a limit."""
    value, unit = (seconds / 60, "minute") if seconds >= 60 else (float(seconds), "second")
    text = f"{value:.1f}" if exact or not value.is_integer() else f"{value:g}"
    return f"{text} {unit}" + ("" if text == "1" else "s")
