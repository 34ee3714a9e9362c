"""Subtitles as text: WebVTT / SRT parsing, and the text tracks inside a video file."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterable
from pathlib import Path

from av.container import InputContainer
from av.packet import Packet
from av.stream import Stream
from av.subtitles.subtitle import AssSubtitle

from ..providers.base import SubtitleTrack
from .container import DECODE_ERRORS, open_media

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_TAG = re.compile(r"<[^>]*>")  # <c.colour>, <i>, <v Speaker>, <00:00:01.000>, </c>
_ASS_OVERRIDE = re.compile(r"\{\\[^}]*\}")  # {\an8}, {\i1}: SRT files borrow these
_SPACES = re.compile(r"[ \t\u00a0]+")

# Text subtitle codecs PyAV decodes into ASS events; bitmap ones (DVD, PGS) are skipped.
TEXT_CODECS = frozenset({"mov_text", "subrip", "srt", "webvtt", "ass", "ssa", "text"})
MAX_CUES = 5000  # a hostile file cannot make us hold an unbounded track

# ISO 639-2 (as containers store it) to the two-letter codes used elsewhere.
_LANGUAGES = {
    "eng": "en", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de", "spa": "es",
    "ita": "it", "por": "pt", "nld": "nl", "dut": "nl", "jpn": "ja", "kor": "ko",
    "zho": "zh", "chi": "zh", "rus": "ru", "ara": "ar", "hin": "hi", "tur": "tr",
    "pol": "pl", "swe": "sv", "vie": "vi", "tha": "th", "ind": "id", "ukr": "uk",
}  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class Cue:
    start_s: float
    end_s: float
    text: str


def parse_vtt(text: str) -> list[Cue]:
    """The cues of a WebVTT (or SRT) document, with markup removed.

    Lenient by design: headers, NOTE / STYLE / REGION blocks, cue ids and cue
    settings are skipped, SRT's comma decimals accepted, and a missing blank
    line between cues tolerated. Cues whose text is empty after cleaning are dropped.
    """
    cues: list[Cue] = []
    timing: tuple[float, float] | None = None
    lines: list[str] = []
    previous_blank = True

    def finish() -> None:
        if timing is not None:
            body = "\n".join(line for line in (_clean(raw) for raw in lines) if line)
            if body:
                cues.append(Cue(timing[0], timing[1], body))

    for raw in text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        match = _TIMING.match(raw)
        if match:
            # The line right before a timing line is the cue's id, not text.
            if timing is not None and lines and not previous_blank:
                lines.pop()
            finish()
            timing, lines = (_seconds(*match.groups()[:4]), _seconds(*match.groups()[4:])), []
        elif not raw.strip():
            finish()
            timing, lines = None, []
        elif timing is not None:
            lines.append(raw)
        previous_blank = not raw.strip()
    finish()
    return cues


def cues_to_text(cues: Iterable[Cue]) -> str:
    """Plain text, one line per caption line, without the repeats ASR captions make.

    Rolling captions show each line twice (first at the bottom, then at the top
    of the next cue), so a line equal to the one just written is skipped.
    """
    return "\n".join(_dedupe(line for cue in cues for line in cue.text.split("\n")))


def subtitle_text(track_text: str) -> str:
    """Plain text from a subtitle track that is either WebVTT / SRT or already plain."""
    body = track_text.lstrip("\ufeff")
    if body.lstrip().startswith("WEBVTT") or any(_TIMING.match(line) for line in body.splitlines()):
        return cues_to_text(parse_vtt(body))
    return "\n".join(_dedupe(_clean(line) for line in body.splitlines()))


def read_embedded_subtitles(path: Path) -> list[SubtitleTrack]:
    """The text subtitle tracks inside the video, each rendered as WebVTT.

    Raises `InvalidMedia` if the file cannot be opened; a track that fails to
    decode part-way keeps the cues read so far.
    """
    with open_media(path) as container:
        return embedded_subtitles(container)


def embedded_subtitles(container: InputContainer) -> list[SubtitleTrack]:
    """The text subtitle tracks of an open video, read from its start (whatever
    was read from the container before)."""
    collector = EmbeddedSubtitles(container)
    if not collector.streams:
        return []
    try:
        container.seek(0)
        # Demuxing only these streams: no picture or sound is decoded.
        for packet in container.demux(*collector.streams):
            collector.take(packet)
    except DECODE_ERRORS:
        pass  # a damaged tail: keep what was read
    return collector.tracks()


class EmbeddedSubtitles:
    """The cues of a container's text subtitle tracks, from packets demuxed by
    whoever reads the file anyway: the frame scan reads every packet once, and a
    second pass just for the subtitles cost ≈ 0.3 ms per short video (2-3 % of
    the media step)."""

    def __init__(self, container: InputContainer) -> None:
        self.streams = [
            s for s in container.streams.subtitles if s.codec_context.name in TEXT_CODECS
        ]
        self.read = False  # set by the reader once it has passed the packets on
        self._by_index = {s.index: s for s in self.streams}
        self._cues: dict[int, list[Cue]] = {s.index: [] for s in self.streams}
        self._broken = False

    def take(self, packet: Packet[Stream]) -> None:
        """One packet of one of `streams`; a track that fails to decode part-way
        keeps the cues read so far (and never stops the caller's reading)."""
        stream, track = self._by_index[packet.stream.index], self._cues[packet.stream.index]
        if self._broken or packet.size == 0 or packet.pts is None or len(track) >= MAX_CUES:
            return
        time_base = packet.time_base or stream.time_base
        if time_base is None:
            return
        start = float(packet.pts * time_base)
        end = float((packet.pts + (packet.duration or 0)) * time_base)
        try:
            rects = stream.decode(packet)
        except DECODE_ERRORS:
            self._broken = True
            return
        for rect in rects:
            if not isinstance(rect, AssSubtitle):
                continue
            line = _clean_ass(rect.dialogue.decode("utf-8", "replace"))
            if line:
                track.append(Cue(start, max(end, start), line))

    def tracks(self) -> list[SubtitleTrack]:
        return [
            SubtitleTrack(
                language=_language(s.metadata.get("language")),
                text=to_vtt(self._cues[s.index]),
                origin="embedded",
            )
            for s in self.streams
            if self._cues[s.index]
        ]


def to_vtt(cues: Iterable[Cue]) -> str:
    """Render cues as a WebVTT document."""
    blocks = [
        f"{_stamp(c.start_s)} --> {_stamp(c.end_s)}\n{html.escape(c.text, quote=False)}"
        for c in cues
    ]
    return "WEBVTT\n\n" + "\n\n".join(blocks) + "\n"


def _seconds(hours: str | None, minutes: str, seconds: str, fraction: str | None) -> float:
    millis = int((fraction or "0").ljust(3, "0"))
    # Whole milliseconds first: 1 + 680 / 1000 is 1.6800000000000002, 1680 / 1000 is 1.68.
    return ((int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)) * 1000 + millis) / 1000


def _stamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d}.{millis % 1000:03d}"


def _clean(line: str) -> str:
    line = html.unescape(_ASS_OVERRIDE.sub("", _TAG.sub("", line)))
    return _SPACES.sub(" ", line).strip()


def _clean_ass(dialogue: str) -> str:
    # ASS marks line breaks as \N (hard) or \n (soft); the cue keeps them as lines.
    lines = dialogue.replace("\\N", "\n").replace("\\n", "\n").split("\n")
    return "\n".join(
        line
        for line in (_SPACES.sub(" ", _ASS_OVERRIDE.sub("", raw)).strip() for raw in lines)
        if line
    )


def _dedupe(lines: Iterable[str]) -> list[str]:
    kept: list[str] = []
    for line in lines:
        if line and (not kept or _key(line) != _key(kept[-1])):
            kept.append(line)
    return kept


def _key(line: str) -> str:
    return " ".join(line.casefold().split())


def _language(code: str | None) -> str | None:
    if not code or code.lower() in {"und", "unk", "mis", "zxx"}:
        return None
    return _LANGUAGES.get(code.lower(), code.lower())
