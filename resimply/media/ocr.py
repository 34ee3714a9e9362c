"""On-screen text: the ingredient lists and title cards burned into the picture, read locally.

`rapidocr` (PP-OCR detection + recognition models, run by onnxruntime on the
CPU) reads every change of picture or text the frame scan decoded
(`frames.read_frames`), not only the few frames sent to a model as images. It is an optional extra
(`pip install 'resimply[ocr]'`); without it, the recipe says so in its
evidence (`screen_unread`) and one log line tells the operator how to enable it.

- **No download at run time.** The wheel ships its models in `rapidocr/models`;
  the engine is pointed at those files explicitly, so it never looks elsewhere.
- **Once per process.** Loading the engine (≈ 1 s) happens on a process's first
  video; a lock makes the engine one reader at a time (onnxruntime runs one
  thread per call: the media processes already use every core).
- **Bounded.** Shots are read coarse to fine (every 8th, every 4th, …) until
  the video's time budget is spent (the first shot is always read): what was
  read spans the whole video. The rest are skipped (counted in
  `ScreenRead.skipped`), and then the images sent to a model carry them.
- **Deduplicated.** An overlay stays on screen across several shots: text is
  found first (detection, about half the work), and read only when its boxes
  differ from the shot before. A list revealed line by line repeats its first
  lines: a line read before (same letters and digits, or nearly: OCR varies a
  little from frame to frame) is not repeated.
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import importlib.util
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from ..providers.base import Frame

log = structlog.get_logger(__name__)

INSTALL_HINT = "pip install 'resimply[ocr]'"
UNAVAILABLE = (
    "On-screen text was not read: the OCR extra is not installed "
    f"({INSTALL_HINT}, or `make run` / the Docker image, which include it)."
)

# Recognised text below this confidence is mostly texture read as letters.
MIN_SCORE = 0.6
# Lines whose vertical centres are this close (in line heights) are one row of text.
SAME_ROW = 0.5
# Two lines this similar (difflib ratio over letters and digits) are one line read twice.
SAME_LINE = 0.85
MIN_CHARS = 2  # one letter alone is noise
# Boxes whose edges are this close (a share of the picture's longest edge) are the
# same box: the overlay has not moved.
SAME_BOX = 0.02
# Detection works on the picture scaled to this longest edge (recognition reads
# the boxes at full size): overlay text is large, and detection costs ~3x less
# at 512 than at 768 px with the same lines found (bench.ocr).
DETECT_EDGE = 512

_MODELS = {
    "Det.model_path": "PP-OCRv6_det_small.onnx",
    "Rec.model_path": "PP-OCRv6_rec_small.onnx",
    "Cls.model_path": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScreenText:
    """The new lines read in one shot, top to bottom."""

    timestamp: float
    lines: tuple[str, ...]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScreenRead:
    """What reading a video's on-screen text gave.

    `status`: "read" (every shot read), "partial" (the time budget ran out),
    "off" (turned off by the operator), "unavailable" (the extra is missing),
    "failed" (the engine failed to load; logged).
    """

    status: str = "off"
    texts: tuple[ScreenText, ...] = ()
    shots: int = 0  # distinct shots offered
    read: int = 0  # of which read
    seconds: float = 0.0

    @property
    def skipped(self) -> int:
        return self.shots - self.read

    @property
    def complete(self) -> bool:
        """Every shot was read: images add no text the model does not have."""
        return self.status == "read"

    def text(self) -> str | None:
        """The lines read, one shot per paragraph, in time order (what extractors get)."""
        blocks = ["\n".join(t.lines) for t in self.texts if t.lines]
        return "\n\n".join(blocks) or None


def available() -> bool:
    """The OCR extra is installed (checked without importing it: importing costs ~1 s)."""
    return all(importlib.util.find_spec(name) is not None for name in ("rapidocr", "onnxruntime"))


_lock = threading.Lock()
_engine: Any = None
_failed = False
loads = 0  # engines this process loaded (once, unless loading failed)
_said_unavailable = False


def say_unavailable_once() -> None:
    """The one log line an operator needs when the extra is missing."""
    global _said_unavailable
    if not _said_unavailable:
        _said_unavailable = True
        log.warning("ocr_unavailable", hint=INSTALL_HINT, effect=UNAVAILABLE)


def model_paths() -> dict[str, str]:
    """The packaged model files (raises `FileNotFoundError` when one is missing)."""
    import rapidocr

    folder = Path(rapidocr.__file__).parent / "models"
    paths = {key: folder / name for key, name in _MODELS.items()}
    for path in paths.values():
        if not path.is_file():
            raise FileNotFoundError(f"rapidocr's packaged model {path} is missing")
    return {key: str(path) for key, path in paths.items()}


def _load() -> Any:
    global loads
    from rapidocr import RapidOCR

    loads += 1
    return RapidOCR(
        params={
            **model_paths(),
            # Text in videos is upright; the orientation classifier costs time for nothing.
            "Global.use_cls": False,
            # Its warnings are per frame ("The text detection result is empty").
            "Global.log_level": "error",
            # One thread per call: the pool already runs one process per core.
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            # The default scales the short side *up* to 736 px: ~5x the work.
            "Det.limit_type": "max",
            "Det.limit_side_len": DETECT_EDGE,
        }
    )


def engine() -> Any:
    """This process's engine, loaded on first use; None when it cannot be."""
    global _engine, _failed
    if _engine is None and not _failed:
        try:
            _engine = _load()
        except Exception as exc:
            _failed = True
            log.error("ocr_engine_failed", error=f"{type(exc).__name__}: {exc}"[:300])
    return _engine


