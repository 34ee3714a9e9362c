"""The account-free scraper: yt-dlp reads TikTok, Instagram and YouTube posts.

yt-dlp is used for what it knows — each platform's pages and APIs — and only to
describe the post (`extract_info(download=False)`), limited to the extractors in
`RESIMPLY_YTDLP_EXTRACTORS`. The media and subtitle files are fetched by our own
downloader (`media.download`: size cap, every redirect hop checked against
private addresses, progress), exactly like every other source: the `VideoRef`
carries the chosen format's URL and the headers yt-dlp would have sent.

yt-dlp is blocking. It runs on a small thread pool of its own, under a time
limit. A thread cannot be killed, so a cancelled or timed-out scrape stops
*waiting* at once, and the thread ends soon after: its sockets time out after
`socket_timeout`, retries are few, and the logger hook below raises
`DownloadCancelled` at yt-dlp's next step (it logs before every request).

Failures become task errors in `ytdlp_errors.map_error`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import shutil
import socket
import tempfile
import threading
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog
import yt_dlp
from yt_dlp.extractor import gen_extractor_classes
from yt_dlp.utils import DownloadCancelled

from .. import errors
from ..media.download import download
from ..models import ScrapeRequest
from ..netsafety import PRIVATE_ADDRESS_MESSAGE, ensure_public_url, is_public_address
from ..settings import Settings
from .base import ProgressReporter, ScrapedPost, SubtitleTrack, VideoRef
from .ytdlp_errors import PLATFORM_NAMES, map_error, scrub
from .ytdlp_formats import (
    EXTRACTOR_PLATFORMS,
    choose_format,
    extractor_platforms,
    has_video,
    language_code,
    normalize_link,
    platform_of,
    rank_subtitles,
)

log = structlog.get_logger(__name__)

MAX_THREADS = 8  # concurrent extractions per process (mostly waiting on sockets); more queue
SOCKET_TIMEOUT_S = 15.0
SUBTITLE_MAX_BYTES = 1024 * 1024
SUBTITLE_TIMEOUT_S = 20.0
SUBTITLE_ATTEMPTS = 2  # tracks tried before going on without subtitles


class YtDlpScraper:
    """Describes platform posts with yt-dlp; the media is streamed by `media.download`."""

    name = "ytdlp"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.extractors: tuple[str, ...] = tuple(settings.ytdlp_extractors)
        self.platforms: frozenset[str] = extractor_platforms(self.extractors)
        # The allowed extractors' own URL patterns, for `accepts` (yt-dlp loads
        # them lazily: about half a second, once per process).
        self._extractor_classes = [
            ie
            for ie in gen_extractor_classes()
            if any(re.fullmatch(p, ie.IE_NAME, re.IGNORECASE) for p in self.extractors)
        ]
        self._allow_private = settings.allow_private_urls or settings.dev
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=MAX_THREADS, thread_name_prefix="ytdlp"
        )

    def accepts(self, url: str) -> bool:
        """Links that an allowed extractor takes: a post of an allowed platform,
        not a profile, playlist or hashtag page (regexes only, no network)."""
        if platform_of(url) not in self.platforms:
            return False
        link = normalize_link(url)
        return any(ie.suitable(link) for ie in self._extractor_classes)

    async def scrape(self, request: ScrapeRequest, progress: ProgressReporter) -> ScrapedPost:
        url = request.url.strip()
        platform = platform_of(url)
        if not self.accepts(url):
            names = ", ".join(sorted(PLATFORM_NAMES[p] for p in self.platforms if p != "web"))
            raise errors.UnsupportedUrl(
                f"This server reads links to one video post of {names or 'no platform'}; "
                "profiles, playlists and hashtag pages are not supported."
            )
        assert platform is not None
        if platform == "web" and not self._allow_private:
            await ensure_public_url(url)  # yt-dlp's generic extractor fetches it itself
        label = "" if platform == "web" else f" {PLATFORM_NAMES[platform]}"
        await progress.update(f"Reading the{label} post")
        info = _single_video(await self.extract(normalize_link(url)))
        post = self._post(info, url, request)
        duration = info.get("duration")
        if isinstance(duration, (int, float)) and duration > self.settings.max_duration_s:
            raise errors.VideoTooLarge(
                f"The video is {duration / 60:.0f} minutes long; the limit is "
                f"{self.settings.max_duration_s / 60:.0f} minutes."
            )
        formats = _formats(info)
        if not has_video(formats):
            raise errors.InvalidMedia(
                "This post has no video (a photo post or slideshow); send a link to a video."
            )
        subtitles = await self._subtitles(info, request.language, post.language, progress)
        video = self._video(formats, need_audio=not subtitles)
        await progress.update("Read the post", 1.0)
        return ScrapedPost(
            platform=post.platform,
            url=post.url,
            video=video,
            video_id=post.video_id,
            author=post.author,
            caption=post.caption,
            subtitles=subtitles,
            thumbnail_url=post.thumbnail_url,
            language=post.language,
        )

    async def aclose(self) -> None:
        """Stop taking work; running extractions end on their own socket timeouts."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --- yt-dlp, off the event loop ----------------------------------------------

    async def extract(self, url: str) -> dict[str, Any]:
        """yt-dlp's info dict for `url`, or a `TaskError`."""
        stop = threading.Event()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._extract_sync, url, stop)
        try:
            async with asyncio.timeout(self.settings.ytdlp_timeout_s):
                return await future
        except TimeoutError:
            raise errors.ScrapeFailed(
                f"Reading the post took longer than {self.settings.ytdlp_timeout_s:g} seconds; "
                "please try again later.",
                retryable=True,
            ) from None
        except errors.ResimplyError:
            raise
        except Exception as exc:
            raise map_error(exc, platform_of(url)) from None
        finally:
            stop.set()  # the thread stops at its next step if it is still going

    def _extract_sync(self, url: str, stop: threading.Event) -> dict[str, Any]:
        kind = yt_dlp.YoutubeDL if self._allow_private else _PublicOnlyYoutubeDL
        with kind(self.params(stop)) as ydl:
            info = ydl.extract_info(url, download=False)
            if not isinstance(info, dict):
                raise errors.VideoNotFound("yt-dlp found nothing at this link.")
            return dict(ydl.sanitize_info(info))

    def params(self, stop: threading.Event | None = None) -> dict[str, Any]:
        """yt-dlp options: describe only, no files, no cookies, bounded waits."""
        return {
            "allowed_extractors": list(self.extractors),
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "logger": _Logger(stop or threading.Event()),
            "noplaylist": True,
            "skip_download": True,
            "cachedir": False,  # no signature cache or other files under ~/.cache
            "cookiefile": None,
            "usenetrc": False,
            "socket_timeout": min(SOCKET_TIMEOUT_S, self.settings.http_timeout_s),
            "retries": 1,
            "extractor_retries": 1,
            "check_formats": False,  # no probe requests: we only read the format list
            # We choose the format (`choose_format`); this selector only has to
            # succeed whatever is offered, without asking for ffmpeg merging.
            "format": "best/bestvideo/bestaudio/all",
            # A photo post has no formats: return it so it can be refused clearly.
            "ignore_no_formats_error": True,
            # Extractors only list subtitle tracks when asked to write them; with
            # download=False nothing is written. We fetch the chosen track ourselves.
            "writesubtitles": True,
            "writeautomaticsub": True,
            "getcomments": False,
        }

    # --- the post ------------------------------------------------------------------

    def _post(self, info: Mapping[str, Any], url: str, request: ScrapeRequest) -> ScrapedPost:
        platform = EXTRACTOR_PLATFORMS.get(str(info.get("extractor") or "").lower())
        platform = platform or platform_of(url) or "web"
        web_url = _http(info.get("webpage_url")) or url
        return ScrapedPost(
            platform=platform,
            url=web_url,
            video=VideoRef(),
            video_id=_text(info.get("id")),
            # The handle: Instagram's `uploader` is the full name, `channel` the handle.
            author=(_text(info.get("channel")) if platform == "instagram" else None)
            or _text(info.get("uploader"))
            or _text(info.get("channel"))
            or _text(info.get("uploader_id")),
            caption=_text(request.caption) or caption_of(info),
            thumbnail_url=_http(info.get("thumbnail")),
            language=language_code(_text(info.get("language"))),
        )

    def _video(self, formats: list[Any], *, need_audio: bool) -> VideoRef:
        chosen = choose_format(
            formats, need_audio=need_audio, max_bytes=self.settings.max_video_bytes
        )
        if chosen is None:
            raise errors.InvalidMedia(
                "This video is only offered as a streaming playlist (HLS/DASH), which this "
                "server does not download; try another link to the same video."
            )
        if need_audio and not chosen.has_audio:
            # Split streams only: we take the picture; muxing separately fetched
            # audio would need a second download and ffmpeg.
            log.info("ytdlp video without audio", format_id=chosen.format_id)
        log.info(
            "ytdlp format",
            format_id=chosen.format_id,
            width=chosen.width,
            height=chosen.height,
            audio=chosen.has_audio,
        )
        return VideoRef(url=chosen.url, headers=chosen.headers, allow_private=self._allow_private)

    # --- subtitles -----------------------------------------------------------------

    async def _subtitles(
        self,
        info: Mapping[str, Any],
        requested: str | None,
        original: str | None,
        progress: ProgressReporter,
    ) -> tuple[SubtitleTrack, ...]:
        tracks = rank_subtitles(info, requested, original)
        if not tracks:
            return ()
        await progress.update("Fetching the subtitles")
        for track in tracks[:SUBTITLE_ATTEMPTS]:
            if track.data is not None:
                if track.data.strip():
                    return (
                        SubtitleTrack(language=track.language, text=track.data, origin="platform"),
                    )
                continue
            ref = VideoRef(url=track.url, headers=track.headers, allow_private=self._allow_private)
            try:
                text = await _fetch_small(ref)
            except errors.ResimplyError as exc:  # optional data: never fail the scrape
                log.info("ytdlp subtitles unavailable", language=track.language, reason=exc.code)
                continue
            if text.strip():
                return (SubtitleTrack(language=track.language, text=text, origin="platform"),)
        return ()


