"""One recipe scaled to a number of servings and shown in a unit system.

The answer is the recipe object of API.md with its amounts replaced, and only
additions: each ingredient keeps its `original` amount, and says in `flags`
(stable codes) and `notes` (for the cook) what was done to it; the recipe gets a
`scaling` object. Steps are left as they are: times and temperatures do not
follow the servings.
"""

from __future__ import annotations

import re

import msgspec

from ..errors import ServingsUnknown
from ..models import Ingredient, Recipe
from ..offline.quantities import match_amount
from ..offline.units import match_unit
from . import wording
from .convert import SPOON_LIMIT_ML, convert
from .densities import BUTTER, density_of
from .kinds import is_equipment, is_seasoning, words_of
from .options import ScaleOptions, UnitSystem
from .rounding import amount_text, fraction_text, in_halves, whole_count
from .units import (
    GRAMS,
    METRIC_MEASURES,
    SPOONS,
    STICK_OF_BUTTER_G,
    Kind,
    canonical,
    is_german,
    kind_of,
    to_base,
)

# Seasonings grow with factor ** 0.7: a double batch gets ×1.6 the salt, a triple
# ×2.2 (a rule of thumb of cooks and caterers: taste decides, and salt cannot be
# taken out). Scaled down they follow the factor: half a batch, half the salt.
SEASONING_EXPONENT = 0.7
US_MEASURES = frozenset({"oz", "lb", "cup", "floz", "pint", "quart", "gallon"})

# Flags: stable codes a client may show or filter on (docs/scaling.md).
SEASONING = "seasoning"  # scaled less than the rest
ROUNDED = "rounded"  # counted in whole ones (or halves) and that changed the amount
UNMEASURED = "unmeasured"  # no amount ("salt to taste"): left as it is
NOT_SCALED = "not_scaled"  # a pan or a size: left as it is
CONVERTED = "converted"  # weight ↔ volume through the density table


class OriginalAmount(msgspec.Struct, kw_only=True):
    """An ingredient's amount as stored, kept next to the scaled one."""

    text: str
    quantity: float | None = None
    quantity_max: float | None = None
    unit: str | None = None


class ScaledIngredient(Ingredient, kw_only=True):
    amount: str | None = None  # the amount as printed: "1 ½", "250", "2–3"
    original: OriginalAmount | None = None
    flags: list[str] = msgspec.field(default_factory=list)
    notes: list[str] = msgspec.field(default_factory=list)


class Scaling(msgspec.Struct, kw_only=True):
    factor: float  # applied to every amount (seasonings: factor ** 0.7)
    servings: int | None  # what the recipe now serves (None when unknown)
    original_servings: int | None
    units: str  # metric | us | original
    notes: list[str] = msgspec.field(default_factory=list)


class ScaledRecipe(Recipe, kw_only=True):
    ingredients: list[ScaledIngredient] = msgspec.field(default_factory=list)  # type: ignore[assignment]
    scaling: Scaling | None = None


def scale_recipe(recipe: Recipe, options: ScaleOptions) -> ScaledRecipe:
    """`recipe` for `options.servings` (or ×`options.scale`) in `options.units`.

    Raises ServingsUnknown when servings are asked of a recipe that does not say
    how many it serves.
    """
    servings = recipe.servings
    if options.servings is not None:
        if not recipe.servings:
            raise ServingsUnknown()
        factor = options.servings / recipe.servings
        servings = options.servings
    elif options.scale is not None:
        factor = options.scale
        servings = max(1, round(recipe.servings * factor)) if recipe.servings else None
    else:
        factor = 1.0
    language = recipe.language
    notes = [wording.note("recipe", language)] if factor != 1 else []
    fields = msgspec.structs.asdict(recipe)
    fields.update(
        servings=servings,
        ingredients=[
            scale_ingredient(i, factor, options.units, language) for i in recipe.ingredients
        ],
        scaling=Scaling(
            factor=round(factor, 4),
            servings=servings,
            original_servings=recipe.servings,
            units=options.units.value,
            notes=notes,
        ),
    )
    return ScaledRecipe(**fields)


