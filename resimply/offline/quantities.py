"""Amounts as people write them: "200", "0,5", "1½", "1 1/2", "2-3", "2 bis 3", "two",
"1 and a half".

The parser reads an amount at the start of a string and reports where it ended,
so the caller can go on with the unit and the name. A range gives its lower
bound as the quantity and its upper bound as `quantity_max`.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata

VULGAR_FRACTIONS = "½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅐⅛⅜⅝⅞⅑⅒"

# Numerals written as words. Articles ("a", "an", "ein", "eine") are not here:
# "an onion" is one onion but "a little oil" is not one of anything, so the
# ingredient parser maps articles to 1 only before a unit ("a pinch of salt").
NUMBER_WORDS: dict[str, float] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "a dozen": 12, "dozen": 12, "half a": 0.5, "half an": 0.5,
    "eins": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6,
    "sieben": 7, "acht": 8, "neun": 9, "zehn": 10, "elf": 11, "zwölf": 12,
    "fünfzehn": 15, "zwanzig": 20, "dreißig": 30, "vierzig": 40, "fünfzig": 50,
    "sechzig": 60, "einhalb": 0.5, "anderthalb": 1.5, "eineinhalb": 1.5,
}  # fmt: skip

# No amount in a recipe is written with more characters than this; a longer run of
# digits is not a quantity (and would be inf as a float, or past int()'s digit limit).
MAX_NUMBER_CHARS = 24

_FRACTION = f"[{VULGAR_FRACTIONS}]"
# One number: "1 1/2", "1½", "1 ½", "1/2", "½", "1,5", "1.5", "1.000", "200".
_NUMBER = (
    rf"(?:\d+\s+\d+\s*/\s*\d+(?!\d)"
    rf"|\d+\s*{_FRACTION}"
    rf"|\d+\s*/\s*\d+"
    rf"|{_FRACTION}"
    rf"|\d+(?:[.,]\d+)?)"
)
_RANGE_SEPARATOR = r"(?:\s*[-–—]\s*|\s+(?:to|bis|or|oder)\s+)"
_AMOUNT = re.compile(rf"(?P<low>{_NUMBER})(?:{_RANGE_SEPARATOR}(?P<high>{_NUMBER}))?")
_WORD_AMOUNT = re.compile(
    r"(?P<word>" + "|".join(sorted(map(re.escape, NUMBER_WORDS), key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
# "1 and a half cups", "2 und ein halb" (as speech is transcribed).
_AND_A_HALF = re.compile(r"\s+(?:and a half|und (?:ein)?\s?halb)\b", re.IGNORECASE)
_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:[.,]\d{3})+")


@dataclasses.dataclass(frozen=True)
class Amount:
    """An amount read from the start of a string; `end` is where it stopped."""

    quantity: float
    quantity_max: float | None
    end: int


def parse_number(token: str) -> float | None:
    """The value of one number token ("1 1/2" → 1.5, "0,5" → 0.5, "¾" → 0.75), else None.

    A separator followed by exactly three digits after a non-zero whole part is
    a thousands separator ("1,000 g", "1.000 g"): cooking amounts like "1.250 kg"
    are written "1,25 kg" / "1.25 kg" far more often than 1000-fold ones are mistyped.
    """
    token = token.strip().replace("\u2044", "/")
    if not token or len(token) > MAX_NUMBER_CHARS:
        return None
    if _THOUSANDS.fullmatch(token):
        return float(token.replace(",", "").replace(".", ""))
    whole = 0.0
    if token[-1] in VULGAR_FRACTIONS:
        head = token[:-1].strip()
        if head and not head.isdigit():
            return None
        whole = float(head) if head else 0.0
        return _rounded(whole + unicodedata.numeric(token[-1]))
    if "/" in token:
        parts = token.split()
        if len(parts) == 2 and parts[0].isdigit():
            whole, token = float(parts[0]), parts[1]
        numerator, _, denominator = token.replace(" ", "").partition("/")
        if not (numerator.isdigit() and denominator.isdigit()) or int(denominator) == 0:
            return None
        return _rounded(whole + int(numerator) / int(denominator))
    try:
        return float(token.replace(",", "."))
    except ValueError:
        return None


def _rounded(value: float) -> float:
    # 1/3 is stored as 0.333, not 0.3333333333333333: a recipe is never more
    # precise than that, and clients show the number as is.
    return round(value, 3)


def match_amount(text: str, pos: int = 0) -> Amount | None:
    """Read an amount (number, range or numeral word) at `text[pos:]`; None if there is none."""
    text = text.replace("\u2044", "/")
    match = _AMOUNT.match(text, pos)
    if match:
        low = parse_number(match.group("low"))
        if low is None:
            return None
        if not match.group("high") and (half := _AND_A_HALF.match(text, match.end("low"))):
            return Amount(_rounded(low + 0.5), None, half.end())
        high = parse_number(match.group("high")) if match.group("high") else None
        if high is not None and high <= low:
            # "1-1" or "3-2" is not a range we understand: keep the first number.
            return Amount(low, None, match.end("low"))
        return Amount(low, high, match.end())
    word = _WORD_AMOUNT.match(text, pos)
    if word:
        return Amount(NUMBER_WORDS[word.group("word").lower()], None, word.end())
    return None


def parse_quantity(text: str) -> tuple[float | None, float | None]:
    """`(quantity, quantity_max)` for a string that is just an amount; `(None, None)` otherwise.

    >>> parse_quantity("2–3")
    (2.0, 3.0)
    """
    text = text.strip()
    amount = match_amount(text)
    if amount is None or text[amount.end :].strip():
        return None, None
    return amount.quantity, amount.quantity_max
