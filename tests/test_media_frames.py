import io
from pathlib import Path

import av
import pytest

from resimply.errors import InvalidMedia
from resimply.media.frames import pick_frames
from resimply.providers.base import Frame
from tests.mediagen import SCENES, make_video

SAMPLE = Path(__file__).resolve().parent.parent / "resimply" / "samples" / "carbonara.mp4"
RED, BLUE, BLACK = (200, 40, 40), (40, 60, 200), (0, 0, 0)


def jpeg_size(jpeg: bytes) -> tuple[int, int]:
    """Decode the JPEG for real and return its size."""
    with av.open(io.BytesIO(jpeg), "r", format="mjpeg") as container:
        picture = next(container.decode(video=0))
        return picture.width, picture.height


def pick(path: Path, *, max_frames: int = 6, max_edge: int = 768, quality: int = 80) -> list[Frame]:
    return pick_frames(path, max_frames=max_frames, max_edge=max_edge, jpeg_quality=quality)


def test_the_sample_gives_one_frame_per_scene() -> None:
    frames = pick(SAMPLE)
    assert [f.timestamp for f in frames] == [0.0, 3.0, 6.0, 9.0, 12.0]
    for frame in frames:
        assert frame.jpeg.startswith(b"\xff\xd8") and frame.jpeg.endswith(b"\xff\xd9")
        assert (frame.width, frame.height) == (360, 640) == jpeg_size(frame.jpeg)
    assert len({f.jpeg for f in frames}) == 5


def test_frames_are_downscaled_to_the_longest_edge() -> None:
    frames = pick(SAMPLE, max_edge=100)
    assert len(frames) == 5
    assert {(f.width, f.height) for f in frames} == {(56, 100)}
    assert jpeg_size(frames[0].jpeg) == (56, 100)


def test_at_most_max_frames_evenly_spread_first_and_last_included() -> None:
    assert [f.timestamp for f in pick(SAMPLE, max_frames=3)] == [0.0, 6.0, 12.0]
    assert [f.timestamp for f in pick(SAMPLE, max_frames=2)] == [0.0, 12.0]
    assert [f.timestamp for f in pick(SAMPLE, max_frames=1)] == [6.0]  # the middle one
    assert pick(SAMPLE, max_frames=0) == []


def test_near_duplicate_scenes_collapse(tmp_path: Path) -> None:
    # The last scene differs from the third by a few levels of blue: the same shot.
    path = make_video(tmp_path / "v.mp4", seconds=4, fps=5, scenes=[RED, RED, BLUE, (44, 62, 204)])
    frames = pick(path)
    assert [f.timestamp for f in frames] == [0.0, 2.0]


def test_a_scene_that_comes_back_is_not_repeated(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", seconds=3, fps=5, scenes=[RED, BLUE, RED])
    assert [f.timestamp for f in pick(path)] == [0.0, 1.0]


def test_black_frames_are_skipped(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", seconds=2, fps=5, scenes=[BLACK, RED])
    frames = pick(path)
    assert [f.timestamp for f in frames] == [1.0]


def test_lower_quality_makes_smaller_jpegs() -> None:
    best = pick(SAMPLE, max_frames=1, quality=95)[0]
    worst = pick(SAMPLE, max_frames=1, quality=10)[0]
    assert len(worst.jpeg) < len(best.jpeg) * 0.6


def test_a_rotated_phone_video_is_turned_upright(tmp_path: Path) -> None:
    # Stored landscape with a display matrix saying "turn 90° clockwise".
    path = make_video(tmp_path / "v.mp4", width=320, height=240, seconds=1, rotation=-90)
    frame = pick(path)[0]
    assert (frame.width, frame.height) == (240, 320) == jpeg_size(frame.jpeg)


def test_a_file_without_readable_pictures_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(100))
    with pytest.raises(InvalidMedia):
        pick(path)


def test_a_truncated_download_keeps_the_frames_before_the_cut(tmp_path: Path) -> None:
    # With the index first (faststart), the headers survive and promise 6 s.
    full = make_video(tmp_path / "full.mp4", seconds=6, fps=10, scenes=SCENES, faststart=True)
    half = tmp_path / "half.mp4"
    half.write_bytes(full.read_bytes()[: full.stat().st_size * 6 // 10])
    everything = [f.timestamp for f in pick(full)]
    assert everything == [0.0, 1.2, 2.4, 3.6, 4.8]
    assert [f.timestamp for f in pick(half)] == everything[:2]


def test_timestamps_count_from_the_start_of_the_video(tmp_path: Path) -> None:
    # Broadcast (MPEG-TS) clocks rarely start at zero; timestamps still do.
    path = make_video(tmp_path / "v.ts", seconds=2, fps=5, scenes=[RED, BLUE], start_s=10)
    assert [f.timestamp for f in pick(path)] == [0.0, 1.0]
