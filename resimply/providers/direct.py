"""The local scraper: a web page, a direct media URL, or (in development) a file on disk.

Needs no account and no network beyond the link itself. A link that does not
end like a media file is fetched first (`pages.fetch_page`: SSRF rules, 2 MB,
HTML only): a page with a schema.org Recipe is the answer (no video, no model);
a page that embeds a video gives that video, its caption and subtitle tracks;
anything that is not HTML is taken as the video itself. A local file may
come with sidecars next to it: `<stem>.txt` (the caption) and subtitles as
`<stem>.vtt`, `<stem>.srt` or `<stem>.<lang>.vtt` / `<stem>.<lang>.srt`.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path

import structlog

from .. import errors
from ..links import page_id
from ..models import ScrapeRequest
from ..netsafety import ensure_public_url
from ..pages import PageContent, parse_page
from ..pages.fetch import fetch_page, fetch_small
from ..pages.types import PageVideo
from .base import ProgressReporter, ScrapedPost, SubtitleTrack, VideoRef

log = structlog.get_logger(__name__)

SIDECAR_MAX_BYTES = 1024 * 1024
# Links ending like this are media files: taken as the video without a look first.
MEDIA_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".3gp", ".mpg", ".mpeg")
NO_RECIPE_MESSAGE = (
    "This page has no recipe and no video we can read; share the recipe page or the video link."
)
MAX_SUBTITLE_TRACKS = 10
# Pages of these platforms are not media files; their links need the platform's
# own scraper, so they are left to it (or to a 422 `unsupported_url`).
PLATFORM_HOSTS = ("tiktok.com", "instagram.com", "youtube.com", "youtu.be")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
_SUBTITLE_SUFFIXES = ("vtt", "srt")


class DirectScraper:
    """Scrapes direct http(s) media links and web pages (a written recipe, or the
    video a page embeds), and local files when `dev` is set."""

    name = "direct"
    web_pages = True  # announced by `/capabilities` and the page's hint (routing.py)

    def __init__(self, *, dev: bool, allow_private_urls: bool) -> None:
        self.dev = dev
        self.allow_private_urls = allow_private_urls

    def accepts(self, url: str) -> bool:
        """True for http(s) links with a valid host that is not a video platform's
        page, and, in development mode, for local paths and `file://` URLs."""
        url = url.strip()
        if _is_local(url):
            return self.dev
        host = _http_host(url)
        return host is not None and not _is_platform_host(host)

    async def scrape(self, request: ScrapeRequest, progress: ProgressReporter) -> ScrapedPost:
        """Describe the video behind `request.url` (nothing is downloaded here)."""
        url = request.url.strip()
        if _is_local(url):
            if not self.dev:
                raise errors.UnsupportedUrl(
                    "Local files are only accepted in development mode (RESIMPLY_DEV=1)."
                )
            return await self._scrape_file(url, request, progress)
        host = _http_host(url)
        if host is None or _is_platform_host(host):
            raise errors.UnsupportedUrl("Send a direct link to a video file (http:// or https://).")
        await progress.update("Checking the link")
        allow_private = self.allow_private_urls or self.dev
        if not allow_private:
            await ensure_public_url(url)
        canonical = canonical_url(url)
        if not urllib.parse.urlsplit(url).path.lower().endswith(MEDIA_SUFFIXES):
            page = await self._scrape_page(url, canonical, request, progress, allow_private)
            if page is not None:
                return page
        return ScrapedPost(
            platform="direct",
            url=canonical,
            video=VideoRef(url=url, allow_private=allow_private),
            video_id=_video_id(canonical),
            caption=_clean(request.caption),
        )

    async def _scrape_page(
        self,
        url: str,
        canonical: str,
        request: ScrapeRequest,
        progress: ProgressReporter,
        allow_private: bool,
    ) -> ScrapedPost | None:
        """The post a web page makes; None when the link is not HTML (a video)."""
        got = await fetch_page(url, allow_private=allow_private)
        if got.body is None:
            return None
        await progress.update("Reading the page")
        # Parsing a page of up to 2 MB is CPU work: off the event loop.
        content: PageContent = await asyncio.to_thread(parse_page, got.text(), got.url)
        if content.recipe is not None:
            recipe = content.recipe
            source = recipe.source
            return ScrapedPost(
                platform="page",
                url=canonical,
                video=VideoRef(allow_private=allow_private),
                video_id=page_key(url, canonical),
                author=source.author if source else None,
                thumbnail_url=source.thumbnail_url if source else None,
                language=recipe.language,
                recipe=recipe,
            )
        if content.video is None:
            raise errors.NotARecipe(NO_RECIPE_MESSAGE)
        video = content.video
        return ScrapedPost(
            platform="page",
            url=canonical,
            video=VideoRef(url=video.url, allow_private=allow_private),
            video_id=page_key(url, canonical),
            caption=_clean(request.caption) or video.description,
            subtitles=await _tracks(video, allow_private),
            thumbnail_url=video.thumbnail_url,
            language=content.language,
        )

    async def _scrape_file(
        self, url: str, request: ScrapeRequest, progress: ProgressReporter
    ) -> ScrapedPost:
        await progress.update("Reading the local video file")
        path = await asyncio.to_thread(_resolve, _local_path(url))
        if not await asyncio.to_thread(path.is_file):
            raise errors.VideoNotFound(f"There is no video file at {path}.")
        caption = _clean(request.caption)
        if caption is None:
            caption = _clean(await asyncio.to_thread(_read_sidecar, path.with_suffix(".txt")))
        subtitles = await asyncio.to_thread(_subtitle_sidecars, path)
        canonical = path.as_uri()
        return ScrapedPost(
            platform="direct",
            url=canonical,
            video=VideoRef(path=path),
            video_id=_video_id(canonical),
            caption=caption,
            subtitles=subtitles,
        )

    async def aclose(self) -> None:
        """Nothing to release."""


def canonical_url(url: str) -> str:
    """The form of a link used to recognise the same video twice.

    http(s): scheme and host lowercased, default port, fragment and credentials
    dropped, empty path as `/`. Local paths (and `file://` URLs): the absolute,
    resolved `file://` URL.
    """
    url = url.strip()
    if _is_local(url):
        return _resolve(_local_path(url)).as_uri()
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return urllib.parse.urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _is_local(url: str) -> bool:
    return url.startswith(("/", "~")) or url.lower().startswith("file:")


def _local_path(url: str) -> Path:
    if url.lower().startswith("file:"):
        parts = urllib.parse.urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise errors.UnsupportedUrl("Only file:// URLs of this machine are supported.")
        path = urllib.request.url2pathname(parts.path)
    else:
        path = url
    # The OS cannot take a NUL in a path (`open()` raises ValueError, not OSError).
    if "\x00" in path:
        raise errors.UnsupportedUrl("A local file path cannot contain a NUL character.")
    return Path(path).expanduser()


def _resolve(path: Path) -> Path:
    return path.expanduser().resolve()


def _http_host(url: str) -> str | None:
    """The lowercased host of a syntactically valid http(s) URL, else None."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or any(c.isspace() for c in url):
        return None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return None
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_host.split(".")
    return host if all(_HOST_LABEL.match(label) for label in labels) else None