async def _fetch_small(ref: VideoRef) -> str:
    """A subtitle file through the SSRF-safe downloader, capped at 1 MiB."""
    folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="resimply-subs-"))
    try:
        path = await download(
            ref,
            folder / "track",
            max_bytes=SUBTITLE_MAX_BYTES,
            timeout_s=SUBTITLE_TIMEOUT_S,
            progress=_Quiet(),
        )
        data = await asyncio.to_thread(path.read_bytes)
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


class _PublicOnlyYoutubeDL(yt_dlp.YoutubeDL):  # type: ignore[misc]
    """Refuses requests to private or local addresses before they are sent.

    Defence in depth: the allowed platform extractors only call their platform's
    public hosts, but an operator may allow `generic`, which follows whatever a
    page embeds. Redirects inside one request are followed by yt-dlp's HTTP
    handler and are not re-checked here (nor is DNS rebinding): keep `generic`
    out of production.
    """

    def urlopen(self, req: Any) -> Any:
        _ensure_public_sync(str(getattr(req, "url", req)))
        return super().urlopen(req)


def _ensure_public_sync(url: str) -> None:
    """`netsafety.ensure_public_url` for yt-dlp's thread (a blocking lookup)."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").strip("[]")
    if parts.scheme not in ("http", "https") or not host:
        raise errors.UnsupportedUrl("Only http:// and https:// links are supported.")
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return  # unresolvable: yt-dlp's own request fails as a network error
    if not any(is_public_address(str(info[4][0])) for info in infos):
        raise errors.UnsupportedUrl(PRIVATE_ADDRESS_MESSAGE)


class _Quiet:
    """Subtitle downloads do not report "Downloading the video"."""

    async def update(self, details: str, fraction: float | None = None) -> None:
        return None


class _Logger:
    """yt-dlp's logger: warnings into structlog (URLs cut to their host, since
    signed CDN links carry tokens), chatter dropped, and a cancellation point —
    yt-dlp logs before each request, so a stopped scrape ends there."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def debug(self, message: str) -> None:
        if self._stop.is_set():
            raise DownloadCancelled("the scrape was cancelled")

    def info(self, message: str) -> None:
        self.debug(message)

    def warning(self, message: str) -> None:
        log.info("ytdlp warning", text=scrub(message))
        self.debug(message)

    def error(self, message: str) -> None:
        return None  # raised as DownloadError right after; mapped by `map_error`


