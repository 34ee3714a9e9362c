"""Property tests for subtitle files (media/subtitles.py): any text or bytes is read
without an exception (a file that is no video: `InvalidMedia`, the documented
error), and generated WebVTT / SRT documents give back their cues' text and times."""

from __future__ import annotations

import tempfile
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import given, settings

from resimply.errors import InvalidMedia
from resimply.media.subtitles import (
    Cue,
    cues_to_text,
    parse_vtt,
    read_embedded_subtitles,
    subtitle_text,
    to_vtt,
)

bounded = settings(max_examples=300, derandomize=True, deadline=None, database=None)
# Generating whole documents is slower than reading them: fewer, larger examples.
documents = settings(bounded, max_examples=80)

_stamp = st.builds(
    "{}{:02d}:{:02d}{}".format,
    st.sampled_from(["", "00:", "1:", "99:", "123456789012:"]),
    st.integers(0, 99),
    st.integers(0, 99),
    st.sampled_from(["", ".5", ",250", ".1234", "."]),
)
_subtitle_lines = st.one_of(
    st.text(max_size=40),
    st.builds("{} --> {}".format, _stamp, _stamp),
    st.sampled_from(["WEBVTT", "\ufeffWEBVTT", "", "NOTE x", "1", "<i>a</i>", "{\\an8}b", "&amp;"]),
)
subtitle_documents = st.lists(_subtitle_lines, max_size=20).map(
    lambda lines: "\n".join(lines)
) | st.text(max_size=200)


@bounded
@given(subtitle_documents, st.sampled_from(["\n", "\r\n", "\r"]))
def test_any_text_reads_without_an_exception(document: str, newline: str) -> None:
    document = document.replace("\n", newline)
    cues = parse_vtt(document)
    assert all(cue.text and cue.start_s >= 0 and cue.end_s >= 0 for cue in cues)
    assert isinstance(cues_to_text(cues), str)
    assert isinstance(subtitle_text(document), str)


@bounded
@given(st.binary(max_size=300))
def test_any_bytes_decoded_as_a_platform_would_read_without_an_exception(raw: bytes) -> None:
    assert isinstance(subtitle_text(raw.decode("utf-8", "replace")), str)


@settings(max_examples=40, derandomize=True, deadline=None, database=None)
@given(st.binary(max_size=2000) | st.binary(max_size=64).map(lambda b: b"\x1a\x45\xdf\xa3" + b))
def test_a_file_that_is_no_video_is_invalid_media(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "video.mkv"
        path.write_bytes(raw)
        try:
            tracks = read_embedded_subtitles(path)
        except InvalidMedia:
            return
        assert isinstance(tracks, list)


# Cue text as people write it: words and punctuation, no markup characters (those
# are cleaned away by design), no line that could read as a timing line.
_word = st.text(
    st.characters(
        categories=["L", "N"], include_characters=".,!?'\"()-:;äöüß€", max_codepoint=0x2FFF
    ),
    min_size=1,
    max_size=12,
)
_line = st.lists(_word, min_size=1, max_size=6).map(" ".join)
cue_texts = st.lists(_line, min_size=1, max_size=3).map("\n".join)


@st.composite
def cue_lists(draw: st.DrawFn) -> list[Cue]:
    cues, start_ms = [], 0
    for text in draw(st.lists(cue_texts, min_size=1, max_size=8)):
        start_ms += draw(st.integers(0, 3_600_000))
        end_ms = start_ms + draw(st.integers(0, 10_000))
        cues.append(Cue(start_ms / 1000, end_ms / 1000, text))
    return cues


def _srt(cues: list[Cue]) -> str:
    def stamp(seconds: float) -> str:
        ms = round(seconds * 1000)
        return (
            f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"
        )

    return "\r\n\r\n".join(
        f"{n}\r\n{stamp(c.start_s)} --> {stamp(c.end_s)}\r\n{c.text.replace(chr(10), chr(13) + chr(10))}"
        for n, c in enumerate(cues, 1)
    )


@documents
@given(cue_lists())
def test_webvtt_round_trips_its_cues(cues: list[Cue]) -> None:
    assert parse_vtt(to_vtt(cues)) == cues


@documents
@given(cue_lists())
def test_srt_round_trips_its_cues(cues: list[Cue]) -> None:
    assert parse_vtt(_srt(cues)) == cues