def scale_ingredient(
    ingredient: Ingredient, factor: float, system: UnitSystem, language: str | None
) -> ScaledIngredient:
    """One ingredient ×`factor` in `system`; see docs/scaling.md for the rules."""
    fields = msgspec.structs.asdict(ingredient)
    fields["original"] = OriginalAmount(
        text=ingredient.text,
        quantity=ingredient.quantity,
        quantity_max=ingredient.quantity_max,
        unit=ingredient.unit,
    )
    quantity, unit, name = ingredient.quantity, ingredient.unit, ingredient.name
    if quantity is None:
        return ScaledIngredient(
            **fields, flags=[UNMEASURED], notes=[wording.note("unmeasured", language)]
        )
    kind = kind_of(unit)
    german = is_german(unit) or language == "de"
    unchanged_amount = _range_text(quantity, ingredient.quantity_max, canonical(unit), german)
    if canonical(unit) is None and is_equipment(name):
        return ScaledIngredient(
            **fields,
            amount=unchanged_amount,
            flags=[NOT_SCALED],
            notes=[wording.note("not_scaled", language)],
        )
    flags: list[str] = []
    notes: list[str] = []
    measure = canonical(unit)
    used = factor
    if factor > 1 and is_seasoning(name, measure or (unit or "").lower(), language):
        used = factor**SEASONING_EXPONENT
        flags.append(SEASONING)
        notes.append(wording.note("seasoning", language, used=_times(used), factor=_times(factor)))
    density = density_of(name)
    butter_sticks = measure is None and density is BUTTER and _is_stick(unit)
    to_grams = butter_sticks and system is UnitSystem.METRIC
    if not to_grams and _unchanged(used, system, measure, quantity):
        return ScaledIngredient(**fields, amount=unchanged_amount, flags=flags, notes=notes)
    text, note_text = ingredient.text, ingredient.note
    if measure is not None and (equivalent := _equivalent(note_text)) is not None:
        # "255g/9oz berries", "¾ cup (4 ounces/115 grams) flour": the same amount in other
        # units, wrong once scaled or converted; the converted amount replaces it.
        text = _without_equivalent(text, equivalent)
        note_text = "; ".join(note_text.split("; ")[1:]) or None  # type: ignore[union-attr]
        fields["note"] = note_text
    if measure is not None and (plus := _second_measure(ingredient, measure)) is not None:
        # "1 cup plus 2 tbsp flour": one amount of 1.125 cups, scaled as one.
        extra, phrase, note_text = plus
        quantity += extra
        text = " ".join(text.replace(phrase, " ", 1).split())
        fields["note"] = note_text
    low = quantity * used
    high = ingredient.quantity_max * used if ingredient.quantity_max is not None else None
    if to_grams:
        # "1 stick butter" is 113 g; in US and original it stays sticks (in halves).
        low, high, measure = low * STICK_OF_BUTTER_G, _times_or_none(high, STICK_OF_BUTTER_G), "g"
    if measure is not None:
        converted = convert(low, high, measure, system, density)
        new_low, new_high = converted.quantity, converted.quantity_max
        shown = converted.measure
        most = new_high if new_high is not None else new_low
        if shown == canonical(unit) and unit:
            new_unit: str | None = wording.unit_for(most, unit)
        else:
            new_unit = wording.label(shown, most, german=german)
        if converted.via_density and density is not None:
            flags.append(CONVERTED)
            grams = round(density.grams_per_ml * to_base(1, "cup"))
            notes.append(wording.note("converted", language, grams=grams))
    else:
        shown = None
        fractional = quantity % 1 != 0
        if (kind is Kind.VAGUE or kind is Kind.COUNT) and not butter_sticks:
            halves = kind is Kind.COUNT and (fractional or _halves_make_sense(unit, name))
            new_low = whole_count(low, halves=halves)
            new_high = whole_count(high, halves=halves) if high is not None else None
        else:
            new_low = in_halves(low)
            new_high = in_halves(high) if high is not None else None
        if new_high is not None and new_high <= new_low:
            new_high = None
        if abs(new_low - low) > 0.01:
            flags.append(ROUNDED)
            notes.append(
                wording.note(
                    "rounded", language, raw=_number(low, german), new=fraction_text(new_low)
                )
            )
        most = new_high if new_high is not None else new_low
        new_unit = wording.unit_for(most, unit) if unit else None
    amount = _range_text(new_low, new_high, shown, german)
    text = wording.rewrite(
        text, amount, new_unit, written_unit=unit, name=name, note_text=note_text
    )
    if unit is None and name:
        text = _counted_noun(
            text, amount, name, most, ingredient.quantity_max or quantity, language
        )
    fields.update(
        text=text, quantity=_stored(new_low), quantity_max=_stored(new_high), unit=new_unit
    )
    return ScaledIngredient(**fields, amount=amount, flags=flags, notes=notes)


