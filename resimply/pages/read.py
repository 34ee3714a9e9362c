"""One HTML page → its recipe, or its video. CPU work: callers run it in a thread."""

from __future__ import annotations

import dataclasses

import lxml.etree
import lxml.html

from ..models import Recipe
from .recipe_data import read_recipe
from .video_links import PageVideo, find_video


@dataclasses.dataclass(frozen=True, kw_only=True)
class PageContent:
    recipe: Recipe | None = None
    video: PageVideo | None = None
    language: str | None = None  # <html lang>, for the video path


def read_page(page_html: str, url: str, *, want_video: bool = True) -> PageContent:
    """The page's schema.org Recipe if it has one, else (when `want_video`) the video it embeds."""
    recipe = read_recipe(page_html, url)
    if recipe is not None or not want_video or not page_html.strip():
        return PageContent(recipe=recipe, language=recipe.language if recipe else None)
    try:
        tree = lxml.html.document_fromstring(page_html)
    except (lxml.etree.ParserError, ValueError):
        return PageContent()
    lang = (tree.get("lang") or "").split("-")[0].lower() or None
    return PageContent(video=find_video(tree, url), language=lang)
