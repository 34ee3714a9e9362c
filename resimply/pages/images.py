"""A recipe page's picture (JPEG, PNG, WebP…) → a JPEG thumbnail for the book.

Stores keep thumbnails as JPEG. A JPEG that is already small enough is kept
as sent; anything else is decoded with PyAV (FFmpeg's image decoders, as the
frames of videos are) and encoded again, scaled down to `MAX_EDGE`. CPU work:
callers run it in an executor. A picture that cannot be decoded gives None.
"""

from __future__ import annotations

import fractions
import io

import av
import av.error

MAX_EDGE = 720
MAX_PIXELS = 40_000_000  # a decompression bomb is not decoded
_JPEG = b"\xff\xd8\xff"
_QSCALE = 5  # FFmpeg's mjpeg quantiser: ~ quality 90


def thumbnail_jpeg(
    data: bytes, *, keep_jpeg_bytes: int = 300 * 1024, max_edge: int = MAX_EDGE
) -> bytes | None:
    """`data` as a JPEG of at most `max_edge` px on its long side, or None."""
    if data.startswith(_JPEG) and len(data) <= keep_jpeg_bytes:
        return data
    try:
        with av.open(io.BytesIO(data), "r") as container:
            stream = container.streams.video[0]
            if stream.width * stream.height > MAX_PIXELS:
                return None
            picture = next(container.decode(stream), None)
    except (av.error.FFmpegError, IndexError, StopIteration, ValueError):
        return None
    if picture is None or not picture.width or not picture.height:
        return None
    scale = min(1.0, max_edge / max(picture.width, picture.height))
    width = max(2, int(picture.width * scale) // 2 * 2)
    height = max(2, int(picture.height * scale) // 2 * 2)
    image = picture.reformat(width=width, height=height, format="yuvj420p")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.thread_count = 1
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuvj420p"
    codec.time_base = fractions.Fraction(1, 25)
    codec.options = {"qmin": str(_QSCALE), "qmax": str(_QSCALE)}
    image.pts = None
    return b"".join(bytes(p) for p in [*codec.encode(image), *codec.encode(None)])
