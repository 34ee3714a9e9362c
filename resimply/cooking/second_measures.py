"""Measures the parser left in an ingredient's note, folded back into its amount.

    "255g/9oz berries"            note "9oz": the same amount again, in other units
    "¾ cup (4 ounces/115 grams)"  note "4 ounces/115 grams": the same
    "1 cup plus 2 tbsp flour"     note "plus 2 tbsp": the second part of a sum

Once an amount is scaled or converted, an equivalent would be wrong and is
dropped from the line; a sum is added to the amount and scaled as one. A
container's size ("1 Dose (400 g)") is not here: it is per container and stays.
"""

from __future__ import annotations

import dataclasses
import re

from ..models import Ingredient
from ..offline.quantities import match_amount
from ..offline.units import match_unit
from .units import GRAMS, canonical, to_base

_PLUS = re.compile(r"(?i)(?:plus|\+|und|and)\s+")


@dataclasses.dataclass(frozen=True)
class Folded:
    quantity: float  # in the ingredient's own measure
    text: str  # the line without the equivalent or the sum's second part
    note: str | None  # the note without it


def fold(ingredient: Ingredient, measure: str) -> Folded:
    """The ingredient's amount with the measures of its note folded in."""
    assert ingredient.quantity is not None
    quantity, text, note = ingredient.quantity, ingredient.text, ingredient.note
    if (equivalent := _equivalent(note)) is not None:
        text, note = _without(text, equivalent), _rest_of(note)
    elif (extra := _second_part(note, measure)) is not None:
        text = " ".join(text.replace(extra[1], " ", 1).split())
        quantity, note = quantity + extra[0], _rest_of(note)
    return Folded(quantity, text, note)


def _first_part(note: str | None) -> str:
    return (note or "").split("; ")[0]


def _rest_of(note: str | None) -> str | None:
    return "; ".join((note or "").split("; ")[1:]) or None


def _equivalent(note: str | None) -> str | None:
    """The note's first part when it is only amounts of measures ("9oz", "4 ounces/115 grams")."""
    part = _first_part(note)
    pos, found = 0, False
    while pos < len(part):
        amount = match_amount(part, pos)
        written = match_unit(part, amount.end) if amount else None
        if written is None or canonical(written.unit) is None:
            return None
        pos, found = written.end, True
        while pos < len(part) and part[pos] in " /":
            pos += 1
    return part if found else None


def _without(text: str, equivalent: str) -> str:
    for form in (f"({equivalent})", f"/{equivalent}", f"/ {equivalent}"):
        if form in text:
            return " ".join(text.replace(form, " ", 1).split())
    return text


def _second_part(note: str | None, measure: str) -> tuple[float, str] | None:
    """The sum's second part ("plus 2 tbsp") in `measure`s, and the phrase as written."""
    part = _first_part(note)
    plus = _PLUS.match(part)
    amount = match_amount(part, plus.end()) if plus else None
    written = match_unit(part, amount.end) if amount else None
    if amount is None or written is None or written.end != len(part.rstrip()):
        return None
    second = canonical(written.unit)
    if second is None or (second in GRAMS) != (measure in GRAMS):
        return None
    return to_base(amount.quantity, second) / to_base(1, measure), part
