"""Video links: which platform a link belongs to, and one canonical form per video.

The canonical form is the deduplication key: the same video submitted as
`https://www.tiktok.com/@chef/video/123?lang=en` and `https://m.tiktok.com/v/123.html`
must find the same unfinished task.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

_TIKTOK_VIDEO = re.compile(
    r"^https?://(?:www\.|m\.)?tiktok\.com/(?:@[\w.\-]+/video/|v/|embed/(?:v2/)?)(?P<id>\d{5,25})",
    re.IGNORECASE,
)
_TIKTOK_SHORT = re.compile(
    r"^https?://(?P<host>vm|vt)\.tiktok\.com/(?P<code>[A-Za-z0-9]{5,20})/?(?:[?#].*)?$",
    re.IGNORECASE,
)

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


def is_local_path(url: str) -> bool:
    return url.startswith(("/", "~", "file://"))


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
        path = url.removeprefix("file://")
        return "file://" + str(Path(path).expanduser().resolve())
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default_port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    netloc = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))
