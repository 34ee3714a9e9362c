"""The recipe's title: a "Recipe: X" line, else the caption's heading line, else
what the speaker says they are making ("today we're making carbonara")."""

from __future__ import annotations

import re

from .text import clean_line, remove_hashtags, split_sentences, subtitle_lines, word_count

_NAMED = re.compile(r"^(?:recipe|rezept)\s*[:\-–—]\s*(?P<title>.+)$", re.IGNORECASE)
_LONG = 80
_META_PARENTHESES = re.compile(
    r"\s*\((?=[^)]*(?:\d|serves|portion))[^)]*(?:serves|servings|portion|personen|people|"
    r"min|std|hour|stunde)[^)]*\)",
    re.IGNORECASE,
)
_SPOKEN = re.compile(
    r"\b(?:today,? (?:we're|we are|i'm|i am|let's be|we'll be|i'll be) (?:making|cooking|baking)"
    r"|let's (?:make|cook|bake)|how to make|this is how (?:i|you) make"
    r"|heute (?:machen|kochen|backen) wir|heute (?:mache|koche|backe) ich"
    r"|heute gibt es|heute gibt's)\s+"
    r"(?:(?:a|an|some|my|the|our|this|ein|eine|einen|mein|meine|unsere?n?)\s+)?"
    r"(?P<title>[^.!?,;]{3,60})",
    re.IGNORECASE,
)


def tidy_title(line: str) -> str:
    """A caption line as a title: no emoji, hashtags or trailing punctuation."""
    return remove_hashtags(clean_line(line)).strip(" .,:;!?-–—|")


def named_title(line: str) -> str | None:
    """X for a line "Recipe: X" / "Rezept: X", else None."""
    match = _NAMED.match(clean_line(line))
    if not match:
        return None
    return tidy_title(match.group("title")) or None


def split_title(line: str) -> tuple[str, str | None]:
    """The title of a heading line, and what follows its first sentence
    ("The easiest pasta ever!! Only 5 ingredients" → title, rest)."""
    text = remove_hashtags(clean_line(line))
    # "(serves 4)", "(20 min)": stated elsewhere in the recipe, not part of the name.
    text = _META_PARENTHESES.sub("", text).strip()
    sentences = split_sentences(text)
    if len(sentences) > 1 and (len(text) > _LONG or word_count(sentences[0]) >= 3):
        rest = text[len(sentences[0]) :].strip()
        return sentences[0].strip(" .,:;!?-–—|"), rest or None
    return text.strip(" .,:;!?-–—|"), None


def spoken_title(*texts: str | None) -> str | None:
    """The dish a speaker announces ("today we're making spaghetti carbonara"), else None."""
    for text in texts:
        if not text:
            continue
        match = _SPOKEN.search(" ".join(subtitle_lines(text)))
        if match:
            title = match.group("title").strip()
            return title[:1].upper() + title[1:]
    return None
