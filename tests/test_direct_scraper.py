import hashlib
from pathlib import Path

import pytest

from resimply import errors
from resimply.models import ScrapeRequest
from resimply.providers.base import SubtitleTrack, VideoRef
from resimply.providers.direct import DirectScraper, canonical_url

USER = "00000000-0000-4000-8000-000000000001"
VTT = "WEBVTT\n\n00:00.000 --> 00:02.000\nAdd 200 g flour\n"


class Progress:
    def __init__(self) -> None:
        self.updates: list[tuple[str, float | None]] = []

    async def update(self, details: str, fraction: float | None = None) -> None:
        self.updates.append((details, fraction))


def _request(url: str, caption: str | None = None) -> ScrapeRequest:
    return ScrapeRequest(url=url, user_id=USER, caption=caption)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path.resolve() / "pasta.final.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    return path


def test_accepts_http_links_with_valid_hosts() -> None:
    scraper = DirectScraper(dev=False, allow_private_urls=False)
    assert scraper.accepts("https://cdn.example.com/v/clip.mp4?sig=abc") is True
    assert scraper.accepts("HTTP://Example.COM/clip.mp4") is True
    assert scraper.accepts("http://93.184.216.34:8080/clip.mp4") is True
    assert scraper.accepts("http://[2606:4700::1]/clip.mp4") is True
    assert scraper.accepts("https://bücher.example/clip.mp4") is True


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/clip.mp4",
        "https:///clip.mp4",
        "https://exa mple.com/clip.mp4",
        "https://-bad-.example.com/clip.mp4",
        "https://a..b/clip.mp4",
        "https://example.com:99999/clip.mp4",
        "example.com/clip.mp4",
        "",
    ],
)
def test_refuses_malformed_links(url: str) -> None:
    assert DirectScraper(dev=True, allow_private_urls=True).accepts(url) is False


@pytest.mark.parametrize(
    "url",
    [
        "https://www.tiktok.com/@chef/video/7312345678901234567",
        "https://vm.tiktok.com/ZMabc123/",
        "https://tiktok.com/@chef/video/1",
        "https://www.instagram.com/reel/Cxyz/",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://m.youtube.com/shorts/abc",
        "https://youtu.be/dQw4w9WgXcQ",
    ],
)
def test_platform_pages_are_not_accepted(url: str) -> None:
    assert DirectScraper(dev=True, allow_private_urls=True).accepts(url) is False


async def test_platform_page_is_unsupported_when_scraped_anyway() -> None:
    scraper = DirectScraper(dev=True, allow_private_urls=True)
    with pytest.raises(errors.UnsupportedUrl):
        await scraper.scrape(_request("https://www.tiktok.com/@chef/video/1"), Progress())


def test_local_paths_are_accepted_only_in_dev_mode(video: Path) -> None:
    dev = DirectScraper(dev=True, allow_private_urls=False)
    prod = DirectScraper(dev=False, allow_private_urls=True)
    for url in (str(video), video.as_uri(), "~/clip.mp4", "file:///tmp/clip.mp4"):
        assert dev.accepts(url) is True
        assert prod.accepts(url) is False


async def test_local_file_with_sidecars(video: Path) -> None:
    folder = video.parent
    (folder / "pasta.final.txt").write_bytes(b"\xef\xbb\xbfCreamy pasta \xf0\x9f\x8d\x9d\n")
    (folder / "pasta.final.vtt").write_text(VTT, encoding="utf-8")
    (folder / "pasta.final.de.vtt").write_text("WEBVTT\n\nMehl", encoding="utf-8")
    (folder / "pasta.final.pt-BR.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nFarinha")
    (folder / "pasta.final.backup.vtt").write_text("ignored: not a language")
    (folder / "pasta.vtt").write_text("ignored: another video's stem")
    (folder / "other.en.vtt").write_text("ignored")
    progress = Progress()

    post = await DirectScraper(dev=True, allow_private_urls=False).scrape(
        _request(str(video)), progress
    )

    assert post.platform == "direct"
    assert post.url == video.as_uri()
    assert post.video == VideoRef(path=video)
    assert post.video_id == hashlib.sha256(video.as_uri().encode()).hexdigest()[:16]
    assert len(post.video_id) == 16
    assert post.author is None
    assert post.caption == "Creamy pasta 🍝"  # BOM dropped, whitespace trimmed
    assert post.subtitles == (
        SubtitleTrack(language=None, text=VTT, origin="sidecar"),
        SubtitleTrack(language="de", text="WEBVTT\n\nMehl", origin="sidecar"),
        SubtitleTrack(
            language="pt-BR", text="1\n00:00:00,000 --> 00:00:01,000\nFarinha", origin="sidecar"
        ),
    )
    assert progress.updates == [("Reading the local video file", None)]