Box = tuple[float, float, float, float]  # left, top, right, bottom, in pixels


def _decode(jpeg: bytes) -> Any:
    import cv2
    import numpy as np

    return cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)


def detect(engine_: Any, image: Any) -> list[Box]:
    """Where text is in a picture (detection only: about half of a full read)."""
    # Every call names all three stages: the engine keeps what the last call set.
    result = engine_(image, use_det=True, use_cls=False, use_rec=False)
    boxes = getattr(result, "boxes", None)
    if boxes is None:
        return []
    found = []
    for box in boxes:
        xs = [float(p[0]) for p in box]
        ys = [float(p[1]) for p in box]
        found.append((min(xs), min(ys), max(xs), max(ys)))
    return found


def read_boxes(engine_: Any, image: Any, boxes: list[Box]) -> list[str]:
    """The text in `boxes` of `image` (recognition only), as rows top to bottom."""
    height, width = image.shape[:2]
    found: list[tuple[float, float, float, str]] = []  # centre y, left x, height, text
    for left, top, right, bottom in boxes:
        pad = (bottom - top) * 0.1
        crop = image[
            max(0, int(top - pad)) : min(height, int(bottom + pad) + 1),
            max(0, int(left - pad)) : min(width, int(right + pad) + 1),
        ]
        if crop.size == 0:
            continue
        result = engine_(crop, use_det=False, use_cls=False, use_rec=True)
        texts, scores = getattr(result, "txts", None), getattr(result, "scores", None)
        if not texts or not scores:
            continue
        text = str(texts[0]).strip()
        if float(scores[0]) < MIN_SCORE or len(text) < MIN_CHARS:
            continue
        found.append(((top + bottom) / 2, left, bottom - top, text))
    return _rows(found)


def recognise(engine_: Any, jpeg: bytes) -> list[str]:
    """The lines of text in one JPEG, top to bottom, words of a row joined."""
    image = _decode(jpeg)
    if image is None:
        return []
    return read_boxes(engine_, image, detect(engine_, image))


def same_layout(a: list[Box], b: list[Box], size: float) -> bool:
    """The same boxes of text, give or take a few pixels: the same overlay still on
    screen (an overlay stays put while the picture under it moves)."""
    if len(a) != len(b) or not a:
        return False
    slack = SAME_BOX * size
    return all(
        any(all(abs(p - q) <= slack for p, q in zip(x, y, strict=True)) for y in b) for x in a
    )


# OCR's common slips on ingredient lines, undone: "l" read as "I" ("1I Milch",
# "MehI", "ÖI"), and the space it drops after an amount ("2Eier", "1 TLKümmel").
_UNITS = r"(?:EL|TL|El|Tl|ml|cl|dl|kg|g|l|tbsp|tsp|cups?|oz|lbs?)"
_FIXES = (
    (re.compile(r"(?<=\d)\s?I(?=\s+[^\W\d_]|[A-ZÄÖÜ])"), " l "),
    (re.compile(r"(?<=[a-zäöüß])I"), "l"),
    (re.compile(r"\b([ÄÖÜäöü])I\b"), r"\1l"),
    (re.compile(rf"(\d\s?{_UNITS})(?=[A-ZÄÖÜ][a-zäöüß])"), r"\1 "),
    (re.compile(r"(\d)(?=[A-ZÄÖÜ][a-zäöüß]{2,}|[a-zäöüß]{4,})"), r"\1 "),
)


# A platform's watermark and the author's handle are on screen in most
# downloaded videos; they are not the recipe (nor its title).
_WATERMARK = re.compile(
    r"^@\S|\b(?:tiktok|instagram|youtube|reels?)\b|www\.|https?://", re.IGNORECASE
)


def is_watermark(line: str) -> bool:
    return _WATERMARK.search(line) is not None


def tidy(line: str) -> str:
    """One line read on screen, with OCR's usual slips on amounts undone."""
    for pattern, replacement in _FIXES:
        line = pattern.sub(replacement, line)
    return " ".join(line.split())


