"""The audio track for speech-to-text, cut to a maximum length.

The first audio stream is copied without re-encoding when the transcription
endpoint accepts its codec in some container (AAC → .m4a, MP3 → .mp3, Opus and
Vorbis → .ogg, FLAC → .flac). Anything else — or a copy that would be too large
to upload — is re-encoded as mono 16 kHz AAC, which is plenty for speech.

Synchronous and CPU-bound: the pipeline runs it in an executor.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import av
import structlog
from av.audio.stream import AudioStream
from av.container import InputContainer

from .container import DECODE_ERRORS, open_media

log = structlog.get_logger(__name__)

# Codec → container suffix the endpoint accepts (EXTERNALS.md §2, "Transcription").
REMUX_SUFFIX = {"aac": ".m4a", "mp3": ".mp3", "opus": ".ogg", "vorbis": ".ogg", "flac": ".flac"}
# The upload limit is 25 MB; stay below it.
MAX_UPLOAD_BYTES = 24 * 1024 * 1024
ENCODE_RATE = 16_000
ENCODE_BIT_RATE = 48_000  # 15 minutes ≈ 5.4 MB
STEM = "audio"


def extract_audio(video: Path, dest_dir: Path, *, max_seconds: float) -> Path | None:
    """Write the first `max_seconds` of `video`'s first audio stream into `dest_dir`.

    Returns the file, or None when the video has no audio stream or its audio
    cannot be read. Raises `InvalidMedia` when the file itself cannot be opened.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    with open_media(video) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        suffix = REMUX_SUFFIX.get(stream.codec_context.name)
    if suffix is not None:
        dest = dest_dir / f"{STEM}{suffix}"
        try:
            if _remux(video, dest, max_seconds=max_seconds):
                if dest.stat().st_size <= MAX_UPLOAD_BYTES:
                    return dest
                log.info("audio_copy_too_large", bytes=dest.stat().st_size)
            else:
                _unlink(dest)
                return None
        except DECODE_ERRORS as exc:
            log.info("audio_copy_failed", error=type(exc).__name__)
        _unlink(dest)
    dest = dest_dir / f"{STEM}.m4a"
    try:
        if _encode(video, dest, max_seconds=max_seconds):
            return dest
    except DECODE_ERRORS as exc:
        log.warning("audio_unreadable", error=type(exc).__name__)
    _unlink(dest)
    return None


def audio_duration(path: Path) -> float | None:
    """Duration of an audio file in seconds, from its headers (None when they don't say)."""
    try:
        with av.open(str(path), metadata_errors="replace") as container:
            if container.duration is not None and container.duration > 0:
                return float(container.duration / av.time_base)
            for stream in container.streams.audio:
                if stream.duration and stream.time_base is not None:
                    return float(stream.duration * stream.time_base)
    except DECODE_ERRORS:
        return None
    return None


def _first_audio(container: InputContainer) -> AudioStream:
    return container.streams.audio[0]


def _remux(video: Path, dest: Path, *, max_seconds: float) -> bool:
    """Copy the packets of the first audio stream; False when there were none."""
    written = 0
    with open_media(video) as container, av.open(str(dest), "w") as out:
        source = _first_audio(container)
        target = out.add_stream_from_template(source)
        time_base = source.time_base
        start: int | None = None
        for packet in container.demux(source):
            if packet.dts is None or packet.pts is None or time_base is None:
                continue  # the demuxer's flush packet, or nothing to time it by
            if start is None:
                start = packet.pts
            if float((packet.pts - start) * time_base) >= max_seconds:
                break
            packet.stream = target
            out.mux(packet)
            written += 1
    return written > 0


def _encode(video: Path, dest: Path, *, max_seconds: float) -> bool:
    """Decode, resample to mono 16 kHz and encode as AAC; False when no audio decoded."""
    written = 0
    with open_media(video) as container, av.open(str(dest), "w") as out:
        source = _first_audio(container)
        target = out.add_stream("aac", rate=ENCODE_RATE)
        target.layout = "mono"
        target.bit_rate = ENCODE_BIT_RATE
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=ENCODE_RATE)
        start: float | None = None
        for frame in container.decode(source):
            if frame.time is not None:
                if start is None:
                    start = frame.time
                if frame.time - start >= max_seconds:
                    break
            for chunk in resampler.resample(frame):
                out.mux(target.encode(chunk))
                written += 1
        for chunk in resampler.resample(None):
            out.mux(target.encode(chunk))
            written += 1
        out.mux(target.encode(None))
    return written > 0


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
