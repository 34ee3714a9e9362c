from pathlib import Path

import pytest

from resimply.errors import InvalidMedia, VideoTooLarge
from resimply.media.frames import pick_frames
from resimply.media.probe import probe
from resimply.providers.base import MediaInfo
from tests.mediagen import corrupt_pictures, make_8k, make_audio_only, make_video

SAMPLE = Path(__file__).resolve().parent.parent / "resimply" / "samples" / "carbonara.mp4"
MIB = 1024 * 1024


def check(
    path: Path,
    *,
    max_bytes: int = 200 * MIB,
    max_duration_s: float = 900.0,
    max_pixels: int = 4096 * 2304,
) -> MediaInfo:
    """`probe` with roomy default limits."""
    return probe(path, max_bytes=max_bytes, max_duration_s=max_duration_s, max_pixels=max_pixels)


def test_the_sample_is_a_short_portrait_video_without_sound() -> None:
    info = check(SAMPLE)
    assert info == MediaInfo(
        duration_s=15.0, width=360, height=640, has_audio=False, size_bytes=SAMPLE.stat().st_size
    )
    assert info.size_bytes < 300 * 1024


def test_a_video_with_a_sound_track_has_audio(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", width=160, height=120, seconds=2, audio=True)
    info = check(path)
    assert (info.width, info.height, info.has_audio) == (160, 120, True)
    assert info.duration_s == pytest.approx(2.0, abs=0.1)


def test_an_empty_file_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(InvalidMedia, match="empty") as caught:
        check(path)
    assert caught.value.code == "invalid_media"
    assert caught.value.retryable is False


def test_a_missing_file_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidMedia, match="missing"):
        check(tmp_path / "nope.mp4")


def test_a_text_file_named_mp4_is_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "recipe.mp4"
    path.write_text("Carbonara: spaghetti, eggs, pecorino, guanciale.\n" * 50)
    with pytest.raises(InvalidMedia) as caught:
        check(path)
    assert caught.value.message == "The file is not a video we can read."


def test_a_truncated_file_is_invalid(tmp_path: Path) -> None:
    # Without faststart the index (moov) is at the end, so half a file has none.
    full = make_video(tmp_path / "full.mp4", seconds=2)
    half = tmp_path / "half.mp4"
    half.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(InvalidMedia, match="not a video we can read"):
        check(half)


def test_an_audio_file_has_no_video_track(tmp_path: Path) -> None:
    path = make_audio_only(tmp_path / "song.mp4")
    with pytest.raises(InvalidMedia, match="no video track"):
        check(path)


def test_a_playlist_is_refused_rather_than_followed(tmp_path: Path) -> None:
    # An HLS playlist would make FFmpeg open other files or URLs; only real
    # containers are allowed.
    make_video(tmp_path / "segment.mp4", seconds=1)
    playlist = tmp_path / "video.mp4"
    playlist.write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nsegment.mp4\n#EXT-X-ENDLIST\n"
    )
    with pytest.raises(InvalidMedia, match="not a video we can read"):
        check(playlist)


def test_a_long_video_is_too_large(tmp_path: Path) -> None:
    path = make_video(tmp_path / "long.mp4", width=64, height=64, seconds=130, fps=2)
    with pytest.raises(VideoTooLarge) as caught:
        check(path, max_duration_s=60)
    assert caught.value.message == "The video is 2.2 minutes long; the limit is 1 minute."
    assert caught.value.code == "video_too_large"


def test_a_short_limit_is_written_in_seconds() -> None:
    with pytest.raises(VideoTooLarge) as caught:
        check(SAMPLE, max_duration_s=10)
    assert caught.value.message == "The video is 15.0 seconds long; the limit is 10 seconds."


def test_a_file_over_the_byte_limit_is_too_large() -> None:
    size = SAMPLE.stat().st_size
    with pytest.raises(VideoTooLarge) as caught:
        check(SAMPLE, max_bytes=size - 1)
    assert (
        caught.value.message
        == f"The video is {size / 1024:.0f} KB; the limit is {(size - 1) / 1024:.0f} KB."
    )


def test_the_size_is_checked_before_the_file_is_opened(tmp_path: Path) -> None:
    path = tmp_path / "huge.mp4"
    with path.open("wb") as f:
        f.truncate(3 * MIB + MIB // 2)  # sparse: no disk used, not a video either
    with pytest.raises(VideoTooLarge) as caught:
        check(path, max_bytes=2 * MIB)
    assert caught.value.message == "The video is 3.5 MB; the limit is 2 MB."


def test_too_many_pixels_is_too_large(tmp_path: Path) -> None:
    path = make_video(tmp_path / "big.mp4", width=640, height=480, seconds=1)
    with pytest.raises(VideoTooLarge) as caught:
        check(path, max_pixels=100_000)
    assert (
        caught.value.message
        == "The video is 640×480 (307,200 pixels); the limit is 100,000 pixels."
    )


def test_limits_are_checked_from_the_headers_without_decoding(tmp_path: Path) -> None:
    # The picture data is zeroed: decoding it is impossible, yet the probe answers.
    path = make_video(tmp_path / "v.mp4", width=640, height=480, seconds=2)
    corrupt_pictures(path)
    assert check(path).duration_s == pytest.approx(2.0, abs=0.1)
    with pytest.raises(VideoTooLarge, match="640×480"):
        check(path, max_pixels=100_000)
    with pytest.raises(InvalidMedia):
        pick_frames(path, max_frames=3, max_edge=320, jpeg_quality=80)


@pytest.fixture(scope="module")
def eight_k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_8k(tmp_path_factory.mktemp("8k") / "8k.mp4")


def test_an_8k_header_is_refused_by_the_probe(eight_k: Path) -> None:
    assert eight_k.stat().st_size < 1024 * 1024
    with pytest.raises(VideoTooLarge) as caught:
        check(eight_k)
    assert caught.value.message == (
        "The video is 7680×4320 (33.2 megapixels); the limit is 9.4 megapixels."
    )


def test_an_8k_header_is_refused_by_the_frame_picker_too(
    eight_k: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Called on its own, the picker checks the header before decoding anything.
    from resimply.media import frames

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded before checking the size")

    monkeypatch.setattr(frames, "_scan", no_decoding)
    with pytest.raises(VideoTooLarge, match="7680×4320"):
        pick_frames(eight_k, max_frames=3, max_edge=320, jpeg_quality=80)
