"""Web pages: a recipe page read from its schema.org data, or a page that embeds a video.

    fetch.py        the SSRF-safe GET for pages, images and subtitle tracks (size cap, timeout)
    recipe_data.py  schema.org Recipe (through recipe-scrapers) → models.Recipe
    video_links.py  og:video, <video>/<source>, VideoObject, <track>, og:description
    read.py         one HTML page → what it holds (CPU work: run in a thread)
    types.py        PageContent, PageVideo: what read.py returns
    links.py        links to a written recipe found in a video's caption
    images.py       a page's picture → a JPEG thumbnail

The parsers (extruct with rdflib, recipe-scrapers) take about a second to
import: `parse_page` imports them on the first page, in the thread it runs in,
so the web process (which only asks `DirectScraper.accepts`) never loads them.
"""

from __future__ import annotations

from .types import PageContent


def parse_page(page_html: str, url: str, *, want_video: bool = True) -> PageContent:
    """`read.read_page`, imported on first use. Blocking: call it in a thread."""
    from .read import read_page

    return read_page(page_html, url, want_video=want_video)


__all__ = ["PageContent", "parse_page"]
