"""What a page holds, as plain values (no parser imports: the web process loads this)."""

from __future__ import annotations

import dataclasses

from ..models import Recipe


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrackLink:
    url: str
    language: str | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PageVideo:
    url: str
    tracks: tuple[TrackLink, ...] = ()
    description: str | None = None  # og:description / meta description: the caption
    thumbnail_url: str | None = None  # og:image, VideoObject.thumbnailUrl, <video poster>
    title: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PageContent:
    recipe: Recipe | None = None
    video: PageVideo | None = None
    language: str | None = None  # <html lang>, for the video path
