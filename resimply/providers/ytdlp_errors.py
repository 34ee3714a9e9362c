"""What yt-dlp's failures mean for a task (`map_error`), and its log hygiene.

    UnsupportedError / no extractor          → unsupported_url
    private post                             → video_not_found
    deleted / unavailable / geo-blocked      → video_not_found
    age wall (needs an adult account)        → video_not_found
    login wall, anonymous rate limit, bot    → scrape_failed, retryable (LOGIN_WALL)
    extractor broke (site changed), crash    → scrape_failed, retryable, one log line
                                               with the yt-dlp version
    network error, HTTP 429 / 5xx            → scrape_failed, retryable
    HTTP 404 / 410                           → video_not_found

yt-dlp's messages are English text (its extractors' own words): they are
matched by exception type first, then by known phrases, and never passed on to
the user (they quote links and upstream text).
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any, cast

import structlog
import yt_dlp.version
from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import (
    DownloadCancelled,
    DownloadError,
    ExtractorError,
    GeoRestrictedError,
    RegexNotFoundError,
    UnsupportedError,
)

from .. import errors
from .ytdlp_formats import EXTRACTOR_PLATFORMS

log = structlog.get_logger(__name__)

YTDLP_VERSION: str = yt_dlp.version.__version__
PLATFORM_NAMES = {
    "tiktok": "TikTok",
    "instagram": "Instagram",
    "youtube": "YouTube",
    "web": "the site",
}
_URL = re.compile(r"https?://[^\s'\"<>]+")

# Walls that the same post may pass later or with the production scraper: an
# anonymous visitor is asked to log in (Instagram rate-limits anonymous reads per
# IP; YouTube asks data-centre IPs to prove they are not a bot). Retryable: the
# user may resubmit later; the operator can route the platform to Apify.
LOGIN_WALL = (
    "rate-limit",
    "login required",
    "log in for access",
    "requiring login",
    "empty media response",
    "not a bot",
    "redirected to the login page",
    "use --cookies",
    "only available for registered users",
    "you need to log in",
)
PRIVATE = (
    "private video",
    "private post",
    "private account",
    "do not have permission to view",
    "who follow this account",
    "restricted video",
)
AGE = ("confirm your age", "age-restricted", "inappropriate for some users", "not be comfortable")
GONE = (
    "video unavailable",
    "not available",
    "unavailable",
    "has been removed",
    "been deleted",
    "does not exist",
    "no longer",
    "not found",
    "account has been terminated",
    "there is no video",
)
BROKEN = ("unable to extract", "please report this issue", "unexpected response")


def map_error(exc: BaseException, platform: str | None = None) -> errors.TaskError:
    """The task error for whatever `extract_info` raised (see module docstring);
    `platform` names the link's platform when the error does not."""
    inner: BaseException = exc
    if isinstance(exc, DownloadError) and exc.exc_info and exc.exc_info[1] is not None:
        inner = exc.exc_info[1]
    if isinstance(inner, DownloadCancelled):
        return errors.Cancelled()
    # A network error arrives bare (yt-dlp keeps the original exception); the
    # extractor is then only named in the message: "ERROR: [Instagram] id: …".
    named = re.match(r"^ERROR: \[([\w.:-]+)\]", str(exc))
    extractor = getattr(inner, "ie", None) or (named.group(1) if named else None)
    site = _platform_name(extractor) or PLATFORM_NAMES.get(platform or "", "the site")
    site_cap = site[0].upper() + site[1:]  # the name at a sentence's start
    if isinstance(inner, UnsupportedError) or "no suitable extractor" in str(exc).lower():
        return errors.UnsupportedUrl(
            "yt-dlp on this server does not read this kind of link; send a link to one video post."
        )
    network = _network_cause(inner)
    text = str(getattr(inner, "orig_msg", None) or inner).lower()
    if isinstance(inner, GeoRestrictedError) or "your country" in text or "your location" in text:
        return errors.VideoNotFound(
            f"{site_cap} does not show this video in the server's country; it cannot be read here."
        )
    if any(p in text for p in PRIVATE):
        return errors.VideoNotFound(
            f"This post is private on {site}; only public posts can be read."
        )
    if any(p in text for p in AGE):
        return errors.VideoNotFound(
            f"{site_cap} shows this post only to logged-in adults; it cannot be read without "
            "an account."
        )
    if any(p in text for p in LOGIN_WALL):
        return errors.ScrapeFailed(
            f"{site_cap} asked for a login to show this post (it may be private, or {site} "
            "is limiting anonymous visits from this server). Try again later; the operator "
            "can set APIFY_API_TOKEN to read it with the production scraper.",
            retryable=True,
        )
    if "ip address is blocked" in text:
        return errors.ScrapeFailed(
            f"{site_cap} is blocking this server's address; try again later.", retryable=True
        )
    if isinstance(network, HTTPError):
        status = network.status
        if status in (404, 410):
            return errors.VideoNotFound(
                f"{site_cap} says this post does not exist (HTTP {status})."
            )
        return errors.ScrapeFailed(
            f"{site_cap} did not answer (HTTP {status}); please try again later.", retryable=True
        )
    if network is not None:
        return errors.ScrapeFailed(
            f"Could not reach {site}; please try again later.", retryable=True
        )
    broken = (
        isinstance(inner, RegexNotFoundError)
        or not isinstance(inner, ExtractorError)
        or not inner.expected
        or any(p in text for p in BROKEN)
    )
    if any(p in text for p in GONE) and not isinstance(inner, RegexNotFoundError):
        return errors.VideoNotFound(
            f"{site_cap} says this post is unavailable: it was deleted, made private, or the "
            "link is wrong."
        )
    if broken:
        # The one line operators need: upgrading yt-dlp usually fixes it.
        log.error(
            "ytdlp extractor failed; upgrade yt-dlp if this persists",
            ytdlp_version=YTDLP_VERSION,
            extractor=_text(extractor),
            error_type=type(inner).__name__,
            text=scrub(str(getattr(inner, "orig_msg", "") or ""))[:200] or None,
        )
        return errors.ScrapeFailed(
            f"Reading {site} posts failed, probably because {site} changed its site; "
            "please try again later.",
            retryable=True,
        )
    return errors.VideoNotFound(
        f"{site_cap} did not give this post to an anonymous visitor; it may be private or deleted."
    )


def _network_cause(exc: BaseException) -> BaseException | None:
    """The HTTP/transport error behind an extractor error, if any."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return None
        if isinstance(seen, (HTTPError, TransportError)):
            return cast(BaseException, seen)  # yt-dlp has no type hints
        cause = getattr(seen, "cause", None)
        exc_info = getattr(seen, "exc_info", None)
        if cause is None and isinstance(exc_info, tuple) and len(exc_info) > 1:
            cause = exc_info[1] if exc_info[1] is not seen else None
        seen = cause if isinstance(cause, BaseException) else seen.__cause__
    return None


def _platform_name(extractor: object) -> str | None:
    key = str(extractor or "").lower()
    if not key:
        return None
    for name, platform in EXTRACTOR_PLATFORMS.items():
        if key.startswith(name.split(".")[-1]):
            return PLATFORM_NAMES[platform]
    return None


def scrub(text: str) -> str:
    """Links reduced to their host: CDN URLs carry signatures and tokens."""

    def host(match: re.Match[str]) -> str:
        parts = urllib.parse.urlsplit(match.group(0))
        return f"{parts.scheme}://{parts.hostname or ''}/…"

    return _URL.sub(host, text)[:500]


def _text(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None
