"""Pick a handful of representative, distinct frames and encode them as small JPEGs."""

from __future__ import annotations

import dataclasses
import fractions
from collections.abc import Iterator
from pathlib import Path

import av
import av.filter
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from ..errors import InvalidMedia
from ..providers.base import Frame
from .container import DECODE_ERRORS, UNREADABLE, header_duration, open_media, video_stream

# Candidates looked at per frame kept: enough to find the scene changes of a
# short video, few enough that seeking stays cheap on a long one.
CANDIDATES_PER_FRAME = 3
MAX_CANDIDATES = 30
SIGNATURE_EDGE = 16  # a 16x16 grayscale thumbnail identifies a scene well enough
# Mean absolute difference (0-255) below which two signatures are the same scene.
DUPLICATE_DISTANCE = 12.0
BLACK_LEVEL = 16  # frames darker than this everywhere (fades, blank intros) say nothing


@dataclasses.dataclass(frozen=True)
class _Candidate:
    frame: Frame
    signature: bytes


def pick_frames(
    path: Path,
    *,
    max_frames: int,
    max_edge: int,
    jpeg_quality: int,
    duration_s: float | None = None,
) -> list[Frame]:
    """Up to `max_frames` distinct frames spread over the video, in time order.

    Only keyframes are decoded: the decoder seeks to evenly spread times and
    stops at the first keyframe, so the cost does not grow with the video's
    length. Near-duplicate and black frames are dropped. Each JPEG's longest
    edge is at most `max_edge`. Memory holds only the kept JPEGs. `duration_s`
    (from `probe`) helps for files whose headers do not give one.
    """
    if max_frames <= 0:
        return []
    with open_media(path) as container:
        stream = video_stream(container)
        # Decode keyframes only; everything else is skipped by the decoder.
        stream.codec_context.skip_frame = "NONKEY"
        duration = header_duration(container, stream) or duration_s or 0.0
        count = min(MAX_CANDIDATES, max_frames * CANDIDATES_PER_FRAME)
        targets = [duration * (i + 0.5) / count for i in range(count)]
        kept: list[_Candidate] = []
        try:
            for picture, timestamp in _keyframes_near(container, stream, targets or [0.0]):
                signature = _signature(picture)
                if _is_black(signature) or any(
                    _distance(signature, c.signature) < DUPLICATE_DISTANCE for c in kept
                ):
                    continue
                frame = _to_jpeg(picture, timestamp, max_edge=max_edge, quality=jpeg_quality)
                kept.append(_Candidate(frame, signature))
        except DECODE_ERRORS as exc:
            # A truncated or damaged file still leaves the frames decoded so far.
            if not kept:
                raise InvalidMedia(UNREADABLE) from exc
    if not kept:
        raise InvalidMedia("No picture in the video could be decoded.")
    return [c.frame for c in _spread(kept, max_frames)]


def _keyframes_near(
    container: InputContainer, stream: VideoStream, targets: list[float]
) -> Iterator[tuple[VideoFrame, float]]:
    """The keyframe at or before each target time (seconds from the start), each once,
    with its own time from the start."""
    time_base = stream.time_base or fractions.Fraction(1, 1000)
    origin = stream.start_time or 0  # e.g. MPEG-TS clocks rarely start at zero
    seen: set[int | None] = set()
    for target in targets:
        container.seek(origin + int(target / time_base), stream=stream, backward=True)
        for picture in container.decode(stream):
            if picture.pts not in seen:
                seen.add(picture.pts)
                yield picture, max(0.0, float(((picture.pts or origin) - origin) * time_base))
            break


def _signature(picture: VideoFrame) -> bytes:
    tiny = picture.reformat(width=SIGNATURE_EDGE, height=SIGNATURE_EDGE, format="gray")
    plane = tiny.planes[0]
    data = bytes(plane)
    # Rows may be padded to an alignment: keep only the visible pixels.
    return b"".join(
        data[row * plane.line_size : row * plane.line_size + SIGNATURE_EDGE]
        for row in range(SIGNATURE_EDGE)
    )


def _distance(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def _is_black(signature: bytes) -> bool:
    return max(signature) < BLACK_LEVEL


def _spread(kept: list[_Candidate], limit: int) -> list[_Candidate]:
    """At most `limit` of the kept frames, evenly spread, first and last included
    (a single frame is the middle one: openings are often titles or faces)."""
    if len(kept) <= limit:
        return kept
    if limit == 1:
        return [kept[len(kept) // 2]]
    last = len(kept) - 1
    return [kept[round(i * last / (limit - 1))] for i in range(limit)]


def _to_jpeg(picture: VideoFrame, timestamp: float, *, max_edge: int, quality: int) -> Frame:
    # Scale first (cheaper), then turn the picture upright as a player would.
    width, height = _fit(picture.width, picture.height, max_edge)
    image = picture.reformat(width=width, height=height, format="yuvj420p")
    rotation = picture.rotation % 360
    if rotation in _TURNS:
        image = _rotate(image, rotation)
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = image.width, image.height
    codec.pix_fmt = "yuvj420p"
    codec.time_base = fractions.Fraction(1, 25)
    qscale = _qscale(quality)
    codec.options = {"qmin": str(qscale), "qmax": str(qscale)}
    image.pts = None
    jpeg = b"".join(bytes(p) for p in [*codec.encode(image), *codec.encode(None)])
    return Frame(timestamp=timestamp, jpeg=jpeg, width=image.width, height=image.height)


def _fit(width: int, height: int, max_edge: int) -> tuple[int, int]:
    """Downscale to fit `max_edge`, keeping the aspect ratio and even sizes (chroma 4:2:0)."""
    scale = min(1.0, max_edge / max(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _qscale(quality: int) -> int:
    """Map a 1-100 JPEG quality onto FFmpeg's mjpeg quantiser (2 best … 31 worst)."""
    return max(2, min(31, round(2 + (100 - quality) * 0.3)))


# Filters that apply a display rotation (degrees counter-clockwise, as PyAV reports it).
_TURNS: dict[int, list[tuple[str, str]]] = {
    90: [("transpose", "cclock")],
    180: [("hflip", ""), ("vflip", "")],
    270: [("transpose", "clock")],
}


def _rotate(image: VideoFrame, rotation: int) -> VideoFrame:
    graph = av.filter.Graph()
    source = graph.add_buffer(
        width=image.width,
        height=image.height,
        format=image.format,
        time_base=fractions.Fraction(1, 25),
    )
    turns = [graph.add(name, args) for name, args in _TURNS[rotation]]
    graph.link_nodes(source, *turns, graph.add("buffersink")).configure()
    graph.push(image)
    return graph.vpull()
