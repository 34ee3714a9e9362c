"""Durations in prose: "10 minutes", "10 Min.", "1 hour 15 min", "1,5 Std.", "half an hour".

A range ("25-30 minutes") counts as its lower bound, like a quantity range:
it is when to first check, and the step's text still says the rest.
Seconds are ignored: a step's `minutes` is about planning, not a stopwatch.
"""

from __future__ import annotations

import math
import re

from .quantities import NUMBER_WORDS, VULGAR_FRACTIONS, match_amount

_WORDS = "|".join(
    sorted((re.escape(w) for w in NUMBER_WORDS if " " not in w), key=len, reverse=True)
)
_NUM = rf"(?:\d+(?:[.,]\d+)?(?:\s*[{VULGAR_FRACTIONS}])?|[{VULGAR_FRACTIONS}]|\b(?:{_WORDS})\b)"
_RANGE = rf"{_NUM}(?:\s*(?:-|–|—|to|bis|or|oder)\s*{_NUM})?"
_END = r"(?![^\W\d_])"
_HOURS = rf"(?:hours?|hrs?|h|stunden?|std|stdn){_END}\.?"
_MINUTES = rf"(?:minutes?|minuten|mins?|min){_END}\.?"

_DURATION = re.compile(
    rf"(?P<hours>{_RANGE})\s*{_HOURS}"
    rf"(?:(?:\s*(?:and|und|,)?\s*(?P<hm>{_NUM})\s*{_MINUTES})|(?P<compact>(?<=h)\d{{1,2}}\b))?"
    rf"|(?P<minutes>{_RANGE})\s*{_MINUTES}"
    r"|(?P<half>half an hour|(?:eine[rn]?\s+)?halben?\s+stunde)"
    r"|(?P<one>(?:an|one|eine[rn]?)\s+(?:hour|stunde))\b",
    re.IGNORECASE,
)


def _lower(text: str) -> float | None:
    amount = match_amount(text.strip())
    return amount.quantity if amount else None


def find_durations(text: str) -> list[tuple[int, int, int]]:
    """Every duration in `text` as `(start, end, minutes)`, in order."""
    found: list[tuple[int, int, int]] = []
    for match in _DURATION.finditer(text):
        minutes: float | None
        if match.group("half"):
            minutes = 30
        elif match.group("one"):
            minutes = 60
        elif match.group("hours"):
            hours = _lower(match.group("hours"))
            extra = match.group("hm") or match.group("compact")
            extra_minutes = _lower(extra) if extra else 0
            minutes = None if hours is None else hours * 60 + (extra_minutes or 0)
        else:
            minutes = _lower(match.group("minutes"))
        if minutes:
            found.append((match.start(), match.end(), math.ceil(minutes)))
    return found


def parse_minutes(text: str) -> int | None:
    """The minutes of the first duration in `text` ("1 Std. 15 Min." → 75), else None."""
    found = find_durations(text)
    return found[0][2] if found else None


def step_minutes(text: str) -> int | None:
    """All the waiting a step asks for: the sum of its durations, or None.

    "Fry 3 minutes, flip and fry 2 more minutes" takes 5 minutes.
    """
    found = find_durations(text)
    return sum(minutes for _, _, minutes in found) or None
