"""Small synthetic media files for the tests, written with PyAV only."""

from __future__ import annotations

import dataclasses
import fractions
import math
import random
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


def make_8k(path: Path) -> Path:
    """One black 7680x4320 H.264 frame: ~100 KB on disk, 50 MB once decoded."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.pix_fmt = 7680, 4320, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "51"}
        frame = VideoFrame(7680, 4320, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.pts = 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
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


# --- scene videos: known cuts and text overlays (tests and `bench.frames`) -------------


@dataclasses.dataclass(frozen=True)
class Shot:
    """One camera shot: a patterned background, a moving object and maybe a text block.

    `text_at` is when (seconds into the shot) a block of text-like lines appears,
    covering `text_height` of the picture's height; it stays until the cut.
    """

    seconds: float
    colour: Colour
    text_at: float | None = None
    text_height: float = 0.22


def shot_bounds(shots: Sequence[Shot]) -> list[tuple[float, float]]:
    """(start, end) of each shot in seconds."""
    bounds, start = [], 0.0
    for shot in shots:
        bounds.append((start, start + shot.seconds))
        start += shot.seconds
    return bounds


def make_scene_video(
    path: Path,
    shots: Sequence[Shot],
    *,
    width: int = 320,
    height: int = 568,
    fps: int = 30,
    preset: str = "veryfast",
    crf: int = 26,
    x264_params: str | None = None,
    variable_rate: bool = False,
    rotation: int = 0,
) -> Path:
    """Write an H.264 video of `shots`; the encoder places keyframes itself.

    By default x264 decides (a keyframe at least every 250 frames, plus one at
    most cuts). `x264_params="keyint=100000:min-keyint=100000:scenecut=0"` gives
    a video with no keyframe after the first. With `variable_rate` the frame
    intervals vary between 1/3 and 2 times the nominal one (timestamps in ms).
    """
    rng = random.Random(len(shots) * 7919 + width)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": preset, "crf": str(crf)}
        if x264_params:
            video.options["x264-params"] = x264_params
        if variable_rate:
            video.codec_context.time_base = fractions.Fraction(1, 1000)
        if rotation:
            video.set_display_rotation(rotation)
        blank = VideoFrame(width, height, "yuv420p")
        luma_line, chroma_line = blank.planes[0].line_size, blank.planes[1].line_size
        clock = 0.0  # seconds
        index = 0
        for number, ((start, end), shot) in enumerate(zip(shot_bounds(shots), shots, strict=True)):
            plain = _ShotPlanes(shot, number, width, height, luma_line, chroma_line, text=False)
            texted = (
                _ShotPlanes(shot, number, width, height, luma_line, chroma_line, text=True)
                if shot.text_at is not None
                else plain
            )
            while clock < end - 1e-9:
                into = clock - start
                planes = texted if shot.text_at is not None and into >= shot.text_at else plain
                frame = planes.frame(into)
                if variable_rate:
                    frame.pts = round(clock * 1000)
                    frame.time_base = fractions.Fraction(1, 1000)
                    step = rng.uniform(1 / 3, 2.0) / fps
                else:
                    frame.pts = index
                    step = 1 / fps
                out.mux(video.encode(frame))
                index += 1
                clock = index / fps if not variable_rate else clock + step
        out.mux(video.encode(None))
    return path


def _yuv(colour: Colour) -> tuple[int, int, int]:
    r, g, b = colour
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    return tuple(max(16, min(235, round(c))) for c in (y, u, v))  # type: ignore[return-value]


class _ShotPlanes:
    """The rows of one shot's picture, precomputed; frames only move the object."""

    def __init__(
        self,
        shot: Shot,
        number: int,
        width: int,
        height: int,
        luma_line: int,
        chroma_line: int,
        *,
        text: bool,
    ) -> None:
        self.width, self.height = width, height
        y0, u0, v0 = _yuv(shot.colour)
        light = min(235, y0 + 30) if y0 < 128 else max(16, y0 - 30)
        band = max(2, height // (5 + number % 7))
        # Bands whose height differs from shot to shot, plus a bright bar placed by the colour.
        bar_w = max(2, width // 8)
        bar_x = (sum(shot.colour) // 24 * 41 + number * 53) % max(1, width - bar_w)
        rows = []
        for y in range(height):
            value = light if (y // band) % 2 else y0
            row = bytearray([value]) * luma_line
            if height // 8 <= y < height * 7 // 8:
                row[bar_x : bar_x + bar_w] = bytes([235]) * bar_w
            rows.append(bytes(row))
        chroma_rows = [bytes([u0]) * chroma_line, bytes([v0]) * chroma_line]
        u_rows = [chroma_rows[0]] * (height // 2)
        v_rows = [chroma_rows[1]] * (height // 2)
        if text:
            top = int(height * 0.58)
            bottom = min(height, top + max(4, int(height * shot.text_height)))
            left, right = width // 12, width - width // 12
            line_h = max(4, height // 40)
            for y in range(top, bottom):
                row = bytearray(rows[y])
                row[left:right] = bytes([225]) * (right - left)
                line = (y - top) // line_h
                inside = (y - top) % line_h
                if line_h // 5 <= inside < line_h * 4 // 5 and (y - top) >= line_h // 2:
                    x = left + width // 30
                    words = random.Random(number * 1000 + line)
                    while x < right - width // 30:
                        word = max(2, int(width * words.uniform(0.03, 0.14)))
                        stop = min(x + word, right - width // 30)
                        row[x:stop] = bytes([40]) * (stop - x)
                        x = stop + max(2, width // 40)
                rows[y] = bytes(row)
            for y in range(top // 2, bottom // 2):
                u_row = bytearray(u_rows[y])
                v_row = bytearray(v_rows[y])
                u_row[left // 2 : right // 2] = bytes([128]) * (right // 2 - left // 2)
                v_row[left // 2 : right // 2] = bytes([128]) * (right // 2 - left // 2)
                u_rows[y], v_rows[y] = bytes(u_row), bytes(v_row)
        self.rows = rows
        self.u = b"".join(u_rows)
        self.v = b"".join(v_rows)
        self.object_value = 235 if y0 < 128 else 16
        self.object_size = max(2, width // 6)

    def frame(self, seconds: float) -> VideoFrame:
        """The picture at `seconds` into the shot: a square slides across, back and forth."""
        size = self.object_size
        span = max(1, self.width - size)
        phase = (seconds / 3.0) % 2.0
        x = int(span * (phase if phase <= 1 else 2 - phase))
        top = self.height * 3 // 10
        rows = list(self.rows)
        block = bytes([self.object_value]) * size
        for y in range(top, min(self.height, top + size)):
            row = rows[y]
            rows[y] = row[:x] + block + row[x + size :]
        frame = VideoFrame(self.width, self.height, "yuv420p")
        frame.planes[0].update(b"".join(rows))
        frame.planes[1].update(self.u)
        frame.planes[2].update(self.v)
        return frame
