"""Tags from hashtags: lowercased, without '#', without reach-farming noise.

Tags that say nothing about the dish are dropped: platform noise (#fyp,
#foryou, #viral, #tiktok, #fürdich, #explore, #reels…) and #recipe / #rezept,
since every recipe is one. Food communities (#foodtok, #easyrecipe) are kept.
"""

from __future__ import annotations

from .text import hashtags, word_set

NOISE = word_set("""fyp fy fypage fypシ foryou foryoupage fürdich fürdichseite fyi viral viralvideo
    trending trend tiktok tiktokviral explore explorepage reels reel instagood
    recipe recipes rezept rezepte xyzbca""")
_NOISE_PARTS = ("fyp", "foryou", "fürdich", "viral")


def is_noise(tag: str) -> bool:
    """True for a hashtag that says nothing about the dish."""
    return tag in NOISE or any(part in tag for part in _NOISE_PARTS)


def find_tags(text: str | None) -> list[str]:
    """The caption's hashtags as tags, lowercased, deduplicated, noise removed."""
    tags: list[str] = []
    for tag in hashtags(text or ""):
        tag = tag.lower().strip("_")
        if tag and not is_noise(tag) and tag not in tags:
            tags.append(tag)
    return tags
