"""One HTML page → its recipe, or its video. CPU work: callers run it in a thread.

The page is parsed once with lxml (fast, C). extruct looks on that tree for a
schema.org Recipe (JSON-LD or microdata, the syntaxes recipe-scrapers reads);
only a page that has one is handed to recipe-scrapers, whose BeautifulSoup
uses Python's own `html.parser`: seconds for a large page (a 1.7 MB page with
no recipe took 9 s before this check). A large page is handed over reduced to
what the recipe is read from: `<html lang>`, the head's `<title>`, `<meta>`,
`<link>` and JSON-LD, and the microdata Recipe elements.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from copy import deepcopy
from typing import Any

import extruct
import lxml.etree
import lxml.html
from lxml.html import HtmlElement

from .recipe_data import read_recipe
from .types import PageContent
from .video_links import find_video

# Up to this size recipe-scrapers sees the whole page (its HTML plugins find
# ingredient groups in the body); beyond, the reduced page.
FULL_PAGE_CHARS = 512 * 1024
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def read_page(page_html: str, url: str, *, want_video: bool = True) -> PageContent:
    """The page's schema.org Recipe if it has one, else (when `want_video`) the video it embeds."""
    # lxml (and so extruct) refuses a str that declares an encoding (XHTML pages).
    page_html = _XML_DECLARATION.sub("", page_html, count=1)
    if not page_html.strip():
        return PageContent()
    try:
        tree = lxml.html.document_fromstring(page_html)
    except (lxml.etree.ParserError, ValueError):
        return PageContent()
    lang = (tree.get("lang") or "").split("-")[0].lower() or None
    data = extruct.extract(
        tree, base_url=url, syntaxes=["json-ld", "microdata"], uniform=True, errors="ignore"
    )
    if _has_recipe([*data.get("json-ld", []), *data.get("microdata", [])]):
        source = page_html if len(page_html) <= FULL_PAGE_CHARS else _reduced(tree)
        recipe = read_recipe(source, url)
        if recipe is not None:
            return PageContent(recipe=recipe, language=recipe.language or lang)
    if not want_video:
        return PageContent(language=lang)
    return PageContent(video=find_video(tree, url), language=lang)


def _has_recipe(items: Iterable[Any]) -> bool:
    """A Recipe among extruct's items, at the top, in a list or in `@graph`."""
    for item in items:
        if isinstance(item, list) and _has_recipe(item):
            return True
        if isinstance(item, dict):
            kind = item.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            if any(isinstance(k, str) and k.rsplit("/", 1)[-1] == "Recipe" for k in kinds):
                return True
            if _has_recipe([item.get("@graph") or []]):
                return True
    return False


def _reduced(tree: HtmlElement) -> str:
    """The page cut down to what recipe-scrapers reads in wild mode."""
    html = lxml.html.Element("html")
    if tree.get("lang"):
        html.set("lang", tree.get("lang") or "")
    head = lxml.etree.SubElement(html, "head")
    body = lxml.etree.SubElement(html, "body")
    for element in tree.xpath("//head/title | //head/meta | //head/link"):
        head.append(_copy(element))
    for script in tree.xpath("//script"):
        if (script.get("type") or "").split(";")[0].strip().lower() == "application/ld+json":
            head.append(_copy(script))
    for element in tree.xpath("//*[@itemscope][contains(@itemtype, 'Recipe')]"):
        if not element.xpath("ancestor::*[@itemscope][contains(@itemtype, 'Recipe')]"):
            body.append(_copy(element))
    return str(lxml.html.tostring(html, encoding="unicode"))


def _copy(element: HtmlElement) -> HtmlElement:
    copy: HtmlElement = deepcopy(element)
    copy.tail = None
    return copy
