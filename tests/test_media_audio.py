"""Pulling the audio track out of a video for transcription (resimply.media.audio)."""

from __future__ import annotations

import fractions
from pathlib import Path

import av
import pytest

from resimply.errors import InvalidMedia
from resimply.media import audio as audio_module
from resimply.media.audio import audio_duration, extract_audio
from tests.mediagen import make_audio_only, make_video


def describe(path: Path) -> tuple[str, list[str], int, int, float]:
    """Container format, stream kinds, codec sample rate and channels, duration."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        kinds: list[str] = [str(s.type) for s in container.streams]
        return (
            container.format.name,
            kinds,
            stream.codec_context.sample_rate,
            stream.codec_context.channels,
            float(container.duration / av.time_base) if container.duration else 0.0,
        )


def packets(path: Path) -> list[bytes]:
    """The payloads of the first audio stream's packets."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [bytes(p) for p in container.demux(stream) if p.size]


def make_pcm_video(path: Path, *, seconds: float = 2.0) -> Path:
    """An MKV whose audio is 44.1 kHz stereo PCM: no container the endpoint takes can hold it."""
    rate = 44_100
    with av.open(str(path), "w") as out:
        sound = out.add_stream("pcm_s16le", rate=rate)
        sound.layout = "stereo"
        chunk = 1024
        for start in range(0, int(seconds * rate), chunk):
            frame = av.AudioFrame(format="s16", layout="stereo", samples=chunk)
            frame.planes[0].update(bytes(frame.planes[0].buffer_size))
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = fractions.Fraction(1, rate)
            out.mux(sound.encode(frame))
        out.mux(sound.encode(None))
    return path


def test_aac_is_copied_into_an_m4a(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4", seconds=3.0, audio=True)
    result = extract_audio(video, tmp_path / "out", max_seconds=60)
    assert result == tmp_path / "out" / "audio.m4a"
    fmt, kinds, _rate, _channels, duration = describe(result)
    assert "mp4" in fmt and kinds == ["audio"]
    assert packets(result) == packets(video)  # copied, not re-encoded
    assert 2.9 <= duration <= 3.1
    assert audio_duration(result) == pytest.approx(duration)


def test_the_duration_is_capped(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4", seconds=3.0, audio=True)
    result = extract_audio(video, tmp_path / "out", max_seconds=1.0)
    assert result is not None
    duration = audio_duration(result)
    assert duration is not None and 0.9 <= duration <= 1.1


def test_an_audio_only_file_works(tmp_path: Path) -> None:
    source = make_audio_only(tmp_path / "voice.m4a", seconds=2.0)
    result = extract_audio(source, tmp_path / "out", max_seconds=60)
    assert result is not None and result.suffix == ".m4a"
    assert describe(result)[1] == ["audio"]
    assert 1.9 <= (audio_duration(result) or 0) <= 2.1


def test_no_audio_stream_gives_none_and_no_file(tmp_path: Path) -> None:
    video = make_video(tmp_path / "silent.mp4", seconds=1.0, audio=False)
    assert extract_audio(video, tmp_path / "out", max_seconds=60) is None
    assert list((tmp_path / "out").iterdir()) == []


def test_other_codecs_are_encoded_as_mono_16k_aac(tmp_path: Path) -> None:
    video = make_pcm_video(tmp_path / "pcm.mkv", seconds=2.0)
    result = extract_audio(video, tmp_path / "out", max_seconds=1.5)
    assert result == tmp_path / "out" / "audio.m4a"
    _fmt, kinds, rate, channels, duration = describe(result)
    assert kinds == ["audio"]
    assert (rate, channels) == (16_000, 1)
    with av.open(str(result)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
    assert 1.4 <= duration <= 1.7


def test_a_copy_too_large_to_upload_is_re_encoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = make_video(tmp_path / "clip.mp4", seconds=2.0, audio=True)
    copied = extract_audio(video, tmp_path / "copy", max_seconds=60)
    assert copied is not None
    limit = copied.stat().st_size - 1
    monkeypatch.setattr(audio_module, "MAX_UPLOAD_BYTES", limit)
    result = extract_audio(video, tmp_path / "out", max_seconds=60)
    assert result == tmp_path / "out" / "audio.m4a"
    assert result.stat().st_size <= limit
    assert describe(result)[2:4] == (16_000, 1)


def test_an_unreadable_file_is_invalid_media(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(InvalidMedia):
        extract_audio(junk, tmp_path / "out", max_seconds=60)


def test_audio_duration_of_junk_is_none(tmp_path: Path) -> None:
    junk = tmp_path / "junk.m4a"
    junk.write_bytes(b"nope")
    assert audio_duration(junk) is None
