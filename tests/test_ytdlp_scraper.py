"""The yt-dlp scraper, offline.

* yt-dlp really runs: its generic/html5 extractors read pages served here, and
  yt-dlp's real TikTok extractor maps a recorded post (only its page request is
  replaced: `TikTokIE._extract_web_data_and_status`).
* Instagram and YouTube: info dicts of the shapes yt-dlp returns, taken from its
  extractor source (yt_dlp/extractor/instagram.py `_extract_product` /
  `_extract_product_media`; yt_dlp/extractor/youtube/_video.py formats and
  `automatic_captions` with `-orig` and `tlang=` tracks).
* Errors: raised by yt-dlp itself, through `YoutubeDL.extract_info`, with the
  messages its TikTok, Instagram and YouTube extractors use.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
import yt_dlp
from aiohttp import web
from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.extractor.tiktok import TikTokIE
from yt_dlp.utils import DownloadError, ExtractorError

from resimply import errors
from resimply.media.download import download
from resimply.models import ScrapeRequest
from resimply.providers.ytdlp import YtDlpScraper, _PublicOnlyYoutubeDL, caption_of
from resimply.providers.ytdlp_errors import YTDLP_VERSION, map_error
from resimply.providers.ytdlp_formats import (
    choose_format,
    cookie_header,
    extractor_platforms,
    language_code,
    normalize_link,
    platform_of,
    rank_subtitles,
)
from resimply.settings import Settings, SettingsError

USER = "00000000-0000-4000-8000-000000000001"
CLIP = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2000
VTT_DE = "WEBVTT\n\n00:00.000 --> 00:02.000\n200 g Spaghetti kochen\n"
VTT_EN = "WEBVTT\n\n00:00.000 --> 00:02.000\nBoil 200 g spaghetti\n"
PAGE = """<!doctype html><html><head><title>Pasta Carbonara</title>
<meta property="og:description" content="Full recipe: 200 g spaghetti, 2 eggs">
</head><body>
<video src="/clip.mp4" width="640" height="360" poster="/poster.jpg">
<track kind="captions" src="/clip.de.vtt" srclang="de" label="Deutsch">
<track kind="subtitles" src="/clip.en.vtt" srclang="en" label="English">
</video></body></html>"""

# A page that sends yt-dlp on to /page.html: its next request shows whether it went on.
REFRESH = '<html><head><meta http-equiv="refresh" content="0;url=/page.html"></head></html>'


class Progress:
    def __init__(self) -> None:
        self.updates: list[tuple[str, float | None]] = []

    async def update(self, details: str, fraction: float | None = None) -> None:
        self.updates.append((details, fraction))


@dataclasses.dataclass
class Site:
    base: str
    requests: list[str]
    stall_arrived: asyncio.Event
    stall_release: asyncio.Event


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    """Pages, media and subtitle files on 127.0.0.1; /stall answers only when released."""
    requests: list[str] = []
    arrived, release = asyncio.Event(), asyncio.Event()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def clip(request: web.Request) -> web.Response:
        return web.Response(body=CLIP, content_type="video/mp4")

    async def vtt(request: web.Request) -> web.Response:
        text = VTT_DE if ".de." in request.path or "deu" in request.path else VTT_EN
        return web.Response(text=text, content_type="text/vtt")

    async def stall(request: web.Request) -> web.Response:
        arrived.set()
        await release.wait()
        return web.Response(text=REFRESH, content_type="text/html")

    async def refresh(request: web.Request) -> web.Response:
        return web.Response(text=REFRESH, content_type="text/html")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="no")

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        requests.append(request.path)
        response: web.StreamResponse = await handler(request)
        return response

    app = web.Application(middlewares=[record])
    app.router.add_get("/page.html", page)
    app.router.add_get("/stall.html", stall)
    app.router.add_get("/refresh.html", refresh)
    app.router.add_get("/status/{code}", status)
    app.router.add_get(r"/{name:.*\.mp4}", clip)
    app.router.add_get(r"/{name:.*\.vtt}", vtt)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield Site(f"http://127.0.0.1:{port}", requests, arrived, release)
    finally:
        release.set()
        await runner.cleanup()


def _settings(**changes: Any) -> Settings:
    return dataclasses.replace(Settings(), allow_private_urls=True, **changes)


def _request(url: str, language: str | None = None) -> ScrapeRequest:
    return ScrapeRequest(url=url, user_id=USER, language=language)


# --- yt-dlp really running: generic / html5 against a local page ----------------


async def test_generic_page_with_video_and_tracks(site: Site, tmp_path: Path) -> None:
    scraper = YtDlpScraper(_settings(ytdlp_extractors=("generic", "html5")))
    try:
        post = await scraper.scrape(_request(f"{site.base}/page.html", "en"), Progress())
    finally:
        await scraper.aclose()
    assert post.platform == "web"
    assert post.url == f"{site.base}/page.html"
    assert post.caption is not None and "Full recipe: 200 g spaghetti" in post.caption
    assert post.thumbnail_url == f"{site.base}/poster.jpg"
    # The requested language among the page's <track>s, fetched by our downloader.
    assert [(t.language, t.text, t.origin) for t in post.subtitles] == [("en", VTT_EN, "platform")]
    assert post.video.url == f"{site.base}/clip.mp4"
    assert post.video.headers["Referer"] == f"{site.base}/page.html"
    assert "User-Agent" in post.video.headers and "Cookie" not in post.video.headers
    # yt-dlp did not download the media: only the page was fetched by it.
    assert site.requests.count("/clip.mp4") == 0
    # The pipeline's media step streams it with the SSRF-safe downloader.
    path = await download(
        post.video, tmp_path / "v.mp4", max_bytes=10_000, timeout_s=10, progress=Progress()
    )
    assert path.read_bytes() == CLIP


async def test_generic_page_requested_language_missing_takes_any(site: Site) -> None:
    scraper = YtDlpScraper(_settings(ytdlp_extractors=("generic", "html5")))
    try:
        post = await scraper.scrape(_request(f"{site.base}/page.html", "fr"), Progress())
    finally:
        await scraper.aclose()
    assert [t.language for t in post.subtitles] == ["de"]  # the first track on the page


async def test_generic_is_not_allowed_by_default(site: Site) -> None:
    scraper = YtDlpScraper(_settings())
    try:
        assert scraper.accepts(f"{site.base}/page.html") is False
        with pytest.raises(errors.UnsupportedUrl) as caught:
            await scraper.scrape(_request(f"{site.base}/page.html"), Progress())
    finally:
        await scraper.aclose()
    assert "TikTok" in caught.value.message and "YouTube" in caught.value.message
    assert site.requests == []


async def test_a_refresh_page_leads_yt_dlp_on(site: Site) -> None:
    """The control for the next test: not cancelled, yt-dlp follows the refresh."""
    scraper = YtDlpScraper(_settings(ytdlp_extractors=("generic", "html5")))
    try:
        post = await scraper.scrape(_request(f"{site.base}/refresh.html"), Progress())
    finally:
        await scraper.aclose()
    assert site.requests[:2] == ["/refresh.html", "/page.html"]
    assert post.video.url == f"{site.base}/clip.mp4"


async def test_cancelling_a_stalled_extraction_returns_at_once(site: Site) -> None:
    scraper = YtDlpScraper(_settings(ytdlp_extractors=("generic", "html5")))
    task = asyncio.create_task(scraper.scrape(_request(f"{site.base}/stall.html"), Progress()))
    await site.stall_arrived.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The scrape ended while yt-dlp's request was still unanswered.
    assert not site.stall_release.is_set()
    # Released, the yt-dlp thread stops at its next step instead of following
    # the refresh to /page.html.
    site.stall_release.set()
    await asyncio.to_thread(scraper._executor.shutdown, True)
    assert site.requests == ["/stall.html"]


async def test_a_stalled_extraction_times_out_as_retryable(site: Site) -> None:
    scraper = YtDlpScraper(_settings(ytdlp_extractors=("generic", "html5"), ytdlp_timeout_s=0.5))
    try:
        with pytest.raises(errors.ScrapeFailed) as caught:
            await scraper.scrape(_request(f"{site.base}/stall.html"), Progress())
    finally:
        site.stall_release.set()
        await scraper.aclose()
    assert caught.value.retryable is True
    assert "longer than 0.5 seconds" in caught.value.message


# --- yt-dlp's real TikTok extractor on a recorded post ----------------------------


def _tiktok_item(base: str) -> dict[str, Any]:
    """`webapp.video-detail.itemInfo.itemStruct` as TikTok's page holds it: the
    fields yt-dlp's `_parse_aweme_video_web` / `_extract_web_formats` /
    `_get_subtitles` read (yt_dlp/extractor/tiktok.py)."""
    return {
        "id": "7524354452762037512",
        "desc": "Creamy garlic pasta: 200 g spaghetti, 3 cloves garlic #pasta",
        "createTime": 1751900293,
        "author": {"uniqueId": "chef", "nickname": "Chef Anna", "id": "7337708524620203026"},
        "stats": {"playCount": 2314, "diggCount": 158},
        "music": {"title": "original sound", "authorName": "Chef Anna", "duration": 20},
        "video": {
            "width": 576,
            "height": 1024,
            "duration": 20,
            "cover": f"{base}/tt/cover.jpg",
            "bitrateInfo": [
                {
                    "PlayAddr": {
                        "UrlKey": "v12044gd0000_h264_540p_1000000",
                        "UrlList": [f"{base}/tt/h264-540.mp4"],
                        "DataSize": len(CLIP),
                    }
                },
                {
                    "PlayAddr": {
                        "UrlKey": "v12044gd0000_bytevc1_720p_900000",
                        "UrlList": [f"{base}/tt/media-video-hvc1/"],
                        "DataSize": len(CLIP),
                    }
                },
                {
                    "PlayAddr": {
                        "UrlKey": "v12044gd0000_bytevc2_1080p_800000",
                        "UrlList": [f"{base}/tt/bytevc2.mp4"],
                    }
                },
            ],
            "playAddr": f"{base}/tt/play.mp4",
            "downloadAddr": f"{base}/tt/download.mp4",
            "subtitleInfos": [
                {
                    "Url": f"{base}/tt/deu.vtt",
                    "Format": "webvtt",
                    "LanguageCodeName": "deu-DE",
                    "Source": "MT",
                },
                {
                    "Url": f"{base}/tt/eng.vtt",
                    "Format": "webvtt",
                    "LanguageCodeName": "eng-US",
                    "Source": "ASR",
                },
            ],
        },
    }


async def test_real_tiktok_extractor_maps_a_recorded_post(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = _tiktok_item(site.base)
    asked: list[str] = []

    def web_data(self: TikTokIE, url: str, video_id: str, fatal: bool = True) -> Any:
        asked.append(url)
        return item, 0

    monkeypatch.setattr(TikTokIE, "_extract_web_data_and_status", web_data)
    scraper = YtDlpScraper(_settings())
    progress = Progress()
    try:
        # m.tiktok.com links are not matched by yt-dlp's extractor: normalized first.
        post = await scraper.scrape(
            _request("https://m.tiktok.com/v/7524354452762037512.html", "de"), progress
        )
    finally:
        await scraper.aclose()
    assert progress.updates == [
        ("Reading the TikTok post", None),
        ("Fetching the subtitles", None),
        ("Read the post", 1.0),
    ]
    assert asked == ["https://www.tiktok.com/@_/video/7524354452762037512"]
    assert post.platform == "tiktok"
    assert post.video_id == "7524354452762037512"
    assert post.author == "chef"
    assert post.caption == item["desc"]
    assert post.thumbnail_url == f"{site.base}/tt/cover.jpg"
    assert [(t.language, t.text) for t in post.subtitles] == [("de", VTT_DE)]
    # Subtitles found → audio not needed; the reliable web "play" format at 576p,
    # not the flagged hvc1 one nor the undecodable bytevc2.
    assert post.video.url == f"{site.base}/tt/play.mp4"
    assert post.video.headers["Referer"].startswith("https://www.tiktok.com/@_/video/")


async def test_real_tiktok_extractor_photo_slideshow_is_invalid_media(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = _tiktok_item(site.base)
    item["video"] = {"duration": 0, "width": 0, "height": 0, "cover": f"{site.base}/tt/c.jpg"}
    item["imagePost"] = {"images": [{"imageURL": {"urlList": [f"{site.base}/tt/1.jpg"]}}]}
    monkeypatch.setattr(
        TikTokIE, "_extract_web_data_and_status", lambda self, url, vid, fatal=True: (item, 0)
    )
    scraper = YtDlpScraper(_settings())
    try:
        with pytest.raises(errors.InvalidMedia) as caught:
            await scraper.scrape(
                _request("https://www.tiktok.com/@chef/video/7524354452762037512"), Progress()
            )
    finally:
        await scraper.aclose()
    assert "slideshow" in caught.value.message
    assert site.requests == []


async def test_real_tiktok_extractor_private_post(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        TikTokIE, "_extract_web_data_and_status", lambda self, url, vid, fatal=True: (None, 10216)
    )
    scraper = YtDlpScraper(_settings())
    try:
        with pytest.raises(errors.VideoNotFound) as caught:
            await scraper.scrape(
                _request("https://www.tiktok.com/@chef/video/7524354452762037512"), Progress()
            )
    finally:
        await scraper.aclose()
    assert "private" in caught.value.message


# --- Instagram and YouTube: info dicts of yt-dlp's shapes -----------------------


def _instagram_info(base: str, *, audio: bool = True) -> dict[str, Any]:
    """A processed Reel as instagram.py's `_extract_product` builds it: progressive
    `video_versions` (acodec None = has audio) plus split DASH representations."""
    headers = {"Referer": "https://www.instagram.com/", "User-Agent": "Mozilla/5.0 test"}
    progressive = [
        {
            "format_id": str(kind),
            "url": f"{base}/ig/{kind}.mp4",
            "width": width,
            "height": height,
            "vcodec": "vp09_00_40_08",
            "acodec": None if audio else "none",
            "ext": "mp4",
            "protocol": "https",
            "http_headers": headers,
        }
        for kind, width, height in ((101, 1080, 1920), (102, 720, 1280), (103, 480, 854))
    ]
    dash = [
        {
            "format_id": "dash-1080v",
            "url": f"{base}/ig/dash-1080v.mp4",
            "width": 1080,
            "height": 1920,
            "vcodec": "avc1.640028",
            "acodec": "none",
            "protocol": "https",
            "http_headers": headers,
        },
        {
            "format_id": "dash-audio",
            "url": f"{base}/ig/dash-audio.m4a",
            "vcodec": "none",
            "acodec": "mp4a.40.2",
            "protocol": "https",
            "http_headers": headers,
        },
    ]
    return {
        "id": "C1a2b3c4d5e",
        "title": "Video by chef.anna",
        "description": "One-pan lemon orzo 🍋 Ingredients: 250 g orzo",
        "channel": "chef.anna",
        "uploader": "Anna Koch",
        "uploader_id": "1234567",
        "duration": 42.5,
        "thumbnail": f"{base}/ig/cover.jpg",
        "webpage_url": "https://www.instagram.com/reel/C1a2b3c4d5e/",
        "extractor": "Instagram",
        "extractor_key": "Instagram",
        "formats": [*dash, *progressive],
        "subtitles": {},
        "http_headers": headers,
    }


def _youtube_info(base: str) -> dict[str, Any]:
    """A processed Short as youtube/_video.py builds it: itag 18 (360p progressive),
    DASH video-only and audio-only over https, HLS, storyboards, auto captions with
    an `-orig` track and `tlang=` translations."""

    def fmt(fid: str, **kw: Any) -> dict[str, Any]:
        return {"format_id": fid, "url": f"{base}/yt/{fid}.mp4", "protocol": "https", **kw}

    return {
        "id": "dQw4w9WgXcQ",
        "title": "15-minute chicken curry",
        "description": "Ingredients: 500 g chicken thighs, 1 onion",
        "uploader": "Curry Kitchen",
        "uploader_id": "@currykitchen",
        "channel": "Curry Kitchen",
        "duration": 58,
        "language": "en",
        "thumbnail": f"{base}/yt/maxres.jpg",
        "webpage_url": "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        "extractor": "youtube",
        "extractor_key": "Youtube",
        "formats": [
            {
                "format_id": "sb0",
                "url": f"{base}/yt/sb0",
                "protocol": "mhtml",
                "vcodec": "none",
                "acodec": "none",
                "format_note": "storyboard",
            },
            fmt("140", vcodec="none", acodec="mp4a.40.2", ext="m4a"),
            fmt("160", width=144, height=256, vcodec="avc1.4d400c", acodec="none"),
            fmt("18", width=360, height=640, vcodec="avc1.42001E", acodec="mp4a.40.2"),
            fmt("136", width=720, height=1280, vcodec="avc1.4d401f", acodec="none"),
            fmt("137", width=1080, height=1920, vcodec="avc1.640028", acodec="none"),
            {
                "format_id": "95",
                "url": f"{base}/yt/95.m3u8",
                "protocol": "m3u8_native",
                "width": 720,
                "height": 1280,
                "vcodec": "avc1.4d401f",
                "acodec": "mp4a.40.2",
            },
        ],
        "subtitles": {},
        "automatic_captions": {
            "en-orig": [
                {"ext": "json3", "url": f"{base}/yt/en.json3", "name": "English (Original)"},
                {"ext": "vtt", "url": f"{base}/yt/en.vtt", "name": "English (Original)"},
            ],
            "en": [{"ext": "vtt", "url": f"{base}/yt/en.vtt", "name": "English"}],
            "de": [{"ext": "vtt", "url": f"{base}/yt/de.vtt?tlang=de", "name": "German"}],
        },
    }


def _with_info(scraper: YtDlpScraper, info: dict[str, Any]) -> None:
    async def extract(url: str) -> dict[str, Any]:
        return info

    scraper.extract = extract  # type: ignore[method-assign]


async def test_instagram_reel_without_subtitles_takes_a_progressive_format(site: Site) -> None:
    scraper = YtDlpScraper(_settings())
    _with_info(scraper, _instagram_info(site.base))
    try:
        post = await scraper.scrape(
            _request("https://www.instagram.com/reel/C1a2b3c4d5e/?igsh=abc"), Progress()
        )
    finally:
        await scraper.aclose()
    assert post.platform == "instagram"
    assert post.author == "chef.anna"
    assert post.caption == "One-pan lemon orzo 🍋 Ingredients: 250 g orzo"
    assert post.subtitles == ()
    # No subtitles → the speech is needed: 720p progressive, not 1080p nor split DASH.
    assert post.video.url == f"{site.base}/ig/102.mp4"
    assert post.video.headers["Referer"] == "https://www.instagram.com/"


async def test_instagram_photo_post_is_invalid_media(site: Site) -> None:
    info = _instagram_info(site.base)
    info["formats"] = []  # "There is no video in this post" (kept as a warning)
    scraper = YtDlpScraper(_settings())
    _with_info(scraper, info)
    try:
        with pytest.raises(errors.InvalidMedia) as caught:
            await scraper.scrape(_request("https://www.instagram.com/p/C1a2b3c4d5e/"), Progress())
    finally:
        await scraper.aclose()
    assert "photo" in caught.value.message
    assert site.requests == []


async def test_instagram_carousel_takes_its_first_video(site: Site) -> None:
    reel = _instagram_info(site.base)
    photo = {**reel, "formats": []}
    carousel = {
        **{k: v for k, v in reel.items() if k != "formats"},
        "_type": "playlist",
        "title": "Post by chef.anna",
        "entries": [photo, reel],
    }
    scraper = YtDlpScraper(_settings())
    _with_info(scraper, carousel)
    try:
        post = await scraper.scrape(
            _request("https://www.instagram.com/p/C1a2b3c4d5e/"), Progress()
        )
    finally:
        await scraper.aclose()
    assert post.video.url == f"{site.base}/ig/102.mp4"


async def test_youtube_short_with_auto_captions(site: Site) -> None:
    scraper = YtDlpScraper(_settings())
    _with_info(scraper, _youtube_info(site.base))
    try:
        post = await scraper.scrape(
            _request("https://youtube.com/shorts/dQw4w9WgXcQ?si=x"), Progress()
        )
    finally:
        await scraper.aclose()
    assert post.platform == "youtube"
    assert post.author == "Curry Kitchen"
    assert post.language == "en"
    assert post.caption == "15-minute chicken curry\n\nIngredients: 500 g chicken thighs, 1 onion"
    assert post.thumbnail_url == f"{site.base}/yt/maxres.jpg"
    assert [(t.language, t.text) for t in post.subtitles] == [("en", VTT_EN)]
    # Subtitles → picture only is fine: the 720p video-only format (plain https).
    assert post.video.url == f"{site.base}/yt/136.mp4"


async def test_youtube_too_long_is_refused_before_any_download(site: Site) -> None:
    info = {**_youtube_info(site.base), "duration": 3 * 3600}
    scraper = YtDlpScraper(_settings())
    _with_info(scraper, info)
    try:
        with pytest.raises(errors.VideoTooLarge):
            await scraper.scrape(
                _request("https://www.youtube.com/watch?v=dQw4w9WgXcQ"), Progress()
            )
    finally:
        await scraper.aclose()
    assert site.requests == []


# --- pure choices ----------------------------------------------------------------


def test_format_with_audio_when_no_subtitles() -> None:
    info = _youtube_info("https://cdn.test")
    assert choose_format(info["formats"], need_audio=True).format_id == "18"  # type: ignore[union-attr]
    assert choose_format(info["formats"], need_audio=False).format_id == "136"  # type: ignore[union-attr]


def test_format_split_streams_only_takes_video_without_audio() -> None:
    formats = [f for f in _youtube_info("https://cdn.test")["formats"] if f["format_id"] != "18"]
    formats = [f for f in formats if f["protocol"] != "m3u8_native"]
    chosen = choose_format(formats, need_audio=True)
    assert chosen is not None and chosen.format_id == "136" and chosen.has_audio is False


def test_format_manifests_only_gives_none() -> None:
    formats = [{"url": "https://cdn.test/a.m3u8", "protocol": "m3u8_native", "height": 720}]
    assert choose_format(formats, need_audio=False) is None


def test_format_none_small_enough_takes_the_smallest_above() -> None:
    formats = [
        {
            "format_id": "big",
            "url": "https://c/1",
            "protocol": "https",
            "width": 2160,
            "height": 3840,
        },
        {
            "format_id": "mid",
            "url": "https://c/2",
            "protocol": "https",
            "width": 1080,
            "height": 1920,
        },
    ]
    assert choose_format(formats, need_audio=True).format_id == "mid"  # type: ignore[union-attr]


def test_format_over_the_byte_cap_comes_last() -> None:
    formats = [
        {
            "format_id": "a",
            "url": "https://c/1",
            "protocol": "https",
            "height": 720,
            "filesize": 900,
        },
        {
            "format_id": "b",
            "url": "https://c/2",
            "protocol": "https",
            "height": 480,
            "filesize": 100,
        },
    ]
    assert choose_format(formats, need_audio=True, max_bytes=500).format_id == "b"  # type: ignore[union-attr]


def test_format_headers_carry_site_cookies_not_attributes() -> None:
    fmt = {
        "url": "https://v16.tiktokcdn.com/x",
        "protocol": "https",
        "http_headers": {"User-Agent": "UA", "Referer": "https://www.tiktok.com/", "Cookie": "x=1"},
        "cookies": "tt_chain_token=abc; Domain=.tiktok.com; Path=/; Secure; Expires=1790000000",
    }
    chosen = choose_format([fmt], need_audio=True)
    assert chosen is not None
    assert chosen.headers == {
        "User-Agent": "UA",
        "Referer": "https://www.tiktok.com/",
        "Cookie": "tt_chain_token=abc",
    }
    assert cookie_header(None) is None


def test_subtitles_requested_then_original_then_any_creator_first() -> None:
    info = {
        "subtitles": {"de": [{"ext": "vtt", "url": "https://c/de.vtt"}]},
        "automatic_captions": {
            "en": [
                {"ext": "json3", "url": "https://c/en.json3"},
                {"ext": "vtt", "url": "https://c/en.vtt"},
            ],
            "fr": [{"ext": "vtt", "url": "https://c/en.vtt?tlang=fr"}],
        },
    }
    assert rank_subtitles(info, "de", "en")[0].url == "https://c/de.vtt"
    assert rank_subtitles(info, None, "en")[0].url == "https://c/en.vtt"  # the video's own
    assert rank_subtitles(info, "fr", "en")[0].url == "https://c/en.vtt?tlang=fr"
    assert rank_subtitles(info, "ja", None)[0].url == "https://c/de.vtt"  # any: creator's first
    info["subtitles"]["en"] = [{"ext": "srt", "url": "https://c/en.srt"}]
    assert rank_subtitles(info, "en", None)[0].url == "https://c/en.srt"  # creator beats ASR
    assert (
        rank_subtitles({"subtitles": {"en": [{"ext": "json3", "url": "https://c/x"}]}}, None, None)
        == []
    )


def test_languages_and_links() -> None:
    assert [language_code(x) for x in ("en-US", "eng-US", "en-orig", "iw", "zh-Hans", "und")] == [
        "en", "en", "en", "he", "zh", None,
    ]  # fmt: skip
    assert platform_of("https://vm.tiktok.com/ZMabc/") == "tiktok"
    assert platform_of("https://www.instagram.com/reel/x/") == "instagram"
    assert platform_of("https://youtu.be/dQw4w9WgXcQ") == "youtube"
    assert platform_of("https://example.com/r") == "web"
    assert platform_of("ftp://youtube.com/x") is None
    assert normalize_link("https://tiktok.com/@chef/video/7524354452762037512?lang=en") == (
        "https://www.tiktok.com/@_/video/7524354452762037512"
    )
    assert normalize_link("https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PL1&index=2") == (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    )
    assert normalize_link("https://vm.tiktok.com/ZMabc/") == "https://vm.tiktok.com/ZMabc/"


def test_accepts_the_links_of_allowed_platforms() -> None:
    scraper = YtDlpScraper(_settings())
    assert scraper.platforms == frozenset({"tiktok", "instagram", "youtube"})
    for url in (
        "https://www.tiktok.com/@chef/video/7524354452762037512",
        "https://vt.tiktok.com/ZSabc/",
        "https://www.instagram.com/reel/C1a2b3c4d5e/",
        "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        "https://youtu.be/dQw4w9WgXcQ",
    ):
        assert scraper.accepts(url), url
    for url in (
        "https://example.com/recipe",
        "https://www.tiktok.com/@chef",
        "https://www.instagram.com/chef/",
        "https://www.youtube.com/@chef",
        "https://www.youtube.com/playlist?list=PL1",
        "ftp://www.youtube.com/watch?v=dQw4w9WgXcQ",
    ):
        assert not scraper.accepts(url), url
    assert scraper.accepts("https://m.tiktok.com/v/7524354452762037512.html")
    assert YtDlpScraper(_settings(ytdlp_extractors=("youtube",))).platforms == {"youtube"}
    assert extractor_platforms(["tik.*"]) == {"tiktok"}


def test_caption_skips_instagram_and_truncated_titles() -> None:
    assert caption_of({"title": "Video by chef", "description": "Pasta"}) == "Pasta"
    assert caption_of(
        {"title": "Creamy pasta: 200 g…", "description": "Creamy pasta: 200 g x"}
    ) == ("Creamy pasta: 200 g x")
    assert caption_of({"title": "Curry", "description": None}) == "Curry"


def test_settings_from_env() -> None:
    settings = Settings.from_env(
        {"RESIMPLY_YTDLP_EXTRACTORS": "youtube, tiktok", "RESIMPLY_YTDLP_TIMEOUT_S": "90"}
    )
    assert settings.ytdlp_extractors == ("youtube", "tiktok")
    assert settings.ytdlp_timeout_s == 90.0
    assert Settings.from_env({}).ytdlp_extractors == ("tiktok", "vm.tiktok", "instagram", "youtube")
    with pytest.raises(SettingsError, match="RESIMPLY_YTDLP_EXTRACTORS"):
        Settings.from_env({"RESIMPLY_YTDLP_EXTRACTORS": "tiktok,(unclosed"})


# --- errors, as yt-dlp raises them ------------------------------------------------


def _raised(ie_name: str, action: Callable[[InfoExtractor], Any]) -> BaseException:
    """What `YoutubeDL.extract_info` raises when an extractor named `ie_name` does
    `action` (yt-dlp wraps extractor errors in DownloadError itself)."""

    class FakeIE(InfoExtractor):
        IE_NAME = ie_name
        _VALID_URL = r"https?://fake\.test/.*"

        def _real_extract(self, url: str) -> Any:
            return action(self)

    params = {"quiet": True, "no_warnings": True, "allowed_extractors": ["none-of-them"]}
    params["logger"] = YtDlpScraper(_settings()).params()["logger"]
    params["socket_timeout"] = 5
    with yt_dlp.YoutubeDL(params) as ydl:  # type: ignore[arg-type]
        ydl.add_info_extractor(FakeIE())
        try:
            ydl.extract_info("https://fake.test/post", download=False)
        except Exception as exc:
            return exc
    raise AssertionError("no error raised")


def _login(message: str) -> Callable[[InfoExtractor], Any]:
    return lambda ie: ie.raise_login_required(message)


def _fail(message: str, expected: bool = True) -> Callable[[InfoExtractor], Any]:
    def action(ie: InfoExtractor) -> Any:
        raise ExtractorError(message, expected=expected)

    return action


@pytest.mark.parametrize(
    ("ie", "action", "code", "retryable", "words"),
    [
        # tiktok.py `_real_extract`: status 10216 / 10222
        ("TikTok", _login("You do not have permission to view this post. Log into an account that has access"), "video_not_found", False, "private"),
        ("TikTok", _fail("Video not available, status code 10204", expected=False), "video_not_found", False, "unavailable"),
        ("TikTok", _login("TikTok is requiring login for access to this content"), "scrape_failed", True, "APIFY_API_TOKEN"),
        # instagram.py `_real_extract`
        ("Instagram", _login("The webpage request was redirected to the login page. You have exceeded the rate-limit for accessing posts anonymously"), "scrape_failed", True, "APIFY_API_TOKEN"),
        ("Instagram", _fail("Instagram sent an empty media response. Check if this post is accessible in your browser without being logged-in. If it is not, then use --cookies-from-browser or --cookies for the authentication. Otherwise, if the post is accessible in browser without being logged-in, please report this issue on  https://github.com/yt-dlp/yt-dlp/issues"), "scrape_failed", True, "Instagram asked for a login"),
        ("Instagram", _login("This content is only available for registered users who follow this account"), "video_not_found", False, "private"),
        # youtube/_video.py playability statuses
        ("youtube", _fail("Private video. Sign in if you've been granted access to this video"), "video_not_found", False, "private"),
        ("youtube", _fail("Video unavailable. This video has been removed by the uploader"), "video_not_found", False, "deleted"),
        ("youtube", _login("Sign in to confirm you’re not a bot. Use --cookies-from-browser or --cookies for the authentication"), "scrape_failed", True, "YouTube asked for a login"),
        ("youtube", _fail("Sign in to confirm your age. This video may be inappropriate for some users."), "video_not_found", False, "adults"),
        ("youtube", lambda ie: ie.raise_geo_restricted(countries=["US"]), "video_not_found", False, "country"),
    ],
)  # fmt: skip
def test_platform_errors_map_to_codes(
    ie: str, action: Callable[[InfoExtractor], Any], code: str, retryable: bool, words: str
) -> None:
    raised = _raised(ie, action)
    assert isinstance(raised, DownloadError)
    error = map_error(raised)
    assert (error.code, error.retryable) == (code, retryable)
    assert words in error.message
    assert "http" not in error.message.lower().replace("apify", "")  # no upstream links


@pytest.mark.parametrize(
    "action",
    [
        lambda ie: ie._search_regex(r"itemStruct\":(\{.+?\})", "<html></html>", "video data"),
        _fail("Unable to extract universal data for rehydration", expected=False),
        lambda ie: {}["itemStruct"],  # a KeyError inside the extractor
    ],
)
def test_a_broken_extractor_is_retryable_and_logs_the_version(
    action: Callable[[InfoExtractor], Any],
) -> None:
    raised = _raised("TikTok", action)
    with structlog.testing.capture_logs() as logs:
        error = map_error(raised, "tiktok")
    assert (error.code, error.retryable) == ("scrape_failed", True)
    assert "TikTok changed its site" in error.message
    lines = [e for e in logs if e.get("ytdlp_version")]
    assert len(lines) == 1 and lines[0]["ytdlp_version"] == YTDLP_VERSION


async def test_network_errors_map_to_codes(site: Site) -> None:
    def fetch(path: str) -> Callable[[InfoExtractor], Any]:
        return lambda ie: ie._download_webpage(f"{site.base}{path}", "post")

    gone = await asyncio.to_thread(_raised, "Instagram", fetch("/status/404"))
    down = await asyncio.to_thread(_raised, "Instagram", fetch("/status/503"))
    closed = await asyncio.to_thread(
        _raised, "Instagram", lambda ie: ie._download_webpage("http://127.0.0.1:9/", "post")
    )
    assert map_error(gone).code == "video_not_found"
    assert (map_error(down).code, map_error(down).retryable) == ("scrape_failed", True)
    assert (map_error(closed).code, map_error(closed).retryable) == ("scrape_failed", True)
    assert "Could not reach Instagram" in map_error(closed).message


def test_a_link_no_extractor_takes_is_unsupported() -> None:
    params = {"quiet": True, "allowed_extractors": ["youtube"]}
    with yt_dlp.YoutubeDL(params) as ydl, pytest.raises(DownloadError) as caught:  # type: ignore[arg-type]
        ydl.extract_info("https://example.com/x", download=False)
    assert map_error(caught.value).code == "unsupported_url"


# --- private addresses -----------------------------------------------------------


async def test_private_addresses_are_refused_without_allow_private(site: Site) -> None:
    settings = dataclasses.replace(Settings(), ytdlp_extractors=("generic", "html5"))
    scraper = YtDlpScraper(settings)
    try:
        with pytest.raises(errors.UnsupportedUrl):
            await scraper.scrape(_request(f"{site.base}/page.html"), Progress())
    finally:
        await scraper.aclose()
    # yt-dlp's own requests are checked too (what `generic` would follow).
    with _PublicOnlyYoutubeDL({"quiet": True}) as ydl, pytest.raises(errors.UnsupportedUrl):
        await asyncio.to_thread(ydl.urlopen, f"{site.base}/page.html")
    assert site.requests == []