def _is_platform_host(host: str) -> bool:
    return any(host == p or host.endswith("." + p) for p in PLATFORM_HOSTS)


def _video_id(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def page_key(url: str, canonical: str) -> str:
    """A page's id as the extraction cache looks it up before any scrape
    (`links.page_id`: its URL without tracking parameters), so a page shared
    again is served from the cache."""
    return page_id(url) or _video_id(canonical)


def _clean(text: str | None) -> str | None:
    text = (text or "").strip()
    return text or None


def _read_sidecar(path: Path) -> str | None:
    """The text of a sidecar file, or None when missing or over the size cap."""
    try:
        with path.open("rb") as file:
            data = file.read(SIDECAR_MAX_BYTES + 1)
    except OSError:
        return None  # missing or unreadable: the sidecar is optional
    if len(data) > SIDECAR_MAX_BYTES:
        return None  # not a plausible caption or subtitle file
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8-sig", errors="replace")


def _subtitle_sidecars(video: Path) -> tuple[SubtitleTrack, ...]:
    """Subtitle files named after the video: untagged first, then by name."""
    prefix = video.stem + "."
    found: list[tuple[str | None, Path]] = []
    try:
        entries = list(os.scandir(video.parent))
    except OSError:
        return ()
    for entry in entries:
        if not entry.name.startswith(prefix) or entry.name == video.name:
            continue
        rest = entry.name[len(prefix) :]
        language: str | None = None
        if rest.lower() not in _SUBTITLE_SUFFIXES:
            language, _, suffix = rest.rpartition(".")
            if suffix.lower() not in _SUBTITLE_SUFFIXES or not _LANGUAGE.match(language):
                continue
        found.append((language, Path(entry.path)))
    found.sort(key=lambda item: (item[0] is not None, item[1].name))
    tracks = []
    for language, path in found[:MAX_SUBTITLE_TRACKS]:
        text = _read_sidecar(path)
        if text and text.strip():
            tracks.append(SubtitleTrack(language=language, text=text, origin="sidecar"))
    return tuple(tracks)


async def _tracks(video: PageVideo, allow_private: bool) -> tuple[SubtitleTrack, ...]:
    """The page's <track> files; one that cannot be fetched is skipped (they are a bonus)."""
    tracks = []
    for link in video.tracks:
        try:
            data = await fetch_small(
                link.url, allow_private=allow_private, accept=lambda _content_type: True
            )
        except errors.TaskError as exc:
            log.info("page_track_skipped", error=exc.code)
            continue
        text = data.decode("utf-8-sig", errors="replace")
        if text.strip():
            tracks.append(SubtitleTrack(language=link.language, text=text, origin="sidecar"))
    return tuple(tracks)
