from pathlib import Path

from resimply.media.container import open_media
from resimply.media.frames import frames_of
from resimply.media.subtitles import (
    Cue,
    EmbeddedSubtitles,
    cues_to_text,
    embedded_subtitles,
    parse_vtt,
    read_embedded_subtitles,
    subtitle_text,
    to_vtt,
)
from resimply.providers.base import SubtitleTrack
from tests.mediagen import make_video

SAMPLE = Path(__file__).resolve().parent.parent / "resimply" / "samples" / "carbonara.mp4"

FULL_VTT = """\ufeffWEBVTT - Carbonara
Kind: captions
Language: en

NOTE This note spans
two lines and --> would be ignored

STYLE
::cue { color: yellow }

REGION
id:bottom

intro
00:00:00.000 --> 00:00:02.500 align:start position:0% line:90%
<c.colorE5E5E5>Boil <i>200 g</i></c> spaghetti

00:00:02.500 --> 00:00:05.000
<v Chef>Fry the guanciale</v> <00:00:03.100><c>until crisp</c>
Salt &amp; pepper&nbsp;&lt;3

3
01:00:05.000 --> 01:00:06.250
Whisk the eggs
"""


def test_a_full_webvtt_document_keeps_only_the_spoken_text() -> None:
    assert parse_vtt(FULL_VTT) == [
        Cue(0.0, 2.5, "Boil 200 g spaghetti"),
        Cue(2.5, 5.0, "Fry the guanciale until crisp\nSalt & pepper <3"),
        Cue(3605.0, 3606.25, "Whisk the eggs"),
    ]


def test_srt_with_commas_and_windows_line_ends() -> None:
    srt = "1\r\n00:00:01,000 --> 00:00:02,500\r\nBoil water\r\n\r\n2\r\n00:00:03,5 --> 00:00:04,000\r\n{\\an8}Add salt\r\n"
    assert parse_vtt(srt) == [Cue(1.0, 2.5, "Boil water"), Cue(3.5, 4.0, "Add salt")]


def test_minutes_only_timestamps() -> None:
    assert parse_vtt("WEBVTT\n\n01:02.500 --> 01:04.000\nStir\n") == [Cue(62.5, 64.0, "Stir")]


def test_a_missing_blank_line_between_cues_drops_the_next_id() -> None:
    text = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nOne\nc2\n00:00:02.000 --> 00:00:03.000\nTwo\n"
    assert parse_vtt(text) == [Cue(1.0, 2.0, "One"), Cue(2.0, 3.0, "Two")]


def test_empty_cues_and_text_without_timings_are_dropped() -> None:
    text = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<i> </i>\n\nstray line\n"
    assert parse_vtt(text) == []
    assert parse_vtt("") == []


def test_repeated_asr_lines_are_written_once() -> None:
    cues = [
        Cue(0, 1, "add the pasta"),
        Cue(1, 2, "add the pasta\nto the  pan"),
        Cue(2, 3, "To the pan"),
        Cue(3, 4, "and stir"),
        Cue(4, 5, "add the pasta"),  # said again later: kept
    ]
    assert cues_to_text(cues) == "add the pasta\nto the  pan\nand stir\nadd the pasta"


def test_subtitle_text_accepts_webvtt_srt_or_plain_text() -> None:
    assert subtitle_text(FULL_VTT) == (
        "Boil 200 g spaghetti\nFry the guanciale until crisp\nSalt & pepper <3\nWhisk the eggs"
    )
    assert subtitle_text("1\n00:00:01,000 --> 00:00:02,000\nHi\n") == "Hi"
    assert (
        subtitle_text("\ufeffBoil water\nBoil water\n\n  Add   salt \n") == "Boil water\nAdd salt"
    )


def test_to_vtt_round_trips_through_the_parser() -> None:
    cues = [Cue(0.0, 1.5, "Salt & <pepper>"), Cue(3661.25, 3662.0, "two\nlines")]
    vtt = to_vtt(cues)
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nSalt &amp; &lt;pepper&gt;\n")
    assert "01:01:01.250 --> 01:01:02.000" in vtt
    assert parse_vtt(vtt) == cues


def test_the_sample_speaks_the_carbonara_steps() -> None:
    [track] = read_embedded_subtitles(SAMPLE)
    assert (track.language, track.origin) == ("en", "embedded")
    assert track.text.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nBoil 200 g spaghetti")
    lines = subtitle_text(track.text).split("\n")
    assert len(lines) == 8
    assert lines[0] == "Boil 200 g spaghetti in salted water for 10 minutes."
    assert lines[2] == "Whisk 2 eggs and 1 egg yolk with 50 g grated pecorino romano."
    assert lines[-1] == "Serve at once with more pecorino and pepper."


def test_subrip_and_webvtt_tracks_in_mkv_keep_timings_and_language(tmp_path: Path) -> None:
    cues = [(0.5, 1.5, "Taglia il guanciale"), (2.0, 2.75, "Servi subito")]
    for codec in ("subrip", "webvtt"):
        path = make_video(
            tmp_path / f"{codec}.mkv", subtitles=cues, subtitle_codec=codec, language="ita"
        )
        [track] = read_embedded_subtitles(path)
        assert track == SubtitleTrack(
            language="it",
            text=to_vtt([Cue(0.5, 1.5, "Taglia il guanciale"), Cue(2.0, 2.75, "Servi subito")]),
            origin="embedded",
        )


def test_an_undetermined_language_is_none(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", subtitles=[(0, 1, "Ciao")], language="und")
    [track] = read_embedded_subtitles(path)
    assert track.language is None
    assert subtitle_text(track.text) == "Ciao"


def test_a_video_without_subtitles_has_no_tracks(tmp_path: Path) -> None:
    assert read_embedded_subtitles(make_video(tmp_path / "v.mp4")) == []
    assert read_embedded_subtitles(make_video(tmp_path / "v.mkv", subtitles=[])) == []


def test_subtitles_read_along_with_the_frame_scan_equal_a_pass_of_their_own(
    tmp_path: Path,
) -> None:
    mkv = make_video(
        tmp_path / "v.mkv",
        subtitles=[(0.5, 1.5, "Taglia il guanciale"), (2.0, 2.75, "Servi subito")],
        subtitle_codec="subrip",
        language="ita",
    )
    for path in (SAMPLE, mkv):
        with open_media(path) as container:
            along = EmbeddedSubtitles(container)
            frames_of(container, max_frames=6, max_edge=320, jpeg_quality=80, subtitles=along)
            assert along.read
            assert along.tracks() == embedded_subtitles(container) == read_embedded_subtitles(path)
