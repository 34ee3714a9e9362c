"""Links: which platform a link belongs to, and one canonical form per post or page.

This module is the one place that knows the platforms (`PLATFORMS`): the
router (`providers.routing`), the 422 messages, `/capabilities`, the
deduplication key and the extraction cache all ask it.

The canonical form is the deduplication key: the same video submitted as
`https://www.tiktok.com/@chef/video/123?lang=en` and `https://m.tiktok.com/v/123.html`
must find the same unfinished task; likewise `instagram.com/reel/<code>/?igsh=…`
and `www.instagram.com/p/<code>`, `youtu.be/<id>?si=…` and
`youtube.com/shorts/<id>`. Any other web link is keyed by its URL with the
tracking parameters (`utm_*`, `fbclid`, …) removed and the rest sorted.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit
from urllib.request import url2pathname

from .errors import UnsupportedUrl

_TIKTOK_VIDEO = re.compile(
    r"^https?://(?:www\.|m\.)?tiktok\.com/(?:@[\w.\-]+/video/|v/|embed/(?:v2/)?)(?P<id>\d{5,25})",
    re.IGNORECASE,
)
_TIKTOK_SHORT = re.compile(
    r"^https?://(?P<host>vm|vt)\.tiktok\.com/(?P<code>[A-Za-z0-9]{5,20})/?(?:[?#].*)?$",
    re.IGNORECASE,
)

# Reels, video posts and IGTV; the owner's name may come first
# (instagram.com/<user>/reel/<code>). "reels/audio/<id>" is a sound page, not a post.
_INSTAGRAM_POST = re.compile(
    r"^https?://(?:www\.|m\.)?instagram\.com/(?:[A-Za-z0-9_.]{1,30}/)?"
    r"(?:reels?|p|tv)/(?!audio/)(?P<code>[A-Za-z0-9_-]{5,40})(?:[/?#].*)?$",
    re.IGNORECASE,
)
_YOUTUBE_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"})
_YOUTUBE_NOCOOKIE = frozenset({"youtube-nocookie.com", "www.youtube-nocookie.com"})
_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_YOUTUBE_PATH = re.compile(r"^/(?:shorts|embed|live|v)/(?P<id>[A-Za-z0-9_-]{11})(?:/.*)?$")

Platform = Literal["tiktok", "instagram", "youtube"]
PLATFORMS: tuple[Platform, ...] = ("tiktok", "instagram", "youtube")
PLATFORM_NAMES: dict[str, str] = {
    "tiktok": "TikTok",
    "instagram": "Instagram",
    "youtube": "YouTube",
}
# What each platform's links look like, for messages to clients.
PLATFORM_FORMS: dict[str, str] = {
    "tiktok": "TikTok videos (www., m., vm. or vt.tiktok.com)",
    "instagram": "Instagram Reels and video posts (instagram.com/reel/…, /p/…, /tv/…)",
    "youtube": "YouTube Shorts and videos (youtube.com/shorts/…, watch?v=…, youtu.be/…)",
}

# Query parameters that say where a link was shared from, not what it names.
_TRACKING = frozenset(
    {
        "igsh", "igshid", "si", "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid",
        "yclid", "twclid", "ttclid", "mc_cid", "mc_eid", "ref", "ref_src", "ref_url", "_ga",
        "_gl", "spm", "share_id", "trk", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id",
        "_hsenc", "_hsmi", "hsctatracking",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")

# C0 controls and DEL: never part of a link (RFC 3986) nor of a usable file path.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

TIKTOK_FORMS = (
    "https://www.tiktok.com/@user/video/<id>, https://m.tiktok.com/v/<id>.html, "
    "https://vm.tiktok.com/<code>, https://vt.tiktok.com/<code>"
)


def instagram_code(url: str) -> str | None:
    """The shortcode of an Instagram Reel / post / IGTV link (case matters in it)."""
    match = _INSTAGRAM_POST.match(url.strip())
    return match.group("code") if match else None


def youtube_video_id(url: str) -> str | None:
    """The 11-character id of a YouTube watch, Shorts, embed, live or youtu.be link."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    host = (parts.hostname or "").lower().rstrip(".")
    candidate: str | None = None
    if host == "youtu.be":
        candidate = parts.path.strip("/").split("/", 1)[0]
    elif host in _YOUTUBE_HOSTS or host in _YOUTUBE_NOCOOKIE:
        if parts.path.rstrip("/") == "/watch" and host in _YOUTUBE_HOSTS:
            candidate = next((v for k, v in parse_qsl(parts.query) if k == "v"), None)
        else:
            match = _YOUTUBE_PATH.match(parts.path)
            candidate = match.group("id") if match else None
    return candidate if candidate and _YOUTUBE_ID.match(candidate) else None


