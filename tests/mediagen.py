"""Small synthetic media files for the tests, written with PyAV only."""

from __future__ import annotations

import fractions
import math
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import av
from av.subtitles.stream import SubtitleStream
from av.video.frame import PictureType, VideoFrame

Colour = tuple[int, int, int]
Cue = tuple[float, float, str]  # start s, end s, text

# Distinct scenes: a background colour plus a bar whose position also differs.
SCENES: tuple[Colour, ...] = (
    (200, 40, 40),
    (40, 160, 60),
    (40, 60, 200),
    (230, 200, 40),
    (120, 40, 160),
)

# The encoders refuse to open without an ASS header describing the styles.
ASS_HEADER = (
    b"[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n"
    b"[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, "
    b"OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, "
    b"Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
    b"Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n"
    b"[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
)


def picture(width: int, height: int, colour: Colour) -> VideoFrame:
    """A solid `colour` picture with a white bar placed by the colour.

    Close colours give the same picture but for the shade; black stays plain black.
    """
    row = bytearray(bytes((*colour, 255)) * width)
    if colour == (0, 0, 0):
        return VideoFrame.from_bytes(bytes(row) * height, width, height, format="rgba")
    bar_width = max(2, width // 6)
    left = (sum(colour) // 32 * 37) % max(1, width - bar_width)
    bar_row = bytearray(row)
    bar_row[left * 4 : (left + bar_width) * 4] = b"\xff\xff\xff\xff" * bar_width
    rows = [bar_row if height // 4 <= y < height * 3 // 4 else row for y in range(height)]
    return VideoFrame.from_bytes(bytes(b"".join(rows)), width, height, format="rgba")


def make_video(
    path: Path,
    *,
    width: int = 320,
    height: int = 240,
    seconds: float = 3.0,
    fps: int = 10,
    scenes: Sequence[Colour] = SCENES[:3],
    subtitles: Sequence[Cue] | None = None,
    subtitle_codec: str | None = None,
    language: str = "eng",
    audio: bool = False,
    rotation: int = 0,
    faststart: bool = False,
    start_s: float = 0.0,
) -> Path:
    """Write an H.264 video cycling evenly through `scenes` (each starts on a keyframe).

    The container follows the suffix; subtitles use mov_text in MP4 and subrip
    in MKV unless `subtitle_codec` says otherwise.
    """
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "30"}
        video.codec_context.gop_size = fps  # a keyframe every second
        if rotation:
            video.set_display_rotation(rotation)
        text: SubtitleStream | None = None
        if subtitles is not None:
            codec = subtitle_codec or ("mov_text" if path.suffix in (".mp4", ".mov") else "subrip")
            text = cast(SubtitleStream, out.add_stream(codec))
            text.codec_context.subtitle_header = ASS_HEADER
            text.metadata["language"] = language
            text.time_base = fractions.Fraction(1, 1000)  # before the header is written
        sound = out.add_stream("aac", rate=16000) if audio else None

        total = max(1, round(seconds * fps))
        pictures = [picture(width, height, c).reformat(format="yuv420p") for c in scenes]
        previous = -1
        for n in range(total):
            scene = min(len(scenes) - 1, n * len(scenes) // total)
            frame = pictures[scene]
            frame.pts = n + round(start_s * fps)  # a clock that starts late, as in MPEG-TS
            # Start every scene on a keyframe, as a scene-cut detector would.
            frame.pict_type = PictureType.I if scene != previous else PictureType.NONE
            previous = scene
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            _write_tone(out, sound, seconds)
        if text is not None and subtitles:
            _write_cues(out, text, subtitles)
    return path


def make_audio_only(path: Path, *, seconds: float = 1.0) -> Path:
    """An AAC tone in an MP4 (.m4a-like) file, with no video track."""
    with av.open(str(path), "w") as out:
        sound = out.add_stream("aac", rate=16000)
        _write_tone(out, sound, seconds)
    return path


def _write_tone(
    out: av.container.OutputContainer, sound: av.audio.stream.AudioStream, seconds: float
) -> None:
    rate = 16000
    chunk = 1024
    samples = int(seconds * rate)
    for start in range(0, samples, chunk):
        n = min(chunk, samples - start)
        pcm = b"".join(
            int(8000 * math.sin(2 * math.pi * 440 * (start + i) / rate)).to_bytes(
                2, "little", signed=True
            )
            for i in range(n)
        )
        frame = av.AudioFrame(format="s16", layout="mono", samples=n)
        frame.planes[0].update(pcm + bytes(frame.planes[0].buffer_size - len(pcm)))
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = fractions.Fraction(1, rate)
        out.mux(sound.encode(frame))
    out.mux(sound.encode(None))


def _write_cues(
    out: av.container.OutputContainer, stream: SubtitleStream, cues: Sequence[Cue]
) -> None:
    for index, (start, end, line) in enumerate(cues):
        start_ms, end_ms = round(start * 1000), round(end * 1000)
        event = f"{index},0,Default,,0,0,0,,{line}".encode()
        subtitle = av.subtitles.subtitle.SubtitleSet.create(
            event, 0, end_ms - start_ms, pts=start_ms
        )
        packet = stream.codec_context.encode_subtitle(subtitle)
        packet.stream = stream
        packet.pts = packet.dts = start_ms
        packet.duration = end_ms - start_ms
        packet.time_base = fractions.Fraction(1, 1000)  # the stream's, set at creation
        out.mux(packet)


def corrupt_pictures(path: Path) -> None:
    """Overwrite the media data of an MP4 (its `mdat` box) with zeros; headers stay."""
    data = bytearray(path.read_bytes())
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = bytes(data[offset + 4 : offset + 8])
        if kind == b"mdat":
            data[offset + 8 : offset + size] = bytes(size - 8)
            break
        offset += size
    path.write_bytes(bytes(data))
