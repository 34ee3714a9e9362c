"""One ingredient list from the caption's list and the amounts named in running text.

The caption's list comes first and keeps its order; an ingredient named in the
caption's prose or in the video's speech joins it once. When the same
ingredient is named twice, the more precise amount wins (a number with a unit
beats a number alone, which beats none); at equal precision the earlier source
wins — caption list, then the list shown on screen, then caption prose, then
speech — and the amount that lost
is kept in the ingredient's note ("in the video: 250 ml milk"), so a cook sees
that the sources disagree.
"""

from __future__ import annotations

import dataclasses
import re

import msgspec

from ..models import Ingredient

# Where a mention was read. Mentions are merged in the order they are passed
# (`parse.parse_recipe`: caption list, screen, caption prose, speech).
LIST, PROSE, SPEECH, SCREEN = 0, 1, 2, 3

_LABELS = {
    "en": {
        LIST: "in the list",
        PROSE: "in the caption",
        SPEECH: "in the video",
        SCREEN: "on screen",
    },
    "de": {
        LIST: "in der Liste",
        PROSE: "in der Beschreibung",
        SPEECH: "im Video",
        SCREEN: "eingeblendet",
    },
}
_WORD = re.compile(r"[^\W\d_]+")
# Plural and case endings, longest first; a stem keeps at least three letters.
_ENDINGS = ("en", "es", "er", "n", "s", "e")
_IRREGULAR = {"eier": "ei", "eggs": "egg", "leaves": "leaf", "halves": "half"}
_UNIT_ALIASES = {
    "g": "g", "gr": "g", "gram": "g", "grams": "g", "gramm": "g", "gramme": "g",
    "kg": "kg", "kilo": "kg", "kilogram": "kg", "kilogramm": "kg",
    "ml": "ml", "milliliter": "ml", "millilitre": "ml", "l": "l", "liter": "l", "litre": "l",
    "tbsp": "tbsp", "tablespoon": "tbsp", "tbs": "tbsp", "el": "tbsp", "esslöffel": "tbsp",
    "tsp": "tsp", "teaspoon": "tsp", "tl": "tsp", "teelöffel": "tsp",
    "pinch": "pinch", "prise": "pinch", "prisen": "pinch",
}  # fmt: skip


@dataclasses.dataclass
class _Entry:
    ingredient: Ingredient
    source: int
    key: tuple[str, ...]


def _stem(word: str) -> str:
    word = word.lower()
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


def _key(name: str) -> tuple[str, ...]:
    return tuple(_stem(word) for word in _WORD.findall(name))


def _unit(unit: str | None) -> str | None:
    if unit is None:
        return None
    lower = unit.lower().rstrip(".")
    return _UNIT_ALIASES.get(lower, _UNIT_ALIASES.get(lower.rstrip("s"), lower.rstrip("s")))


def _precision(ingredient: Ingredient) -> int:
    return (ingredient.quantity is not None) + (ingredient.unit is not None)


def _same_amount(a: Ingredient, b: Ingredient) -> bool:
    return (a.quantity, a.quantity_max, _unit(a.unit)) == (
        b.quantity,
        b.quantity_max,
        _unit(b.unit),
    )


def _find(entries: list[_Entry], name: str) -> list[_Entry]:
    """The entries naming the same food: the one with the same words (plurals
    aside), else those whose last word ends like a one-word name ("flour" ~
    "plain flour", "Öl" ~ "Olivenöl")."""
    key = _key(name)
    if not key:
        return []
    for entry in entries:
        if entry.key == key:
            return [entry]
    return [e for e in entries if _head_matches(key, e.key)]


def _head_matches(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    # One side is a single word that ends the other's last word.
    if not a or not b:
        return False
    if len(b) == 1:
        a, b = b, a
    return len(a) == 1 and len(a[0]) >= 2 and b[-1].endswith(a[0])


def _noted(ingredient: Ingredient, *notes: str | None) -> str | None:
    return "; ".join(n for n in (ingredient.note, *notes) if n) or None


def merge_ingredients(
    listed: list[Ingredient],
    mentioned: list[tuple[Ingredient, int]],
    language: str | None,
) -> list[Ingredient]:
    """`listed` (the caption's list) plus each `(ingredient, source)` mention not already in it."""
    labels = _LABELS.get(language or "", _LABELS["en"])
    entries = [_Entry(i, LIST, _key(i.name or "")) for i in listed]
    for ingredient, source in mentioned:
        if ingredient.name is None:
            continue
        found = _find(entries, ingredient.name)
        if not found:
            entries.append(_Entry(ingredient, source, _key(ingredient.name)))
            continue
        if len(found) > 1:
            # "sugar" said, "caster sugar" and "brown sugar" listed: it is one of
            # them, but which is unknown, so neither amount changes.
            continue
        entry = found[0]
        kept = entry.ingredient
        if _same_amount(kept, ingredient) or _precision(ingredient) == 0:
            continue
        if _precision(ingredient) > _precision(kept):
            # The more precise amount wins; the vaguer one is kept in the note.
            lost = f"{labels[entry.source]}: {kept.text}" if _precision(kept) else None
            entry.ingredient = msgspec.structs.replace(
                kept,
                quantity=ingredient.quantity,
                quantity_max=ingredient.quantity_max,
                unit=ingredient.unit,
                note=_noted(kept, lost),
            )
        else:
            lost = f"{labels[source]}: {ingredient.text}"
            entry.ingredient = msgspec.structs.replace(kept, note=_noted(kept, lost))
    return [entry.ingredient for entry in entries]
