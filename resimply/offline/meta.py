"""What a caption states about the whole recipe: servings and times.

Servings: "Serves 4", "4 servings", "for 2 people", "für 4 Personen",
"4 Portionen", "Zutaten für 4". A stated yield ("Makes 12 cookies",
"Ergibt 12 Stück") counts as servings too: it is what the recipe makes, and
scaling a recipe by it works the same way. A range ("serves 4-6") gives its
lower bound.

Times: "Prep: 10 min", "Cook time 15 minutes", "Total 25 min",
"Zubereitungszeit: 20 Min.", "Backzeit 30 Minuten". A label without a colon or
the word "time" ("Bake 20 minutes at 180°C") is an instruction, not a time,
unless the line holds nothing but times ("Prep 10 min | Cook 15 min").
"""

from __future__ import annotations

import dataclasses
import re

from .durations import find_durations

_N = r"(?P<n>\d{1,3})(?:\s*(?:-|–|to|bis)\s*\d{1,3})?"
_NOT_SERVINGS = r"(?!\s*(?:kcal|cal|g\b|gr?\b|min|minuten|std|h\b|hours?|hrs?|stunden?|%|°))"
_SERVINGS = [
    re.compile(
        r"\b(?:serves|servings?|portionen|portions|personen|yields?|makes|"
        r"ergibt|reicht für|für)\s*[:\-–]?\s*(?:ca\.?\s*|about\s*|approx\.?\s*)?"
        + _N
        + _NOT_SERVINGS
        + r"(?:\s*(?:people|persons|servings|portions|personen|portionen|pers\.?|leute)\b)?",
        re.IGNORECASE,
    ),
    re.compile(
        _N + r"\s*(?:servings|portions|portionen|personen|people|persons|pers\.|pax)\b",
        re.IGNORECASE,
    ),
]
# "für 10 Minuten" is not a serving count: "für" alone needs a people word.
_FUR_ONLY = re.compile(r"\bfür\s*\d", re.IGNORECASE)
_PEOPLE = re.compile(
    r"^\s*(?:(?:-|–|to|bis)\s*\d+\s*)?(?:personen|portionen|pers\b|leute)", re.IGNORECASE
)
_INGREDIENTS_FOR = re.compile(
    r"\b(?:zutaten|ingredients)\s*\(?\s*(?:für|for)\s+" + _N + _NOT_SERVINGS, re.IGNORECASE
)


def find_servings(text: str) -> int | None:
    """The number of servings the text states, else None."""
    for line in text.splitlines():
        if match := _INGREDIENTS_FOR.search(line):
            return _servings(match)
    for pattern in _SERVINGS:
        for line in text.splitlines():
            for match in pattern.finditer(line):
                if _FUR_ONLY.match(match.group()) and not _PEOPLE.match(line[match.end("n") :]):
                    continue
                if (value := _servings(match)) is not None:
                    return value
    return None


def _servings(match: re.Match[str]) -> int | None:
    value = int(match.group("n"))
    return value if 0 < value <= 100 else None


_LABEL = re.compile(
    r"\b(?P<label>prep(?:aration)?(?:\s*time)?|vorbereitung(?:szeit)?|arbeitszeit|"
    r"zubereitungszeit|zubereitung|active time|koch-?\s*/\s*backzeit|cook(?:ing)?(?:\s*time)?|"
    r"bak(?:e|ing)(?:\s*time)?|kochzeit|backzeit|garzeit|total(?:\s*time)?|gesamtzeit|gesamt|"
    r"ready in|fertig in)\b",
    re.IGNORECASE,
)
_BETWEEN = re.compile(r"\s*(?P<sep>[:=\-–—]\s*)?(?:ca\.?|approx\.?|about|etwa|~)?\s*", re.I)
META_SEPARATORS = re.compile(r"\s*(?:[|•·;/]|\s-\s|\s–\s)\s*")
_FILLER = re.compile(r"(?:[\s.!|•·/,;+&()\[\]\-–—]|\band\b|\bund\b)+", re.IGNORECASE)


@dataclasses.dataclass
class Times:
    """Prep, cook and total minutes as stated; None where not stated."""

    prep: int | None = None
    cook: int | None = None
    total: int | None = None

    def found(self) -> bool:
        """True when any time was stated."""
        return any(v is not None for v in (self.prep, self.cook, self.total))


def _kind(label: str) -> str:
    label = label.lower()
    if label.startswith(("prep", "vorbereitung", "arbeitszeit", "zubereitung", "active")):
        return "prep"
    if label.startswith(("total", "gesamt", "ready", "fertig")):
        return "total"
    return "cook"


def line_times(line: str, *, allow_bare: bool = True) -> tuple[dict[str, int], bool]:
    """The labelled times of one line, and whether the line holds nothing else.

    With `allow_bare=False` a label needs a colon or the word "time"/"zeit" even
    on a line of its own: inside a steps block "Bake 20 minutes." is a step.
    """
    accepted: dict[str, int] = {}
    candidates: list[tuple[str, int, bool]] = []
    remainder = line
    for label in _LABEL.finditer(line):
        between = _BETWEEN.match(line, label.end())
        assert between is not None  # the pattern can match the empty string
        durations = find_durations(line[between.end() :])
        if not durations or durations[0][0] != 0:
            continue
        _, end, minutes = durations[0]
        name = label.group("label").lower()
        explicit = bool(between.group("sep")) or any(
            word in name for word in ("time", "zeit", "ready", "fertig")
        )
        candidates.append((_kind(name), minutes, explicit))
        span = line[label.start() : between.end() + end]
        remainder = remainder.replace(span, " ", 1)
    only_times = bool(candidates) and not _FILLER.sub("", remainder)
    for kind, minutes, explicit in candidates:
        if (explicit or (only_times and allow_bare)) and kind not in accepted:
            accepted[kind] = minutes
    return accepted, only_times


def find_times(lines: list[str]) -> Times:
    """The first stated prep, cook and total time across `lines`."""
    times = Times()
    for line in lines:
        # "Makes 2 jars • Prep 5 min": each part of a meta line stands alone.
        for part in META_SEPARATORS.split(line):
            found, _ = line_times(part)
            for kind, minutes in found.items():
                if getattr(times, kind) is None:
                    setattr(times, kind, minutes)
    return times
