"""Video links: which platform a link belongs to, and one canonical form per video.

The canonical form is the deduplication key: the same video submitted as
`https://www.tiktok.com/@chef/video/123?lang=en` and `https://m.tiktok.com/v/123.html`
must find the same unfinished task.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit
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

# C0 controls and DEL: never part of a link (RFC 3986) nor of a usable file path.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

TIKTOK_FORMS = (
    "https://www.tiktok.com/@user/video/<id>, https://m.tiktok.com/v/<id>.html, "
    "https://vm.tiktok.com/<code>, https://vt.tiktok.com/<code>"
)


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
    """A stable key for one video (see module docstring)."""
    url = url.strip()
    video_id = tiktok_video_id(url)
    if video_id:
        return f"tiktok:{video_id}"
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
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))
