"""Pick the few frames that show every distinct scene, decoding as little as possible.

Two passes over the file (with decoder threads for large pictures):

1. **Scan.** Every packet of the video stream is demuxed (cheap: no decoding),
   but only keyframe packets reach the decoder (`skip_frame = "NONKEY"`), at
   most one per `min_spacing` seconds. Non-keyframe packet sizes are watched
   too: a packet several times larger than its neighbours is the encoder
   telling us that much of the picture changed there (a cut encoded without a
   keyframe, a block of text appearing) — a *spike*.
2. **Exact seeks, only where needed.** A spike is decoded exactly when the
   next decoded keyframe cannot stand for it (it belongs to another shot, or
   another spike follows); a long stretch without any decoded picture (a long
   GOP, or a file with no keyframe after the first) gets a few evenly spread
   exact decodes. Targets sharing a GOP are decoded in one forward run, with
   non-reference frames skipped (`skip_frame = "NONREF"`).

Each decoded picture is scored with two tiny looks: a 16x16 colour thumbnail
(scene identity: mean absolute difference) and an 8x8 grid of edge energy
from a 64x64 grey thumbnail (text and detail appearing). Near-duplicates are
dropped as they come; a frame whose content is a subset of another frame of
the same shot (the same shot before its text appeared) is dropped too. Only
kept frames are encoded, as JPEGs, right away: memory holds a bounded number
of small JPEGs and the decoder's own few pictures, never the video.

For reading on-screen text (`read_frames(max_shots=…)`, `ocr.py`), every
decoded picture unlike the one decoded before it is kept as well (a scene that
returns with another ingredient card is not "the same" there), at most
`MAX_CHANGES_PER_SHOT` × `max_shots` JPEGs.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import dataclasses
import fractions
import heapq
import itertools
import math
import threading
from collections.abc import Iterable
from pathlib import Path

import av
import av.filter
import numpy as np
import numpy.typing as npt
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream

from ..errors import InvalidMedia, VideoTooLarge
from ..providers.base import Frame
from .container import DECODE_ERRORS, UNREADABLE, header_duration, open_media, video_stream
from .subtitles import EmbeddedSubtitles

# --- looks ------------------------------------------------------------------------
SIGNATURE_EDGE = 16  # a 16x16 colour thumbnail identifies a scene well enough
DETAIL_EDGE = 64  # grey thumbnail for edge energy ...
DETAIL_CELLS = 8  # ... summed over an 8x8 grid of cells
# Mean absolute difference (0-255) below which two signatures are the same scene.
DUPLICATE_DISTANCE = 12.0
# A detail cell whose mean |gradient| grows by this much has gained something.
CELL_GAIN = 4.0
# Edge energy (mean |gradient| per thumbnail pixel, over the whole picture) that a
# frame must add to count as new (text appeared), and the loss it may have
# and still hold everything the other frame shows (at least; see `dominates`).
DETAIL_GAIN = 1.5
DETAIL_LOSS = 0.75
BLACK_LEVEL = 32  # frames darker than this (Y, 16 is black) everywhere say nothing (fades)

# --- scan -------------------------------------------------------------------------
MAX_KEYFRAME_DECODES = 150  # keyframes decoded in the scan, on average over the video
KEYFRAME_BURST = 8  # ... at any pace while this many are in hand
UNKNOWN_DURATION_RATE = 2.0  # keyframes per second when the length is unknown
MIN_KEYFRAME_SPACING_S = 0.15
KEY_SIZE_JUMP = math.log(1.5)  # a keyframe this much larger or smaller: likely a cut
KEY_INDEX_SPACING_S = 0.25  # keyframe times remembered (for planning seeks) ...
MAX_KEY_INDEX = 20_000  # ... at most this many
SPIKE_WINDOW = 48  # recent non-keyframe packet sizes the median is taken over
SPIKE_RATIO = 4.0  # a packet this many times the median is a spike
MIN_SPIKE_BYTES = 512
SPIKE_MERGE_S = 0.5  # spikes this close are one event (a fade, an animation)
MAX_SPIKES = 64
SETTLE_S = 0.3  # decode a little after a spike: animations have settled by then

# --- exact decodes ------------------------------------------------------------------
MAX_EXACT = 24  # exact decode targets in all
MAX_GAP_FILL = 6  # of which for long stretches with no decoded picture
MIN_GAP_S = 10.0  # longer than common GOPs (250 frames at 25-30 fps)
REWIND_S = 1.0  # decode on rather than seek when the next target is this close
MAX_DECODE_ERRORS = 16  # damaged packets skipped before giving up on a pass

# --- decoding ---------------------------------------------------------------------
THREADED_PIXELS = 1280 * 720  # decoder threads only above this picture size

# --- memory ------------------------------------------------------------------------
MIN_POOL = 32  # distinct candidates (JPEGs) kept before the least distinct is evicted
# Pictures kept for reading text, per shot to be read (`_Pool.changes`): the rest
# of a long video's changes are not kept (thinned evenly only among those kept).
MAX_CHANGES_PER_SHOT = 2
DEFAULT_MAX_PIXELS = 4096 * 2304


@dataclasses.dataclass(frozen=True, eq=False)
class Look:
    """What a picture looks like, in a few hundred bytes."""

    colour: npt.NDArray[np.int64]  # Y, U, V of a 16x16 thumbnail: shape (3, 256)
    detail: npt.NDArray[np.int64]  # edge energy per cell, DETAIL_CELLS² cells
    total: int  # detail.sum()

    @property
    def is_black(self) -> bool:
        return int(self.colour[0].max()) < BLACK_LEVEL

    def distance(self, other: Look, skip: frozenset[int] = frozenset()) -> float:
        """Mean absolute difference per pixel (|ΔY| + |ΔU| + |ΔV|, so a change of
        brightness alone counts as in a grey image), leaving out signature pixels
        in the detail cells `skip`."""
        difference = np.abs(self.colour - other.colour)
        if not skip:
            return float(difference.sum()) / SIGNATURE_PIXELS
        keep = ~np.isin(_CELL_OF, list(skip))
        kept = int(keep.sum())
        if not kept:
            return 0.0
        return float(difference[:, keep].sum()) / kept

    def gain_loss(self, other: Look) -> tuple[float, float]:
        """Edge energy `other` adds to and removes from this look, per thumbnail pixel."""
        change = other.detail - self.detail
        gain = int(change[change > 0].sum())
        loss = -int(change[change < 0].sum())
        return gain / DETAIL_PIXELS, loss / DETAIL_PIXELS


SIGNATURE_PIXELS = SIGNATURE_EDGE * SIGNATURE_EDGE
DETAIL_PIXELS = DETAIL_EDGE * DETAIL_EDGE
_CELL = DETAIL_EDGE // DETAIL_CELLS  # thumbnail pixels per detail cell, each way
_BLOCK = DETAIL_EDGE // SIGNATURE_EDGE  # thumbnail pixels per signature pixel, each way
# The detail cell each signature pixel lies in.
_CELL_OF = np.array(
    [
        (y * _BLOCK // _CELL) * DETAIL_CELLS + x * _BLOCK // _CELL
        for y in range(SIGNATURE_EDGE)
        for x in range(SIGNATURE_EDGE)
    ]
)


def look(picture: VideoFrame, scaler: VideoReformatter | None = None) -> Look:
    """One small AREA downscale (cheap even from 4K), then a few array sums.

    Pass the same `scaler` for every picture of a video: setting one up costs
    more than the downscale itself (`VideoFrame.reformat` sets one up per frame).
    """
    thumb = (scaler or VideoReformatter()).reformat(
        picture, width=DETAIL_EDGE, height=DETAIL_EDGE, format="yuv444p", interpolation="AREA"
    )
    planes = np.stack([_plane(thumb, index) for index in range(3)]).astype(np.int16)
    grey = planes[0]
    # |horizontal| + |vertical| neighbour differences; the last column and row have
    # no neighbour and count zero.
    edges = np.zeros_like(grey)
    edges[:, :-1] += np.abs(np.diff(grey, axis=1))
    edges[:-1, :] += np.abs(np.diff(grey, axis=0))
    detail = edges.reshape(DETAIL_CELLS, _CELL, DETAIL_CELLS, _CELL).sum(axis=(1, 3)).ravel()
    # Block sums by adding the _BLOCK rows, then the _BLOCK columns, of each block
    # as whole arrays: a third of numpy's sum over two axes, which loops per block
    # (a block sum, ≤ 16 × 255, fits int16).
    rows = planes.reshape(3 * SIGNATURE_EDGE, _BLOCK, SIGNATURE_EDGE, _BLOCK)
    summed = sum(rows[:, i] for i in range(1, _BLOCK)) + rows[:, 0]
    blocks = sum(summed[..., i] for i in range(1, _BLOCK)) + summed[..., 0]
    colour = (blocks // (_BLOCK * _BLOCK)).reshape(3, SIGNATURE_PIXELS).astype(np.int64)
    return Look(colour=colour, detail=detail.astype(np.int64), total=int(detail.sum()))


def _plane(picture: VideoFrame, index: int) -> npt.NDArray[np.uint8]:
    """One plane's visible pixels (rows may be padded to `line_size`)."""
    plane = picture.planes[index]
    rows: npt.NDArray[np.uint8] = np.frombuffer(memoryview(plane), dtype=np.uint8)
    return rows.reshape(-1, plane.line_size)[: picture.height, : picture.width]


