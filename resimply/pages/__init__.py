"""Web pages: a recipe page read from its schema.org data, or a page that embeds a video.

fetch.py        the SSRF-safe GET for pages, images and subtitle tracks (size cap, timeout)
recipe_data.py  schema.org Recipe (through recipe-scrapers) → models.Recipe
video_links.py  og:video, <video>/<source>, VideoObject, <track>, og:description
read.py         one HTML page → what it holds (run in a thread: it is CPU work)
links.py        links to a written recipe found in a video's caption
"""

from .fetch import Fetched, fetch, fetch_page
from .read import PageContent, read_page

__all__ = ["Fetched", "PageContent", "fetch", "fetch_page", "read_page"]