def _rows(found: list[tuple[float, float, float, str]]) -> list[str]:
    """Boxes into rows: a row's boxes share a centre line (two words far apart
    in one line are often two boxes)."""
    found.sort()
    rows: list[list[tuple[float, float, float, str]]] = []
    for item in found:
        if rows:
            last = rows[-1]
            centre = sum(i[0] for i in last) / len(last)
            height = max(i[2] for i in last)
            if abs(item[0] - centre) <= SAME_ROW * max(height, item[2]):
                last.append(item)
                continue
        rows.append([item])
    lines = [tidy(" ".join(i[3] for i in sorted(row, key=lambda i: i[1]))) for row in rows]
    return [line for line in lines if not is_watermark(line)]


def _key(line: str) -> str:
    return re.sub(r"[\W_]+", "", line.casefold())


class _Seen:
    """Lines already read in this video, compared by letters and digits."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def new(self, line: str) -> bool:
        key = _key(line)
        if len(key) < MIN_CHARS:
            return False
        for seen in self.keys:
            if key == seen:
                return False
            # Near-equal: OCR reads "2 Eier" once and "2Eier" or "2 Eler" the next time.
            if (
                min(len(key), len(seen)) >= 5
                and difflib.SequenceMatcher(None, key, seen).ratio() >= SAME_LINE
            ):
                return False
        self.keys.append(key)
        return True


def _still_shown(
    reader: Any, image: Any, boxes: list[Box], previous: list[Box], shown: list[str], frame: Frame
) -> bool:
    """The overlay of the shot before, still on screen: the same boxes, and its
    first and last lines read the same (two lines cost a fraction of all)."""
    if not shown or not same_layout(boxes, previous, max(frame.width, frame.height)):
        return False
    ends = sorted(boxes, key=lambda b: (b[1], b[0]))
    probe = read_boxes(reader, image, [ends[0], ends[-1]] if len(ends) > 1 else ends)
    seen = _Seen()
    seen.keys = [_key(line) for line in shown]
    return bool(probe) and not any(seen.new(line) for line in probe)


def coarse_to_fine(count: int) -> list[int]:
    """0..count-1, every 8th first, then every 4th, every 2nd, the rest: when the
    budget runs out, what was read still spans the whole video."""
    order: list[int] = []
    taken = set()
    stride = 8
    while stride >= 1:
        for index in range(0, count, stride):
            if index not in taken:
                taken.add(index)
                order.append(index)
        stride //= 2
    return order


def read_screen(shots: Sequence[Frame], *, budget_s: float) -> ScreenRead:
    """The text of `shots` (distinct shots, in time order), until `budget_s` is
    spent; each line once.

    Shots are read coarse to fine (`coarse_to_fine`). Text is found first
    (detection), then read (recognition) only where it differs from the
    nearest earlier shot read: an overlay shown over several shots is read
    once (`_still_shown`).
    """
    if budget_s <= 0:
        return ScreenRead(status="off", shots=len(shots))
    if not available():
        say_unavailable_once()
        return ScreenRead(status="unavailable", shots=len(shots))
    if not shots:
        return ScreenRead(status="read")
    read: dict[int, list[str]] = {}
    with _lock:
        reader = engine()
        if reader is None:
            return ScreenRead(status="failed", shots=len(shots))
        # The budget counts reading, not the engine's one-time load; the first
        # shot is always read, the budget decides about each next one.
        started = time.monotonic()
        # Each shot's boxes and lines (a shot still showing the one before's
        # overlay holds that one's lines), to compare the next shots with.
        found: dict[int, tuple[list[Box], list[str]]] = {}
        done: list[int] = []  # the indices read, sorted
        for index in coarse_to_fine(len(shots)):
            if read and time.monotonic() - started >= budget_s:
                break
            frame = shots[index]
            image = _decode(frame.jpeg)
            boxes = detect(reader, image) if image is not None else []
            at = bisect.bisect_left(done, index)
            previous, shown = found[done[at - 1]] if at else ([], [])
            if boxes and _still_shown(reader, image, boxes, previous, shown, frame):
                read[index] = []  # what the shot before showed, read already
                found[index] = (boxes, shown)
            else:
                read[index] = read_boxes(reader, image, boxes) if boxes else []
                found[index] = (boxes, read[index])
            done.insert(at, index)
    seen = _Seen()
    texts = []
    for index, lines in sorted(read.items()):
        new = tuple(line for line in lines if seen.new(line))
        if new:
            texts.append(ScreenText(timestamp=shots[index].timestamp, lines=new))
    seconds = time.monotonic() - started
    status = "read" if len(read) == len(shots) else "partial"
    if status == "partial":
        log.info("ocr_budget_spent", shots=len(shots), read=len(read), budget_s=budget_s)
    log.info(
        "screen_read",
        shots=len(shots),
        read=len(read),
        lines=sum(len(t.lines) for t in texts),
        seconds=round(seconds, 2),
    )
    return ScreenRead(
        status=status,
        texts=tuple(texts),
        shots=len(shots),
        read=len(read),
        seconds=round(seconds, 3),
    )