def _equivalent(note: str | None) -> str | None:
    """The note's first part when it is only amounts of measures ("9oz", "4 ounces/115 grams")."""
    part = (note or "").split("; ")[0]
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


def _without_equivalent(text: str, equivalent: str) -> str:
    for form in (f"({equivalent})", f"/{equivalent}", f"/ {equivalent}"):
        if form in text:
            return " ".join(text.replace(form, " ", 1).split())
    return text


_PLUS = re.compile(r"(?i)(?:plus|\+|und|and)\s+")


def _second_measure(ingredient: Ingredient, measure: str) -> tuple[float, str, str | None] | None:
    """The second part of a sum the parser kept as the note ("plus 2 tbsp"), in
    `measure`s, with the phrase as written and the note without it; None if there is none."""
    parts = (ingredient.note or "").split("; ")
    plus = _PLUS.match(parts[0])
    amount = match_amount(parts[0], plus.end()) if plus else None
    if amount is None:
        return None
    written = match_unit(parts[0], amount.end)
    second = canonical(written.unit) if written else None
    if written is None or second is None or written.end != len(parts[0].rstrip()):
        return None
    if (second in GRAMS) != (measure in GRAMS):
        return None
    extra = to_base(amount.quantity, second) / to_base(1, measure)
    return extra, parts[0], "; ".join(parts[1:]) or None


_WHOLE_ONLY = ("egg", "eggs", "ei", "eier", "eigelb", "eiweiß", "yolk", "yolks", "whites")


def _halves_make_sense(unit: str | None, name: str | None) -> bool:
    """Half an onion, half a yeast cube: yes. Half an egg, half a garlic clove: no."""
    if unit is not None:
        return unit.lower() in ("würfel", "cube", "cubes")
    words = words_of(name or "")
    return not any(w in _WHOLE_ONLY for w in words)


def _unchanged(used: float, system: UnitSystem, measure: str | None, quantity: float) -> bool:
    """Nothing to do: ×1 and already in the asked system (or not a measure at all)."""
    if used != 1:
        return False
    if system is UnitSystem.ORIGINAL or measure is None:
        return True
    if measure in SPOONS:
        return to_base(quantity, measure) <= SPOON_LIMIT_ML
    return measure in (METRIC_MEASURES if system is UnitSystem.METRIC else US_MEASURES)


def _is_stick(unit: str | None) -> bool:
    return unit is not None and unit.lower().rstrip(".") in ("stick", "sticks")


def _times_or_none(value: float | None, by: float) -> float | None:
    return None if value is None else value * by


def _range_text(low: float, high: float | None, measure: str | None, german: bool) -> str:
    text = amount_text(low, measure, comma=german)
    return f"{text}–{amount_text(high, measure, comma=german)}" if high is not None else text


def _stored(value: float | None) -> float | None:
    # As the parser stores amounts: 1/3 is 0.333 (quantities.py).
    return None if value is None else round(value, 3)


def _times(factor: float) -> str:
    return f"{factor:.2f}".rstrip("0").rstrip(".")


def _number(value: float, german: bool) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if german else text


def _counted_noun(
    text: str, amount: str, name: str, value: float, old: float, language: str | None
) -> str:
    words = words_of(name)
    if not words or not text.startswith(amount):
        return text
    rest = text[len(amount) :]
    # Only the words before a bracket or comma: "2 (14 oz) cans tomatoes" counts cans.
    words_end = min((i for i in (rest.find("("), rest.find(",")) if i >= 0), default=len(rest))
    for match in re.finditer(r"[^\W\d_]+", rest[:words_end]):
        if match.group().lower() == words[-1]:
            noun = wording.noun_for(value, old, match.group(), language)
            return amount + rest[: match.start()] + noun + rest[match.end() :]
    return text
