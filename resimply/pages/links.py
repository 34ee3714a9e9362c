"""Links in a video's caption that may lead to the written recipe ("full recipe: https://…").

Only http(s) links; links to video platforms and link hubs (linktr.ee and the
like) are skipped: they hold no Recipe data, and following a hub's links would
fan out. At most `MAX_LINKS`, first those next to a word like "recipe".
"""

from __future__ import annotations

import re
import urllib.parse

MAX_LINKS = 2
_URL = re.compile(r"https?://[^\s<>\"'()\[\]{}]+", re.I)
_RECIPE_WORD = re.compile(r"recipe|rezept|ricetta|receta|recette", re.I)
SKIPPED_HOSTS = (
    "tiktok.com",
    "instagram.com",
    "youtube.com",
    "youtu.be",
    "facebook.com",
    "fb.watch",
    "x.com",
    "twitter.com",
    "pinterest.com",
    "pin.it",
    "linktr.ee",
    "linkin.bio",
    "beacons.ai",
    "lnk.bio",
    "campsite.bio",
    "bio.link",
    "stan.store",
    "amazon.com",
    "amzn.to",
)


def recipe_links(caption: str | None) -> list[str]:
    """Up to `MAX_LINKS` links of `caption` worth fetching, best first."""
    if not caption:
        return []
    found: list[tuple[bool, int, str]] = []
    for match in _URL.finditer(caption):
        url = match.group().rstrip(".,;:!?…")
        host = (urllib.parse.urlsplit(url).hostname or "").lower()
        if not host or any(host == h or host.endswith("." + h) for h in SKIPPED_HOSTS):
            continue
        if any(url == u for _, _, u in found):
            continue
        before = caption[max(0, match.start() - 40) : match.start()]
        found.append((not _RECIPE_WORD.search(before), match.start(), url))
    found.sort()
    return [url for _, _, url in found[:MAX_LINKS]]
