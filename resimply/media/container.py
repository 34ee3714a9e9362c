"""Opening an untrusted media file with PyAV: safe demuxers only, clear errors."""

from __future__ import annotations

from pathlib import Path

import av
import av.stream
from av.container import InputContainer
from av.video.stream import VideoStream

from ..errors import InvalidMedia

# The file comes from the internet. FFmpeg can open dozens of formats, and some
# of them (HLS/DASH playlists, concat lists, image2 patterns) make it read other
# files or URLs. Only real video containers are allowed, and only local files.
ALLOWED_FORMATS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts"
_OPEN_OPTIONS = {"format_whitelist": ALLOWED_FORMATS, "protocol_whitelist": "file"}

UNREADABLE = "The file is not a video we can read."

# PyAV raises FFmpegError subclasses, but also plain OSError / ValueError for
# some broken inputs and UnicodeDecodeError for mis-encoded metadata.
DECODE_ERRORS: tuple[type[Exception], ...] = (av.FFmpegError, OSError, ValueError, EOFError)


def open_media(path: Path) -> InputContainer:
    """Open `path` for reading, or raise `InvalidMedia`."""
    try:
        return av.open(str(path), mode="r", options=_OPEN_OPTIONS, metadata_errors="replace")
    except DECODE_ERRORS as exc:
        raise InvalidMedia(UNREADABLE) from exc


def video_stream(container: InputContainer) -> VideoStream:
    """The main picture track; cover art in audio files does not count."""
    for stream in container.streams.video:
        if stream.disposition & av.stream.Disposition.attached_pic:
            continue
        return stream
    raise InvalidMedia("The file has no video track (is it audio only?).")


def header_duration(container: InputContainer, stream: VideoStream) -> float | None:
    """Duration in seconds as written in the headers, or None when they don't say."""
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    if stream.duration is not None and stream.duration > 0 and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None