# --- mapping --------------------------------------------------------------------


def caption_of(info: Mapping[str, Any]) -> str | None:
    """The description, led by the title when the title says something else
    (YouTube titles name the dish; TikTok's title is the caption cut short;
    Instagram's is "Video by <user>")."""
    description = _text(info.get("description"))
    title = _text(info.get("title"))
    if title and (
        re.match(r"^(video|post|reel) by ", title, re.IGNORECASE)
        or title == _text(info.get("id"))
        or (description and title.rstrip(".… ") in description)
    ):
        title = None
    parts = [p for p in (title, description) if p]
    return "\n\n".join(parts) or None


def _formats(info: Mapping[str, Any]) -> list[Any]:
    """The offered formats; a single-format post carries its `url` at the top."""
    formats = info.get("formats")
    if isinstance(formats, list):
        return formats
    return [info] if info.get("url") else []


def _single_video(info: dict[str, Any]) -> dict[str, Any]:
    """The video of a post: a carousel (playlist) gives its first video member."""
    if info.get("_type") not in ("playlist", "multi_video"):
        return info
    entries = [e for e in info.get("entries") or [] if isinstance(e, dict)]
    for entry in entries:
        if has_video(_formats(entry)):
            merged = {**info, **{k: v for k, v in entry.items() if v not in (None, "", [])}}
            merged.pop("_type", None)
            merged.pop("entries", None)
            return merged
    raise errors.InvalidMedia(
        "This post is a photo carousel without a video; send a link to a video."
    )


def _http(value: Any) -> str | None:
    text = _text(value)
    if text and urllib.parse.urlsplit(text).scheme in ("http", "https"):
        return text
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None
