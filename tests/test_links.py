from __future__ import annotations

from pathlib import Path

import pytest

from resimply.links import canonical_link, is_tiktok_link, tiktok_video_id


@pytest.mark.parametrize(
    "url",
    [
        "https://www.tiktok.com/@chef.anna/video/7524354452762037512",
        "https://www.tiktok.com/@chef.anna/video/7524354452762037512?is_from_webapp=1&lang=en",
        "https://m.tiktok.com/v/7524354452762037512.html",
        "http://tiktok.com/@x/video/7524354452762037512/",
    ],
)
def test_every_public_form_of_a_tiktok_video_has_one_canonical_key(url: str) -> None:
    assert tiktok_video_id(url) == "7524354452762037512"
    assert canonical_link(url) == "tiktok:7524354452762037512"
    assert is_tiktok_link(url)


@pytest.mark.parametrize(
    "url", ["https://vm.tiktok.com/ZMabc123/", "https://vt.tiktok.com/ZSxyz789?x=1"]
)
def test_short_links_are_tiktok_links(url: str) -> None:
    assert is_tiktok_link(url) and tiktok_video_id(url) is None
    assert canonical_link(url).startswith("tiktok-short:")


@pytest.mark.parametrize(
    "url",
    [
        "https://www.tiktok.com/@chef",
        "https://example.com/video/123",
        "https://tiktok.com.evil.io/@a/video/1234567",
    ],
)
def test_other_links_are_not_tiktok_videos(url: str) -> None:
    assert not is_tiktok_link(url)


def test_direct_links_are_normalised_for_deduplication() -> None:
    assert canonical_link("HTTPS://Example.COM:443/v.mp4#t=3") == "https://example.com/v.mp4"
    assert (
        canonical_link("http://example.com:8080/v.mp4?a=1") == "http://example.com:8080/v.mp4?a=1"
    )


def test_local_paths_become_absolute_file_urls(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    assert canonical_link(str(video)) == f"file://{video.resolve()}"
    assert canonical_link(f"file://{video}") == f"file://{video.resolve()}"