def dominates(big: Look, small: Look) -> bool:
    """`big` shows what `small` shows and more: the same shot, with text added.

    The added detail must be local (a panel, a caption): outside the cells that
    gained it, the two pictures must be the same scene.
    """
    # gain ≥ DETAIL_GAIN with a loss of at most max(DETAIL_LOSS, gain / 4) means a
    # net gain of at least DETAIL_GAIN - DETAIL_LOSS: a cheap first test.
    if (big.total - small.total) / DETAIL_PIXELS < DETAIL_GAIN - DETAIL_LOSS:
        return False
    gain, loss = small.gain_loss(big)
    # Things move meanwhile (a hand, the camera): allow a loss small beside the gain.
    if gain < DETAIL_GAIN or loss > max(DETAIL_LOSS, gain / 4):
        return False
    threshold = CELL_GAIN * _CELL * _CELL
    changed = frozenset(np.flatnonzero(big.detail - small.detail > threshold).tolist())
    if len(changed) * 2 > len(small.detail):
        return False
    return big.distance(small, skip=changed) < DUPLICATE_DISTANCE


def is_duplicate(kept: Look, new: Look) -> bool:
    """`new` adds nothing to `kept`: the same scene, and no new detail (text)."""
    if kept.distance(new) >= DUPLICATE_DISTANCE:
        return False
    gain, _ = kept.gain_loss(new)
    return gain < DETAIL_GAIN


