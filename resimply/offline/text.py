"""Cleaning the raw text of captions and subtitles: emoji, bullets, hashtags, sentences."""

from __future__ import annotations

import html
import re
import unicodedata

# Symbols that are "Symbol, other" like emoji but carry meaning in a recipe.
_KEEP_SYMBOLS = frozenset("°℃℉")
_EMOJI_JOINERS = frozenset("\ufe0e\ufe0f\u200d\u20e3")

_KEYCAPS = re.compile(r"(?:[0-9#*]\ufe0f?\u20e3)+|\U0001f51f")
_BULLETS = re.compile(r"^[\s\-–—•·*▪◦‣⁃>→»~+|_=]+")
_TRAILING_DECORATION = re.compile(r"[\s*_~=—–|-]+$")
_HASHTAG = re.compile(r"#(\w+)")
_SPACES = re.compile(r"[ \t\u00a0\u2009\u202f]+")


def word_set(words: str) -> frozenset[str]:
    """A frozen set of whitespace-separated words (keeps long word lists readable)."""
    return frozenset(words.split())


# Words whose final period is an abbreviation dot, not the end of a sentence.
_ABBREVIATIONS = word_set(
    "ca approx z.b bzw min mins std el tl g ml pck msp stk st usw etc evtl ggf "
    "tbsp tsp oz lb lbs nr no vs dr mr mrs gr kg"
)


def _is_emoji(char: str) -> bool:
    if char in _KEEP_SYMBOLS:
        return False
    if char in _EMOJI_JOINERS:
        return True
    code = ord(char)
    # Emoji newer than this Python's Unicode database are unassigned ("Cn")
    # to `unicodedata`, so the emoji planes are matched by range as well.
    if 0x1F000 <= code <= 0x1FAFF or 0xE0000 <= code <= 0xE007F:
        return True
    category = unicodedata.category(char)
    return category == "So" or (category == "Sk" and 0x1F3FB <= code <= 0x1F3FF)


class _EmojiTable(dict[int, int | None]):
    """A `str.translate` table deleting emoji, filled as characters are first seen:
    the per-character test then runs once per distinct character, not per use."""

    LIMIT = 65_536  # distinct characters remembered; past that, tested every time

    def __missing__(self, code: int) -> int | None:
        kept = None if _is_emoji(chr(code)) else code
        if len(self) < self.LIMIT:
            self[code] = kept
        return kept


_EMOJI_TABLE = _EmojiTable()


def _keycap(match: re.Match[str]) -> str:
    if match.group() == "\U0001f51f":
        return "10."
    digits = "".join(c for c in match.group() if c.isdigit())
    return digits + "." if digits else ""


def strip_emoji(text: str) -> str:
    """Remove emoji and pictographs (keycap digits become "1.", as in "1️⃣ Boil")."""
    if text.isascii():
        return text  # most lines: no emoji, no keycaps
    return _KEYCAPS.sub(_keycap, text).translate(_EMOJI_TABLE)


def normalize_spaces(text: str) -> str:
    """Collapse runs of spaces and tabs and trim the ends."""
    return _SPACES.sub(" ", text).strip()


def clean_line(line: str) -> str:
    """A caption line without emoji, leading bullets, markdown emphasis or extra spaces."""
    line = normalize_spaces(strip_emoji(line))
    line = _BULLETS.sub("", line)
    line = _TRAILING_DECORATION.sub("", line)
    return normalize_spaces(line)


def hashtags(text: str) -> list[str]:
    """The hashtags of `text` without the '#', in order of appearance."""
    return _HASHTAG.findall(text)


def remove_hashtags(text: str) -> str:
    """`text` with every hashtag removed."""
    return normalize_spaces(_HASHTAG.sub(" ", text))


def is_hashtag_line(line: str) -> bool:
    """True when the line holds hashtags (and maybe emoji or punctuation) only."""
    if "#" not in line:
        return False
    rest = remove_hashtags(strip_emoji(line))
    return not any(c.isalnum() for c in rest)


def word_count(text: str) -> int:
    """The number of whitespace-separated words."""
    return len(text.split())


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences at '.', '!' and '?', sparing abbreviations ("ca.", "Min.")."""
    sentences: list[str] = []
    start = 0
    for match in re.finditer(r"[.!?…]+(?=\s+|$)", text):
        before = text[start : match.start()].rsplit(None, 1)
        last_word = before[-1].lower() if before else ""
        if match.group() == "." and (
            last_word in _ABBREVIATIONS or (last_word.isdigit() and len(last_word) <= 2)
        ):
            continue
        sentence = text[start : match.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


_CUE_TIMING = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?[.,]\d{1,3}\s*-->")
_MARKUP = re.compile(r"<[^>]*>")
_ANNOTATION = re.compile(r"\[[^\]]*\]|\((?:music|musik|applause|applaus|laughs?|lacht)\)|♪", re.I)


def subtitle_lines(text: str) -> list[str]:
    """The spoken lines of a WebVTT/SRT track or plain subtitle text.

    Timing lines, cue numbers, headers, markup and annotations such as "[Music]"
    are dropped; a line repeated by rolling auto-captions is kept once.
    """
    lines: list[str] = []
    skipping_block = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            skipping_block = False
            continue
        if skipping_block:
            continue
        if line.startswith(("WEBVTT", "Kind:", "Language:")):
            continue
        if line.startswith(("NOTE", "STYLE", "REGION")):
            skipping_block = True
            continue
        if _CUE_TIMING.search(line) or line.isdigit():
            continue
        line = html.unescape(_MARKUP.sub("", line))
        line = normalize_spaces(strip_emoji(_ANNOTATION.sub(" ", line))).lstrip("- ")
        if line and (not lines or lines[-1] != line):
            lines.append(line)
    return lines