async def test_request_caption_wins_over_sidecar(video: Path) -> None:
    (video.parent / "pasta.final.txt").write_text("sidecar caption")
    post = await DirectScraper(dev=True, allow_private_urls=False).scrape(
        _request(video.as_uri(), caption="  Caption from the request "), Progress()
    )
    assert post.caption == "Caption from the request"


async def test_local_file_without_sidecars(video: Path) -> None:
    post = await DirectScraper(dev=True, allow_private_urls=False).scrape(
        _request(str(video)), Progress()
    )
    assert post.caption is None
    assert post.subtitles == ()


async def test_oversized_and_utf16_sidecars(video: Path) -> None:
    (video.parent / "pasta.final.txt").write_bytes(b"a" * (1024 * 1024 + 1))
    (video.parent / "pasta.final.en.srt").write_text("1\nHallo", encoding="utf-16")
    post = await DirectScraper(dev=True, allow_private_urls=False).scrape(
        _request(str(video)), Progress()
    )
    assert post.caption is None  # over the 1 MB cap: ignored, not truncated
    assert post.subtitles == (SubtitleTrack(language="en", text="1\nHallo"),)


async def test_missing_local_file_is_video_not_found(tmp_path: Path) -> None:
    scraper = DirectScraper(dev=True, allow_private_urls=False)
    with pytest.raises(errors.VideoNotFound) as info:
        await scraper.scrape(_request(str(tmp_path / "nope.mp4")), Progress())
    assert info.value.code == "video_not_found"
    with pytest.raises(errors.VideoNotFound):
        await scraper.scrape(_request(str(tmp_path)), Progress())  # a directory


async def test_local_paths_are_refused_outside_dev_mode(video: Path) -> None:
    scraper = DirectScraper(dev=False, allow_private_urls=True)
    with pytest.raises(errors.UnsupportedUrl) as info:
        await scraper.scrape(_request(str(video)), Progress())
    assert "development mode" in info.value.message


async def test_private_url_is_refused_unless_allowed() -> None:
    url = "http://127.0.0.1:8000/clip.mp4"
    with pytest.raises(errors.UnsupportedUrl) as info:
        await DirectScraper(dev=False, allow_private_urls=False).scrape(_request(url), Progress())
    assert info.value.message == "Links to private or local network addresses are not allowed."

    for scraper in (
        DirectScraper(dev=False, allow_private_urls=True),
        DirectScraper(dev=True, allow_private_urls=False),
    ):
        post = await scraper.scrape(_request(url, caption="Pancakes"), Progress())
        assert post.video == VideoRef(url=url, allow_private=True)
        assert post.url == "http://127.0.0.1:8000/clip.mp4"
        assert post.caption == "Pancakes"


async def test_public_url_post() -> None:
    url = "HTTPS://User:pw@93.184.216.34:443/v/clip.mp4?sig=1#t=5"
    post = await DirectScraper(dev=False, allow_private_urls=False).scrape(
        _request(url), Progress()
    )
    assert post.platform == "direct"
    assert post.url == "https://93.184.216.34/v/clip.mp4?sig=1"
    assert post.video == VideoRef(url=url, allow_private=False)
    expected_id = hashlib.sha256(b"https://93.184.216.34/v/clip.mp4?sig=1").hexdigest()[:16]
    assert post.video_id == expected_id
    assert post.caption is None
    assert post.subtitles == ()


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://Example.COM:443/a/B.mp4?x=1#frag", "https://example.com/a/B.mp4?x=1"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/v.mp4", "http://example.com:8080/v.mp4"),
        ("https://example.com:80/v.mp4", "https://example.com:80/v.mp4"),
        ("https://user:secret@example.com/v.mp4", "https://example.com/v.mp4"),
        ("http://[2606:4700::1]:80/v.mp4", "http://[2606:4700::1]/v.mp4"),
        ("  https://example.com./v.mp4 ", "https://example.com/v.mp4"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_canonical_url_of_local_paths(video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = video.as_uri()
    assert expected.startswith("file:///")
    assert canonical_url(str(video)) == expected
    assert canonical_url(video.as_uri()) == expected
    assert canonical_url(str(video.parent / "." / video.name)) == expected
    monkeypatch.setenv("HOME", str(video.parent))
    assert canonical_url("~/pasta.final.mp4") == expected
