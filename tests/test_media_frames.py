import io
from pathlib import Path
from typing import Any

import av
import pytest

from resimply.errors import InvalidMedia, VideoTooLarge
from resimply.media import frames as frames_module
from resimply.media.frames import pick_frames
from resimply.providers.base import Frame
from tests.mediagen import (
    SCENES,
    Shot,
    corrupt_pictures,
    make_audio_only,
    make_scene_video,
    make_video,
    shot_bounds,
)

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


# --- scene coverage, awkward encodings ------------------------------------------------

GREEN, YELLOW, PURPLE = (40, 160, 60), (230, 200, 40), (120, 40, 160)
NO_KEYFRAMES = "keyint=100000:min-keyint=100000:scenecut=0"


def keyframe_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [
            float(p.pts * p.time_base)
            for p in container.demux(stream)
            if p.pts is not None and p.is_keyframe
        ]


def covered(frames: list[Frame], spans: list[tuple[float, float]]) -> list[bool]:
    return [any(start <= f.timestamp < end for f in frames) for start, end in spans]


def texted(shots: list[Shot]) -> list[tuple[float, float]]:
    """When each text overlay is on screen."""
    return [
        (start + shot.text_at, end)
        for shot, (start, end) in zip(shots, shot_bounds(shots), strict=True)
        if shot.text_at is not None
    ]


SHOTS = [
    Shot(2.0, RED),
    Shot(4.0, GREEN, text_at=2.0),  # an ingredient card appears mid-shot
    Shot(1.5, BLUE),
    Shot(3.0, YELLOW, text_at=1.2, text_height=0.05),  # a one-line caption
    Shot(2.5, PURPLE),
]


@pytest.mark.parametrize(
    "params",
    [None, "scenecut=0", NO_KEYFRAMES],
    ids=["keyframes-at-cuts", "periodic-keyframes", "no-keyframe-after-the-first"],
)
def test_every_shot_and_every_text_overlay_is_chosen(tmp_path: Path, params: str | None) -> None:
    path = make_scene_video(tmp_path / "v.mp4", SHOTS, x264_params=params)
    if params == NO_KEYFRAMES:
        assert keyframe_times(path) == [0.0]
    frames = pick(path, max_frames=8)
    assert all(covered(frames, shot_bounds(SHOTS))), [f.timestamp for f in frames]
    # A shot whose only change is text appearing is shown with its text.
    assert all(covered(frames, texted(SHOTS))), [f.timestamp for f in frames]
    # ... and only with it: the same shot before the text adds nothing.
    assert len(frames) == len(SHOTS)
    assert [f.timestamp for f in frames] == sorted(f.timestamp for f in frames)


def test_keyframes_alone_suffice_when_the_encoder_cut_at_every_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # x264 puts a keyframe at each cut (and at the big text card): nothing else is decoded.
    shots = [Shot(2.0, RED), Shot(3.0, GREEN, text_at=1.5), Shot(2.0, BLUE)]
    path = make_scene_video(tmp_path / "v.mp4", shots)
    looked: list[int] = []
    real_look = frames_module.look

    def counting(picture: av.VideoFrame, *args: Any) -> frames_module.Look:
        looked.append(picture.pts or 0)
        return real_look(picture, *args)

    monkeypatch.setattr(frames_module, "look", counting)
    frames = pick(path)
    assert all(covered(frames, shot_bounds(shots)))
    assert len(looked) == len(keyframe_times(path)) == 4  # 3 cuts and the card


def test_a_variable_frame_rate_video_keeps_true_timestamps(tmp_path: Path) -> None:
    path = make_scene_video(tmp_path / "v.mp4", SHOTS, variable_rate=True)
    with av.open(str(path)) as container:
        gaps = {p.duration for p in container.demux(video=0) if p.duration}
    assert len(gaps) > 5  # truly variable
    frames = pick(path, max_frames=8)
    assert all(covered(frames, shot_bounds(SHOTS))), [f.timestamp for f in frames]
    assert all(covered(frames, texted(SHOTS))), [f.timestamp for f in frames]
    assert len(frames) == len(SHOTS)


def mean_rows(jpeg: bytes) -> list[float]:
    """Mean brightness of each row of a JPEG."""
    with av.open(io.BytesIO(jpeg), "r", format="mjpeg") as container:
        grey = next(container.decode(video=0)).reformat(format="gray")
    plane = grey.planes[0]
    data = bytes(plane)
    return [
        sum(data[y * plane.line_size : y * plane.line_size + grey.width]) / grey.width
        for y in range(grey.height)
    ]


@pytest.mark.parametrize("rotation", [-90, 90, 180])
def test_rotated_phone_videos_come_out_upright(tmp_path: Path, rotation: int) -> None:
    # Stored sideways or upside down, with a display matrix saying how to turn it.
    width, height = (568, 320) if rotation % 180 else (320, 568)
    shot = [Shot(1.0, BLUE, text_at=0.0, text_height=0.3)]
    path = make_scene_video(tmp_path / "v.mp4", shot, width=width, height=height, rotation=rotation)
    [frame] = pick(path)
    assert (frame.width, frame.height) == jpeg_size(frame.jpeg)
    assert frame.height > frame.width  # portrait, as shown
    if rotation == 180:
        rows = mean_rows(frame.jpeg)
        third = len(rows) // 3
        # The light text panel is drawn low in the stored picture: high once turned.
        assert sum(rows[:third]) > sum(rows[-third:])


def test_many_shots_and_a_small_budget_stay_bounded(tmp_path: Path) -> None:
    colours = [(40 + 9 * i, 200 - 7 * i, (90 * i) % 256) for i in range(24)]
    shots = [Shot(0.5, c) for c in colours]
    path = make_scene_video(tmp_path / "v.mp4", shots, width=160, height=284)
    frames = pick(path, max_frames=4)
    assert len(frames) == 4
    assert frames[0].timestamp == 0.0 and frames[-1].timestamp >= 11.0


def test_an_audio_only_file_has_no_frames(tmp_path: Path) -> None:
    with pytest.raises(InvalidMedia, match="no video track"):
        pick(make_audio_only(tmp_path / "song.m4a"))


def test_an_empty_file_has_no_frames(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(InvalidMedia, match="not a video we can read"):
        pick(path)


def test_a_truncated_long_gop_keeps_what_came_before(tmp_path: Path) -> None:
    full = make_scene_video(tmp_path / "full.mp4", SHOTS, x264_params=NO_KEYFRAMES)
    half = tmp_path / "half.mp4"
    # moov last: without faststart the index is gone, so the file is unreadable.
    half.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(InvalidMedia, match="not a video we can read"):
        pick(half)


def test_a_picture_over_the_pixel_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", width=640, height=480, seconds=1)
    corrupt_pictures(path)  # decoding would fail: the refusal must come first
    with pytest.raises(VideoTooLarge, match="640×480"):
        pick_frames(path, max_frames=3, max_edge=320, jpeg_quality=80, max_pixels=100_000)