def text_changed(before: Look, after: Look) -> bool:
    """`after` may show other text than `before`: another scene, or detail gained
    or lost in some cell (one line of text swapped for another nets no gain over
    the picture, so `is_duplicate` misses it)."""
    if not is_duplicate(before, after):
        return True
    threshold = CELL_GAIN * _CELL * _CELL
    return bool(np.abs(after.detail - before.detail).max() > threshold)


_per_thread = threading.local()


def _scalers() -> tuple[VideoReformatter, VideoReformatter]:
    """This thread's two scalers (thumbnails, JPEGs), kept from video to video:
    most videos share a few picture sizes, and a scaler set up for a size is
    reused at no cost (see `look`). Per thread, as a scaler is not thread-safe."""
    scalers: tuple[VideoReformatter, VideoReformatter] | None = getattr(
        _per_thread, "scalers", None
    )
    if scalers is None:
        scalers = _per_thread.scalers = (VideoReformatter(), VideoReformatter())
    return scalers


# --- candidates --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Candidate:
    frame: Frame
    look: Look


class _Pool:
    """Distinct candidates, each already a JPEG; bounded in number."""

    def __init__(self, *, max_frames: int, max_edge: int, jpeg_quality: int, keep: int = 0) -> None:
        self.max_edge, self.jpeg_quality = max_edge, jpeg_quality
        self.capacity = max(MIN_POOL, 3 * max_frames)
        # For reading on-screen text (`keep` > 0): every decoded picture unlike the
        # one decoded before it. The candidates above are unlike *all* others, so a
        # scene that returns with other text (a face, a new ingredient card) is
        # dropped there — fine for pictures to look at, not for text to read.
        self.keep = keep
        self.changes: list[_Candidate] = []
        self.kept: list[_Candidate] = []
        self.offered = 0
        self._thumbs, self._jpegs = _scalers()

    def offer(self, picture: VideoFrame, timestamp: float) -> Look:
        self.offered += 1
        seen = look(picture, self._thumbs)
        if seen.is_black:
            return seen
        frame: Frame | None = None
        if not any(is_duplicate(c.look, seen) for c in self.kept):
            frame = self._jpeg(picture, timestamp)
            self.kept.append(_Candidate(frame, seen))
            if len(self.kept) > self.capacity:
                self._evict()
        changes = self.changes
        if (
            self.keep
            and len(changes) < MAX_CHANGES_PER_SHOT * self.keep
            and not (changes and not text_changed(changes[-1].look, seen))
        ):
            changes.append(_Candidate(frame or self._jpeg(picture, timestamp), seen))
        return seen

    def _jpeg(self, picture: VideoFrame, timestamp: float) -> Frame:
        return _to_jpeg(
            picture, timestamp, self._jpegs, max_edge=self.max_edge, quality=self.jpeg_quality
        )

    def _evict(self) -> None:
        """Drop a frame another one contains, else the one closest to its nearest neighbour."""
        for i, small in enumerate(self.kept):
            if any(dominates(big.look, small.look) for big in self.kept if big is not small):
                del self.kept[i]
                return
        nearest = [min(c.look.distance(o.look) for o in self.kept if o is not c) for c in self.kept]
        del self.kept[nearest.index(min(nearest))]

    def choose(self, limit: int) -> list[Frame]:
        return [c.frame for c in _spread(self.shots(), limit)]

    def text_shots(self, limit: int) -> list[Frame]:
        """Up to `limit` pictures, in time order, each unlike the one before it:
        every change of picture or text the scan decoded, evenly thinned."""
        ordered = sorted(self.changes, key=lambda c: c.frame.timestamp)
        changes: list[_Candidate] = []
        for candidate in ordered:  # exact decodes came after the scan: compare in time order
            if not (changes and not text_changed(changes[-1].look, candidate.look)):
                changes.append(candidate)
        return [c.frame for c in _spread(changes, limit)]

    def shots(self) -> list[_Candidate]:
        """Every distinct shot once, with its text: in time order."""
        ordered = sorted(self.kept, key=lambda c: c.frame.timestamp)
        # In time order, the first of a scene wins (a candidate found by an exact
        # decode may come after a later keyframe of the same scene).
        distinct: list[_Candidate] = []
        for candidate in ordered:
            if not any(is_duplicate(d.look, candidate.look) for d in distinct):
                distinct.append(candidate)
        # A shot before its text appeared says nothing its texted frame doesn't.
        return [
            c
            for c in distinct
            if not any(dominates(o.look, c.look) for o in distinct if o is not c)
        ]


