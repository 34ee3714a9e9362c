"""Videos with text burned into the picture, as short recipe videos show their
ingredient lists: white text with a black outline over a busy, moving background.

Written with PyAV; the text is drawn with Pillow (a dependency of the `ocr`
extra) in DejaVu Sans Bold when the system has it (Debian: fonts-dejavu-core),
else Pillow's own scalable font.
"""

from __future__ import annotations

import dataclasses
import fractions
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import av
import numpy as np
import numpy.typing as npt
from av.subtitles.stream import SubtitleStream
from av.video.frame import VideoFrame
from PIL import Image, ImageDraw, ImageFont

from tests.mediagen import ASS_HEADER, Cue, _write_cues

FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"),
)


@dataclasses.dataclass(frozen=True)
class Overlay:
    """Lines of text on screen from `start` to `end` (seconds)."""

    start: float
    end: float
    lines: tuple[str, ...]


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONTS:
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def _background(width: int, height: int, seed: int) -> npt.NDArray[np.uint8]:
    """A busy texture twice the picture's size: coloured blocks and stripes,
    the kind of detail (food, a chopping board) text is read against."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(30, 226, (height // 12 + 2, width // 12 + 2, 3), dtype=np.uint8)
    texture = np.kron(blocks, np.ones((24, 24, 1), dtype=np.uint8))[: 2 * height, : 2 * width]
    stripes = (np.sin(np.arange(2 * width) / 5.0) * 40).astype(np.int16)
    return np.clip(texture.astype(np.int16) + stripes[None, :, None], 0, 255).astype(np.uint8)


def _text_layer(
    lines: Sequence[str], width: int, height: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """The overlay's pixels (RGB) and where it covers the picture."""
    size = max(12, width // 14)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    face = font(size)
    top = height // 6
    for number, line in enumerate(lines):
        draw.text(
            (width // 12, top + number * round(size * 1.6)),
            line,
            font=face,
            fill=(255, 255, 255, 255),
            stroke_width=max(2, size // 10),
            stroke_fill=(0, 0, 0, 255),
        )
    pixels = np.asarray(image)
    return pixels[:, :, :3].copy(), pixels[:, :, 3] > 127


def make_screen_video(
    path: Path,
    overlays: Sequence[Overlay],
    *,
    seconds: float,
    width: int = 360,
    height: int = 640,
    fps: int = 10,
    seed: int = 1,
    subtitles: Sequence[Cue] | None = None,
    keyframe_s: float = 4.0,
    scroll: bool = True,
) -> Path:
    """An H.264 video (MP4) whose background scrolls diagonally (or stands still),
    with `overlays` drawn over it; `subtitles` (if any) as an embedded mov_text track."""
    texture = _background(width, height, seed)
    layers = [_text_layer(o.lines, width, height) for o in overlays]
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "24"}
        video.codec_context.gop_size = max(1, round(keyframe_s * fps))
        text: SubtitleStream | None = None
        if subtitles is not None:
            text = cast(SubtitleStream, out.add_stream("mov_text"))
            text.codec_context.subtitle_header = ASS_HEADER
            text.metadata["language"] = "eng"
            text.time_base = fractions.Fraction(1, 1000)
        for index in range(round(seconds * fps)):
            at = index / fps
            shift = (index * 3) % height if scroll else 0
            picture = texture[shift : shift + height, shift // 2 : shift // 2 + width].copy()
            for overlay, (pixels, mask) in zip(overlays, layers, strict=True):
                if overlay.start <= at < overlay.end:
                    picture[mask] = pixels[mask]
            frame = VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if text is not None and subtitles:
            _write_cues(out, text, subtitles)
    return path


def overlay_image(lines: Sequence[str], *, width: int, height: int, seed: int = 1) -> bytes:
    """One still of `lines` over the busy background, as a JPEG (for OCR benches)."""
    texture = _background(width, height, seed)[:height, :width].copy()
    pixels, mask = _text_layer(lines, width, height)
    texture[mask] = pixels[mask]
    frame = VideoFrame.from_ndarray(texture, format="rgb24")
    import io

    buffer = io.BytesIO()
    frame.to_image().save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