def platform_of(url: str) -> Platform | None:
    """The platform whose post `url` names, or None (a web page, a media file, a path)."""
    if is_tiktok_link(url):
        return "tiktok"
    if instagram_code(url):
        return "instagram"
    if youtube_video_id(url):
        return "youtube"
    return None


def post_id(url: str) -> tuple[Platform, str] | None:
    """(platform, canonical post id) when the link itself names the post.

    A TikTok short link names its post only after a redirect: None.
    """
    video_id = tiktok_video_id(url)
    if video_id:
        return ("tiktok", video_id)
    code = instagram_code(url)
    if code:
        return ("instagram", code)
    yt = youtube_video_id(url)
    if yt:
        return ("youtube", yt)
    return None


def page_id(url: str) -> str | None:
    """A short stable id of a web link (not a platform post): the hash of its
    canonical URL, for the extraction cache's key of a page."""
    if platform_of(url) or is_local_path(url.strip()):
        return None
    key = canonical_link(url)
    if not key.startswith(("http://", "https://")):
        return None
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _is_tracking(name: str) -> bool:
    name = unquote(name).lower()
    return name in _TRACKING or name.startswith(_TRACKING_PREFIXES)


def _clean_query(query: str) -> str:
    """The query without tracking parameters, the rest sorted (as sent, not re-encoded)."""
    pairs = [p for p in query.split("&") if p and not _is_tracking(p.split("=", 1)[0])]
    return "&".join(sorted(pairs))


def tiktok_video_id(url: str) -> str | None:
    match = _TIKTOK_VIDEO.match(url.strip())
    return match.group("id") if match else None


def is_tiktok_link(url: str) -> bool:
    url = url.strip()
    return bool(_TIKTOK_VIDEO.match(url) or _TIKTOK_SHORT.match(url))


def link_problem(url: str) -> str | None:
    """Why `url` cannot be a video link or path at all, as a client-facing message.

    A NUL would reach `open()` as "embedded null byte" (a 500, issue 11); other
    control characters make a URL that no provider accepts, so the client is
    told here, with a 400, instead of by a failed task.
    """
    if _CONTROL.search(url):
        return (
            '"url" must not contain control characters such as NUL (\\u0000) or line '
            "breaks; send the link as it appears in the address bar."
        )
    if url.lower().startswith("file:") and _CONTROL.search(unquote(url)):
        return '"url" must not contain encoded control characters such as %00; send a file path.'
    return None


def is_local_path(url: str) -> bool:
    # As the direct scraper reads them: any case of "file:" (providers/direct.py).
    return url.startswith(("/", "~")) or url[:5].lower() == "file:"


def canonical_link(url: str) -> str:
    """A stable key for one post, page or file (see module docstring)."""
    url = url.strip()
    found = post_id(url)
    if found:
        return f"{found[0]}:{found[1]}"
    short = _TIKTOK_SHORT.match(url)
    if short:
        return f"tiktok-short:{short.group('host').lower()}/{short.group('code')}"
    if is_local_path(url):
        try:
            path = url2pathname(urlsplit(url).path) if url[:5].lower() == "file:" else url
            return "file://" + str(Path(path).expanduser().resolve())
        except (ValueError, RuntimeError):  # a NUL, "~someone" of no user here, a symlink loop
            raise UnsupportedUrl("This is not the path of a file on this machine.") from None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port out of range, a broken IPv6 literal: the link is its own key
        return url
    host = (parts.hostname or "").lower()
    default_port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    scheme = parts.scheme.lower()
    query = _clean_query(parts.query) if scheme in ("http", "https") else parts.query
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))