def _spread(kept: list[_Candidate], limit: int) -> list[_Candidate]:
    """At most `limit` of the kept frames, evenly spread, first and last included
    (a single frame is the middle one: openings are often titles or faces)."""
    if len(kept) <= limit:
        return kept
    if limit == 1:
        return [kept[len(kept) // 2]]
    last = len(kept) - 1
    return [kept[round(i * last / (limit - 1))] for i in range(limit)]


# --- the two passes --------------------------------------------------------------------


@dataclasses.dataclass
class _Scan:
    """What the first pass learnt about the file."""

    keyframes: list[float] = dataclasses.field(default_factory=list)  # thinned
    decoded: list[tuple[float, Look]] = dataclasses.field(default_factory=list)
    spikes: list[float] = dataclasses.field(default_factory=list)  # merged, sorted
    end: float = 0.0  # the last packet's end, seconds


class _Clock:
    """Stream timestamps → seconds from the start of the video."""

    def __init__(self, stream: VideoStream) -> None:
        time_base = stream.time_base or fractions.Fraction(1, 1000)
        # Integers, not a Fraction: Fraction arithmetic per packet costs more than
        # the rest of the scan, and int / int is still correctly rounded.
        self.num, self.den = time_base.numerator, time_base.denominator
        self.origin = stream.start_time or 0  # e.g. MPEG-TS clocks rarely start at zero

    def seconds(self, pts: int) -> float:
        return max(0.0, (pts - self.origin) * self.num / self.den)

    def span(self, duration: int) -> float:
        return duration * self.num / self.den

    def pts(self, seconds: float) -> int:
        return self.origin + int(seconds * self.den / self.num)


def pick_frames(
    path: Path,
    *,
    max_frames: int,
    max_edge: int,
    jpeg_quality: int,
    duration_s: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[Frame]:
    """Up to `max_frames` distinct frames covering the video's scenes, in time order.

    Each JPEG's longest edge is at most `max_edge`, turned upright. `duration_s`
    (from `probe`) helps for files whose headers do not give one. A picture
    size over `max_pixels` is refused from the header, and the decoder itself
    refuses larger pictures should the size change mid-stream. Raises
    `InvalidMedia` when no picture can be decoded; a damaged or truncated file
    still gives the frames decoded before the damage.
    """
    with open_media(path) as container:
        return frames_of(
            container,
            max_frames=max_frames,
            max_edge=max_edge,
            jpeg_quality=jpeg_quality,
            duration_s=duration_s,
            max_pixels=max_pixels,
        )


def frames_of(
    container: InputContainer,
    *,
    max_frames: int,
    max_edge: int,
    jpeg_quality: int,
    duration_s: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    subtitles: EmbeddedSubtitles | None = None,
) -> list[Frame]:
    """`pick_frames` for a container just opened (nothing read from it yet).

    The scan passes the packets of `subtitles.streams` on to `subtitles` (and
    sets `subtitles.read`): the file is then read once for both.
    """
    if max_frames <= 0:
        return []
    return read_frames(
        container,
        max_frames=max_frames,
        max_edge=max_edge,
        jpeg_quality=jpeg_quality,
        duration_s=duration_s,
        max_pixels=max_pixels,
        subtitles=subtitles,
    ).frames


@dataclasses.dataclass(frozen=True)
class Picked:
    """The frames to show a model, and the pictures to read text in."""

    frames: list[Frame]
    # Every change of picture or text the scan decoded (each picture unlike the
    # one before it), in time order, evenly thinned to `max_shots`.
    shots: list[Frame]


def read_frames(
    container: InputContainer,
    *,
    max_frames: int,
    max_edge: int,
    jpeg_quality: int,
    duration_s: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    subtitles: EmbeddedSubtitles | None = None,
    max_shots: int = 0,
) -> Picked:
    """`frames_of`, and beside them up to `max_shots` pictures to read text in
    (`Picked.shots`): every change the scan decoded, not only the distinct scenes
    the frames are chosen from."""
    pool = _picked_pool(
        container,
        max_frames=max(1, max_frames),
        max_edge=max_edge,
        jpeg_quality=jpeg_quality,
        duration_s=duration_s,
        max_pixels=max_pixels,
        subtitles=subtitles,
        keep=max_shots,
    )
    frames = pool.choose(max_frames) if max_frames > 0 else []
    return Picked(frames, pool.text_shots(max_shots) if max_shots > 0 else [])


def _picked_pool(
    container: InputContainer,
    *,
    max_frames: int,
    max_edge: int,
    jpeg_quality: int,
    duration_s: float | None,
    max_pixels: int,
    subtitles: EmbeddedSubtitles | None,
    keep: int,
) -> _Pool:
    stream = video_stream(container)
    context = stream.codec_context
    if context.width * context.height > max_pixels:
        raise VideoTooLarge(f"The video is {context.width}×{context.height}; too many pixels.")
    # Frame and slice threads shorten the wait for one big video; for small
    # pictures they cost more CPU than they save, which a busy worker (many
    # videos at once, each on its own pool thread) cannot spare.
    context.thread_type = "AUTO" if context.width * context.height > THREADED_PIXELS else "NONE"
    context.options = {"max_pixels": str(max_pixels)}
    pool = _Pool(max_frames=max_frames, max_edge=max_edge, jpeg_quality=jpeg_quality, keep=keep)
    clock = _Clock(stream)
    duration = header_duration(container, stream) or duration_s or 0.0
    try:
        scan = _scan(container, stream, clock, pool, duration, subtitles)
        targets = _exact_targets(scan, max_frames)
        if targets:
            _decode_exact(container, stream, clock, pool, targets, scan.keyframes)
    except DECODE_ERRORS as exc:
        if not pool.kept and not pool.offered:
            raise InvalidMedia(UNREADABLE) from exc
    if not pool.kept:
        raise InvalidMedia("No picture in the video could be decoded.")
    return pool


def _scan(
    container: InputContainer,
    stream: VideoStream,
    clock: _Clock,
    pool: _Pool,
    duration: float,
    subtitles: EmbeddedSubtitles | None = None,
) -> _Scan:
    context = stream.codec_context
    others = subtitles.streams if subtitles is not None else []
    video = stream.index
    context.skip_frame = "NONKEY"
    scan = _Scan()
    rate = MAX_KEYFRAME_DECODES / duration if duration > 0 else UNKNOWN_DURATION_RATE
    tokens, last_key, last_decode = float(KEYFRAME_BURST), 0.0, -math.inf
    last_key_size, decodes = 1, 0
    window: collections.deque[int] = collections.deque()  # recent sizes, oldest first
    ordered: list[int] = []  # the same sizes, sorted: the median without a sort per packet
    spikes: list[tuple[float, float]] = []  # a min-heap of (score, time)
    errors = 0

    def take(pictures: Iterable[VideoFrame], fallback: float) -> None:
        for picture in pictures:
            at = clock.seconds(picture.pts) if picture.pts is not None else fallback
            scan.decoded.append((at, pool.offer(picture, at)))

    # The loop runs once per packet (thousands per minute of video): packet
    # attributes are read once, and the clock's arithmetic (`_Clock.seconds`,
    # `span`) is inlined.
    num, den, origin = clock.num, clock.den, clock.origin
    try:
        for packet in container.demux(stream, *others):
            if packet.stream_index != video and subtitles is not None:
                subtitles.take(packet)
                continue
            pts, size = packet.pts, packet.size
            if pts is None or size == 0:
                continue  # the demuxer's flush packet, or nothing to time it by
            at = max(0.0, (pts - origin) * num / den)
            length = packet.duration
            end = at + length * num / den if length else at
            if end > scan.end:
                scan.end = end
            if packet.is_keyframe:
                if (not scan.keyframes or at - scan.keyframes[-1] >= KEY_INDEX_SPACING_S) and len(
                    scan.keyframes
                ) < MAX_KEY_INDEX:
                    scan.keyframes.append(at)
                # Keyframes are decoded at a bounded pace (a token bucket), but one
                # whose size jumps from the last one is likely a new shot: taken too.
                tokens = min(KEYFRAME_BURST, tokens + (at - last_key) * rate)
                last_key = at
                jump = abs(math.log(max(1, size) / last_key_size)) > KEY_SIZE_JUMP
                last_key_size = max(1, size)
                if (
                    decodes < 2 * MAX_KEYFRAME_DECODES
                    and at - last_decode >= MIN_KEYFRAME_SPACING_S
                    and (tokens >= 1 or (jump and tokens >= -KEYFRAME_BURST))
                ):
                    last_decode = at
                    decodes += 1
                    tokens -= 1
                    try:
                        take(context.decode(packet), at)
                    except DECODE_ERRORS:
                        errors += 1
                        if errors > MAX_DECODE_ERRORS:
                            raise
                continue
            if len(window) >= 8:
                typical = max(1.0, ordered[len(ordered) // 2])
                if size >= MIN_SPIKE_BYTES and size >= SPIKE_RATIO * typical:
                    heapq.heappush(spikes, (size / typical, at))
                    if len(spikes) > MAX_SPIKES:
                        heapq.heappop(spikes)
            if len(window) == SPIKE_WINDOW:
                del ordered[bisect.bisect_left(ordered, window.popleft())]
            window.append(size)
            bisect.insort(ordered, size)
    except DECODE_ERRORS:
        pass  # truncated or damaged: keep what came before
    if subtitles is not None:
        subtitles.read = True
    with contextlib.suppress(*DECODE_ERRORS):
        take(context.decode(None), scan.end)  # the pictures still in the decoder
    scan.decoded.sort(key=lambda d: d[0])
    scan.keyframes.sort()
    scan.spikes = _merge(sorted(t for _, t in spikes))
    return scan


def _merge(times: list[float]) -> list[float]:
    """One time per cluster of spikes: the last of each (the change is complete)."""
    merged: list[float] = []
    for at in times:
        if merged and at - merged[-1] < SPIKE_MERGE_S:
            merged[-1] = at
        else:
            merged.append(at)
    return merged


def _exact_targets(scan: _Scan, max_frames: int) -> list[float]:
    """Times worth an exact decode: spikes the keyframes don't stand for, long gaps."""
    times = [t for t, _ in scan.decoded]
    looks = [lk for _, lk in scan.decoded]
    targets: list[float] = []
    # Spikes between two decoded keyframes A and B: if B is the same shot as A, the
    # last spike's change is still visible at B; every other spike needs a decode.
    by_gap: dict[int, list[float]] = collections.defaultdict(list)
    for spike in scan.spikes:
        by_gap[bisect.bisect_right(times, spike)].append(spike)
    for after, group in by_gap.items():
        before = after - 1
        same_shot = (
            before >= 0
            and after < len(looks)
            and looks[before].distance(looks[after]) < DUPLICATE_DISTANCE
        )
        needed = group[:-1] if same_shot else group
        for spike in needed:
            limit = times[after] if after < len(times) else scan.end
            targets.append(min(spike + SETTLE_S, (spike + limit) / 2))
    targets = targets[:MAX_EXACT]
    # Long stretches with no decoded picture at all: a few evenly spread decodes.
    known = sorted([*times, *targets])
    edges = [0.0, *known, scan.end]
    gap_min = max(MIN_GAP_S, scan.end / (2 * max(1, max_frames)))
    gaps = sorted(
        ((b - a, a, b) for a, b in itertools.pairwise(edges) if b - a > gap_min),
        reverse=True,
    )
    fill: list[float] = []
    for length, start, end in gaps:
        count = min(MAX_GAP_FILL - len(fill), int(length // gap_min))
        fill += [start + (end - start) * (i + 1) / (count + 1) for i in range(count)]
        if len(fill) >= MAX_GAP_FILL:
            break
    return sorted([*targets, *fill][:MAX_EXACT])


def _decode_exact(
    container: InputContainer,
    stream: VideoStream,
    clock: _Clock,
    pool: _Pool,
    targets: list[float],
    keyframes: list[float],
) -> None:
    """Decode the picture at (or just after) each target, in forward runs."""
    context = stream.codec_context
    context.skip_frame = "NONREF"  # B-frames nobody refers to are never needed
    pending = collections.deque(targets)
    errors = 0
    while pending:
        target = pending[0]
        container.seek(clock.pts(target), stream=stream, backward=True)
        stop = _run_end(pending, keyframes)
        found = False
        for packet in container.demux(stream):
            try:
                pictures = context.decode(packet)
            except DECODE_ERRORS:
                errors += 1
                if errors > MAX_DECODE_ERRORS:
                    return
                continue
            for picture in pictures:
                if picture.pts is None:
                    continue
                at = clock.seconds(picture.pts)
                if at + 1e-3 < pending[0]:
                    continue
                pool.offer(picture, at)
                found = True
                while pending and pending[0] <= at + 1e-3:
                    pending.popleft()
                if not pending or pending[0] > stop:
                    break
            if not pending or pending[0] > stop or packet.size == 0:
                break
        if not found or (pending and pending[0] == target):
            pending.popleft()  # nothing decodable there (past a truncation): move on


def _run_end(pending: collections.deque[float], keyframes: list[float]) -> float:
    """The last pending target reached more cheaply by decoding on than by seeking."""
    reach = pending[0]
    for target in pending:
        # A keyframe between here and the target makes a seek cheaper, unless close.
        next_key = bisect.bisect_right(keyframes, reach)
        if (
            next_key < len(keyframes)
            and keyframes[next_key] <= target
            and target - reach > REWIND_S
        ):
            break
        reach = target
    return reach


# --- JPEG ---------------------------------------------------------------------------


def _to_jpeg(
    picture: VideoFrame,
    timestamp: float,
    scaler: VideoReformatter,
    *,
    max_edge: int,
    quality: int,
) -> Frame:
    # Scale first (cheaper), then turn the picture upright as a player would.
    width, height = _fit(picture.width, picture.height, max_edge)
    image = scaler.reformat(picture, width=width, height=height, format="yuvj420p")
    rotation = picture.rotation % 360
    if rotation in _TURNS:
        image = _rotate(image, rotation)
    codec = av.CodecContext.create("mjpeg", "w")
    # One thread: a slice-threaded encoder starts threads per picture and makes
    # larger files (one slice per thread) for pictures this small.
    codec.thread_count = 1
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
