"""A page without Recipe data may embed the video that shows it.

Where the video is, in the order we trust it: `og:video:secure_url` /
`og:video:url` / `og:video`, a schema.org `VideoObject.contentUrl` (JSON-LD or
microdata), then `<video src>` and its `<source src>` children. extruct reads
the Open Graph and schema.org data; the `<video>` and `<track>` elements come
from the same lxml tree. Every URL is resolved against the page's URL; they
are fetched later with the SSRF rules of the download step.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

import extruct
from lxml.html import HtmlElement

from .links import SKIPPED_HOSTS
from .types import PageVideo, TrackLink

_OG_VIDEO = ("og:video:secure_url", "og:video:url", "og:video")
_TRACK_KINDS = frozenset({"captions", "subtitles"})
MAX_TRACKS = 5
# Embeds of a platform's player page (YouTube iframes in og:video) are pages, not media.
_PLAYER_PATHS = ("/embed/", "/player/")


def find_video(tree: HtmlElement, url: str) -> PageVideo | None:
    """The page's video, or None when it embeds none we could download."""
    data = extruct.extract(
        tree,
        base_url=url,
        syntaxes=["opengraph", "json-ld", "microdata"],
        uniform=True,
        # A broken JSON-LD block (common) must not hide the Open Graph tags.
        errors="ignore",
    )
    og: dict[str, Any] = {}
    for item in data.get("opengraph", []):
        og.update({k: v for k, v in item.items() if isinstance(v, str)})
    objects = list(_video_objects([*data.get("json-ld", []), *data.get("microdata", [])]))
    video_elements = tree.xpath("//video")

    candidates = [og.get(key) for key in _OG_VIDEO]
    candidates += [_url_of(o.get("contentUrl")) for o in objects]
    for video in video_elements:
        candidates.append(video.get("src"))
        candidates += [source.get("src") for source in video.xpath(".//source")]
    video_url = next((u for c in candidates if (u := _resolve(url, c)) and _is_media(u)), None)
    if video_url is None:
        return None

    tracks = []
    for track in tree.xpath("//video//track"):
        kind = (track.get("kind") or "subtitles").lower()
        src = _resolve(url, track.get("src"))
        if kind in _TRACK_KINDS and src:
            tracks.append(TrackLink(url=src, language=track.get("srclang") or None))
    description = og.get("og:description") or _meta(tree, "description")
    thumbnail = og.get("og:image") or next(
        (_url_of(o.get("thumbnailUrl")) for o in objects if o.get("thumbnailUrl")), None
    )
    if thumbnail is None and video_elements:
        thumbnail = video_elements[0].get("poster")
    title = og.get("og:title") or next((o["name"] for o in objects if _is_str(o.get("name"))), None)
    return PageVideo(
        url=video_url,
        tracks=tuple(tracks[:MAX_TRACKS]),
        description=(description or "").strip() or None,
        thumbnail_url=_resolve(url, thumbnail),
        title=title.strip() if isinstance(title, str) and title.strip() else None,
    )


def _video_objects(items: list[Any]) -> Iterator[dict[str, Any]]:
    """VideoObjects among extruct's items, also inside `@graph` and nested values
    (a Recipe-less Article's `video`)."""
    for item in items:
        if isinstance(item, list):
            yield from _video_objects(item)
        elif isinstance(item, dict):
            kind = item.get("@type")
            if kind == "VideoObject" or (isinstance(kind, list) and "VideoObject" in kind):
                yield item
            yield from _video_objects([v for v in item.values() if isinstance(v, (dict, list))])


def _url_of(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("@id")
    return value if isinstance(value, str) else None


def _is_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _meta(tree: HtmlElement, name: str) -> str | None:
    for meta in tree.xpath("//meta[@name]"):
        if (meta.get("name") or "").lower() == name:
            content = meta.get("content")
            return content if isinstance(content, str) else None
    return None


def _resolve(base: str, link: str | None) -> str | None:
    if not link or not link.strip():
        return None
    resolved = urllib.parse.urljoin(base, link.strip())
    return resolved if urllib.parse.urlsplit(resolved).scheme in ("http", "https") else None


def _is_media(url: str) -> bool:
    """Not a player page: an embed path, or a video platform / hub (their pages
    are HTML, which the download step would refuse)."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if any(host == h or host.endswith("." + h) for h in SKIPPED_HOSTS):
        return False
    return not any(p in parts.path for p in _PLAYER_PATHS)
