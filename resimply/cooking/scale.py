"""One recipe scaled to a number of servings and shown in a unit system.

The answer is the recipe object of API.md with its amounts replaced, and only
additions: each ingredient keeps its `original` amount, and says in `flags`
(stable codes) and `notes` (for the cook) what was done to it; the recipe gets a
`scaling` object. Steps are left as they are: times and temperatures do not
follow the servings.
"""

from __future__ import annotations

import dataclasses
import math

import msgspec

from ..errors import ServingsUnknown
from ..models import Ingredient, Recipe
from . import wording
from .convert import SPOON_LIMIT_ML, convert
from .densities import BUTTER, Density, density_of
from .kinds import is_equipment, is_seasoning, words_of
from .options import ScaleOptions, UnitSystem
from .rounding import amount_text, fraction_text, in_halves, whole_count
from .second_measures import fold
from .units import (
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
NOT_SCALED = "not_scaled"  # a pan or a tin: left as it is
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
    measure = canonical(unit)
    german = is_german(unit) or language == "de"
    as_written = _range_text(quantity, ingredient.quantity_max, measure, german)
    if measure is None and is_equipment(name):
        note = wording.note("not_scaled", language)
        return ScaledIngredient(**fields, amount=as_written, flags=[NOT_SCALED], notes=[note])
    flags: list[str] = []
    notes: list[str] = []
    used = factor
    if factor > 1 and is_seasoning(name, measure or (unit or "").lower(), language):
        used = factor**SEASONING_EXPONENT
        flags.append(SEASONING)
        notes.append(wording.note("seasoning", language, used=_times(used), factor=_times(factor)))
    density = density_of(name)
    butter_sticks = measure is None and density is BUTTER and _is_stick(unit)
    to_grams = butter_sticks and system is UnitSystem.METRIC
    if (not to_grams and _unchanged(used, system, measure, quantity)) or not _plausible(
        ingredient, used
    ):
        return ScaledIngredient(**fields, amount=as_written, flags=flags, notes=notes)

    text, note_text = ingredient.text, ingredient.note
    if measure is not None:
        folded = fold(ingredient, measure)
        quantity, text, note_text = folded.quantity, folded.text, folded.note
    low = quantity * used
    high = ingredient.quantity_max * used if ingredient.quantity_max is not None else None
    if to_grams:
        # "1 stick butter" is 113 g; in US and original it stays sticks (in halves).
        low, high, measure = low * STICK_OF_BUTTER_G, _times_or_none(high, STICK_OF_BUTTER_G), "g"
    if measure is not None:
        new = _measured(low, high, measure, unit, system, density, german, language)
    else:
        halves = butter_sticks or quantity % 1 != 0 or _halves_make_sense(unit, name)
        new = _counted(low, high, kind_of(unit), unit, halves, german, language)
    amount = _range_text(new.low, new.high, new.measure, german)
    text = wording.rewrite(
        text,
        amount,
        new.unit,
        written_unit=unit,
        written_quantity=ingredient.quantity,
        name=name,
        note_text=note_text,
    )
    most = new.high if new.high is not None else new.low
    if unit is None and name:
        old = ingredient.quantity_max or ingredient.quantity or 0
        text = wording.counted_noun(text, amount, name, most, old, language)
    fields.update(
        text=text,
        note=note_text,
        quantity=_stored(new.low),
        quantity_max=_stored(new.high),
        unit=new.unit,
    )
    return ScaledIngredient(
        **fields, amount=amount, flags=flags + new.flags, notes=notes + new.notes
    )


@dataclasses.dataclass
class _NewAmount:
    low: float
    high: float | None
    measure: str | None  # canonical unit of a measure, None for counts
    unit: str | None  # as shown
    flags: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


def _measured(
    low: float,
    high: float | None,
    measure: str,
    unit: str | None,
    system: UnitSystem,
    density: Density | None,
    german: bool,
    language: str | None,
) -> _NewAmount:
    """Grams, spoons, cups…: converted to `system` and rounded (convert.py)."""
    converted = convert(low, high, measure, system, density)
    most = converted.quantity_max if converted.quantity_max is not None else converted.quantity
    if unit and converted.measure == canonical(unit):
        shown = wording.unit_for(most, unit)  # the unit as written ("EL", "cups")
    else:
        shown = wording.label(converted.measure, most, german=german)
    new = _NewAmount(converted.quantity, converted.quantity_max, converted.measure, shown)
    if converted.via_density and density is not None:
        new.flags.append(CONVERTED)
        grams = round(density.grams_per_ml * to_base(1, "cup"))
        new.notes.append(wording.note("converted", language, grams=grams))
    return new


def _counted(
    low: float,
    high: float | None,
    kind: Kind,
    unit: str | None,
    halves: bool,
    german: bool,
    language: str | None,
) -> _NewAmount:
    """Eggs, cloves, pinches, cans: whole ones or halves, with a note when that changed them."""
    if kind is Kind.VAGUE or (kind is Kind.COUNT and not halves):
        new_low, new_high = whole_count(low), whole_count(high) if high is not None else None
    else:
        new_low, new_high = in_halves(low), in_halves(high) if high is not None else None
    if new_high is not None and new_high <= new_low:
        new_high = None
    most = new_high if new_high is not None else new_low
    new = _NewAmount(new_low, new_high, None, wording.unit_for(most, unit) if unit else None)
    if abs(new_low - low) > 0.01:
        new.flags.append(ROUNDED)
        raw, rounded = _number(low, german), fraction_text(new_low)
        new.notes.append(wording.note("rounded", language, raw=raw, new=rounded))
    return new


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


# No kitchen weighs a ton: beyond this an amount is a misread (or a model's invention)
# and is left as written rather than rounded into nonsense (or an overflow).
MAX_AMOUNT = 1e7


def _plausible(ingredient: Ingredient, used: float) -> bool:
    values = (ingredient.quantity, ingredient.quantity_max)
    return all(v is None or (math.isfinite(v * used) and 0 < v * used < MAX_AMOUNT) for v in values)


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
