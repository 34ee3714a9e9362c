"""Kitchen units: what a unit as written measures, and how big it is.

The sizes come from pint's unit definitions (US customary cup, spoons, ounces),
read once at import into plain factors: a recipe is a few dozen multiplications,
and a request never waits for pint's registry. The kinds are kitchen knowledge
pint does not have: a "Prise" is a pinch, a "Dose" a can, "T" a tablespoon but
"t" a teaspoon.
"""

from __future__ import annotations

import enum
import functools
from typing import Any

import pint

from ..offline.text import word_set


class Kind(enum.StrEnum):
    MASS = "mass"  # g, kg, oz, lb
    VOLUME = "volume"  # ml, l, tsp, tbsp, cup, fl oz, pint
    COUNT = "count"  # cloves, slices, Stück, and no unit at all ("2 eggs")
    CONTAINER = "container"  # can, Dose, Becher, Packung, jar
    VAGUE = "vague"  # pinch, Prise, dash, Msp, splash: counted in whole ones
    LENGTH = "length"  # cm, inch: "2 cm ginger" is scaled in halves, never converted
    OTHER = "other"  # bunch, Bund, handful: scaled, in halves


_registry: Any = pint.UnitRegistry()


def _size(pint_unit: str, base: str) -> float:
    return float(_registry.Quantity(1, pint_unit).to(base).magnitude)


# Canonical measures → grams or millilitres.
GRAMS: dict[str, float] = {
    "mg": _size("milligram", "gram"),
    "g": 1.0,
    "kg": _size("kilogram", "gram"),
    "oz": _size("avoirdupois_ounce", "gram"),
    "lb": _size("avoirdupois_pound", "gram"),
}
MILLILITRES: dict[str, float] = {
    "ml": 1.0,
    "cl": _size("centiliter", "milliliter"),
    "dl": _size("deciliter", "milliliter"),
    "l": _size("liter", "milliliter"),
    "tsp": _size("teaspoon", "milliliter"),
    "tbsp": _size("tablespoon", "milliliter"),
    "floz": _size("fluid_ounce", "milliliter"),
    "cup": _size("cup", "milliliter"),
    "pint": _size("liquid_pint", "milliliter"),
    "quart": _size("liquid_quart", "milliliter"),
    "gallon": _size("liquid_gallon", "milliliter"),
}
METRIC_MEASURES = frozenset({"mg", "g", "kg", "ml", "cl", "dl", "l"})
SPOONS = frozenset({"tsp", "tbsp"})
# A US stick of butter weighs 4 oz (113 g, as printed on it); a stick of anything
# else ("1 stick cinnamon") is a count.
STICK_OF_BUTTER_G = 4 * GRAMS["oz"]

_SPELLINGS: dict[str, str] = {}
for _canonical, _words in {
    "mg": "mg milligram milligrams",
    "g": "g gr grs gm gms gram grams gramme grammes gramm",
    "kg": "kg kgs kilo kilos kilogram kilograms kilogramm",
    "oz": "oz ounce ounces",
    "lb": "lb lbs pound pounds",
    "ml": "ml mls millilitre millilitres milliliter milliliters",
    "cl": "cl",
    "dl": "dl",
    "l": "l ltr ltrs litre litres liter liters",
    "tsp": "t tsp tsps tspn teaspoon teaspoons tl teelöffel teel",
    "tbsp": "tbsp tbsps tbs tbl tbls tbspn tblsp tblspn tablespoon tablespoons el esslöffel essl",
    "floz": "floz fl.oz fl_oz",
    "cup": "c cup cups",
    "pint": "pint pints pt pts",
    "quart": "quart quarts qt qts",
    "gallon": "gallon gallons",
}.items():
    for _word in _words.split():
        _SPELLINGS[_word] = _canonical

_KINDS: dict[str, Kind] = {}
for _kind, _words in {
    Kind.VAGUE: """pinch pinches dash dashes splash splashes drop drops glug glugs tropfen prise
        prisen msp messerspitze messerspitzen spritzer schuss drizzle squeeze""",
    Kind.CONTAINER: """can cans tin tins jar jars pack packs packet packets package packages pkg
        bag bags bottle bottles box boxes becher dose dosen pck pkt päckchen packung packungen
        glas gläser beutel tüte tüten flasche flaschen schale schalen sachet sachets envelope
        envelopes container containers tub tubs carton cartons""",
    Kind.COUNT: """clove cloves zehe zehen piece pieces stück stk st slice slices scheibe scheiben
        rasher rashers fillet fillets sheet sheets stalk stalks rib ribs sprig sprigs zweig zweige
        stiel stiele stange stangen head heads kopf köpfe knolle knollen blatt blätter leaf
        leaves ear ears bulb bulbs link links strip strips stick sticks wedge wedges cube cubes
        würfel pod pods square squares""",
    Kind.LENGTH: "cm mm inch inches",
}.items():
    for _word in _words.split():
        _KINDS[_word] = _kind

# Spellings that are German (labels of converted spoons follow the source's language).
GERMAN_UNITS = word_set(
    "tl el teelöffel esslöffel essl teel gramm kilogramm prise prisen msp dose dosen becher"
)


def _key(unit: str) -> str:
    return " ".join(unit.strip().rstrip(".").lower().split())


@functools.lru_cache(maxsize=4096)  # pure, and asked for every ingredient
def canonical(unit: str | None) -> str | None:
    """The measure a spelling names ("EL" → "tbsp", "T" → "tbsp", "t" → "tsp"), else None."""
    if not unit:
        return None
    stripped = unit.strip().rstrip(".")
    if stripped == "T":  # US shorthand: capital T is the tablespoon, small t the teaspoon
        return "tbsp"
    key = _key(unit)
    if key.replace(" ", "") in ("floz", "fl.oz"):
        return "floz"
    return _SPELLINGS.get(key)


@functools.lru_cache(maxsize=4096)  # pure, and asked for every ingredient
def kind_of(unit: str | None) -> Kind:
    """What a unit as written measures; no unit is a count ("2 eggs")."""
    if not unit:
        return Kind.COUNT
    measure = canonical(unit)
    if measure is not None:
        return Kind.MASS if measure in GRAMS else Kind.VOLUME
    return _KINDS.get(_key(unit), Kind.OTHER)


def to_base(value: float, measure: str) -> float:
    """Grams or millilitres of `value` `measure`s."""
    return value * (GRAMS.get(measure) or MILLILITRES[measure])


def from_base(value: float, measure: str) -> float:
    return value / (GRAMS.get(measure) or MILLILITRES[measure])


def is_german(unit: str | None) -> bool:
    return unit is not None and _key(unit) in GERMAN_UNITS
