"""Amounts people can measure, and how they are written.

Scaling gives numbers such as 187.5 g or 0.75 tbsp; a cook measures 190 g and
2 ¼ tsp. Each unit has the steps of the tools used for it: scales in grams
(1 g below 10 g, 5 g steps up to 100 g, 10 g above), spoons in ⅛ and ¼ tsp,
cups in the fractions of a measuring-cup set, ounces in halves.
"""

from __future__ import annotations

import math

from .units import METRIC_MEASURES, MILLILITRES

EPSILON = 1e-6
# A US measuring-cup set: ¼, ⅓, ½, ⅔, ¾ and the whole cup.
CUP_FRACTIONS = (0.0, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0)
_VULGAR = {0.125: "⅛", 0.25: "¼", 1 / 3: "⅓", 0.375: "⅜", 0.5: "½", 0.625: "⅝", 2 / 3: "⅔"}
_VULGAR |= {0.75: "¾", 0.875: "⅞"}
# Below this many teaspoons an amount is a pinch (⅛ tsp is the smallest spoon).
PINCH_TSP = 1 / 16
TSP_PER_TBSP = 3
QUART_CUPS = 4


def to_step(value: float, step: float) -> float:
    """`value` rounded half up to a multiple of `step` (2.5 → 3, not banker's 2)."""
    return math.floor(value / step + 0.5) * step


def nearest_of(value: float, fractions: tuple[float, ...]) -> float:
    whole = math.floor(value)
    part = min(fractions, key=lambda f: abs(value - whole - f))
    return whole + part


def whole_count(value: float, *, halves: bool = False) -> float:
    """Eggs and onions: whole ones, at least one (halves if the recipe used halves)."""
    if halves:
        return max(0.5, to_step(value, 0.5))
    return max(1.0, to_step(value, 1.0))


def in_halves(value: float) -> float:
    """Cans, bunches, packets: halves, at least half of one."""
    return max(0.5, to_step(value, 0.5))


def round_measure(measure: str, value: float) -> tuple[float, str]:
    """`value` `measure`s as an amount people measure; may change to a neighbour unit
    (2 ¼ tsp for ¾ tbsp, kg past 1000 g, spoons below ¼ cup, lb past 16 oz)."""
    if measure == "g":
        return _metric(value, "g", "kg")
    if measure == "ml":
        return _metric(value, "ml", "l")
    if measure in ("kg", "l"):
        small = "g" if measure == "kg" else "ml"
        if value < 0.1:
            return _metric(value * 1000, small, measure)
        return to_step(value, 0.5 if value >= 10 else 0.05), measure
    if measure in ("tsp", "tbsp"):
        tsp = value * (TSP_PER_TBSP if measure == "tbsp" else 1)
        return spoons(tsp)
    if measure == "cup":
        return _cups(value)
    if measure == "oz":
        if value >= 16 - EPSILON:
            return to_step(value / 16, 0.25), "lb"
        return max(0.25, to_step(value, 0.25 if value < 2 else 0.5)), "oz"
    if measure == "lb":
        if value < 0.25:
            return round_measure("oz", value * 16)
        return to_step(value, 0.25), "lb"
    if measure in ("pint", "quart", "gallon", "floz"):
        return max(0.25, nearest_of(value, CUP_FRACTIONS)), measure
    return max(0.5, to_step(value, 0.5)), measure  # cl, dl, mg


def _metric(value: float, small: str, large: str) -> tuple[float, str]:
    if value < 2:
        return max(0.5, to_step(value, 0.5)), small
    step = 1 if value < 10 else 5 if value < 100 else 10
    rounded = to_step(value, step)
    if rounded >= 1000 - EPSILON:
        return to_step(value / 1000, 0.05), large
    return rounded, small


def spoons(tsp: float) -> tuple[float, str]:
    """Teaspoons in ⅛ (below ½ tsp) and ¼ steps; tablespoons in halves when that is
    within ¼ tsp, or past 2 tbsp; a pinch below ⅛ tsp (1/16)."""
    if tsp < PINCH_TSP:
        return 1.0, "pinch"
    rounded = to_step(tsp, 0.125 if tsp < 0.5 else 0.25)
    if rounded >= TSP_PER_TBSP - EPSILON:
        tbsp = to_step(rounded / TSP_PER_TBSP, 0.5)
        if abs(tbsp * TSP_PER_TBSP - rounded) <= 0.25 + EPSILON or rounded > 2 * TSP_PER_TBSP:
            return tbsp, "tbsp"
    return rounded, "tsp"


def _cups(cups: float) -> tuple[float, str]:
    ml = cups * MILLILITRES["cup"]
    if cups < 0.25 - 0.03:
        return spoons(ml / MILLILITRES["tsp"])
    if cups >= QUART_CUPS * 4:
        return to_step(cups / QUART_CUPS, 0.5), "quart"  # 6 quarts of water, not 24 cups
    best = nearest_of(cups, CUP_FRACTIONS)
    if best <= 0 or (cups < 0.5 and abs(best - cups) / cups > 0.1):
        # 100 ml is neither ⅓ nor ½ cup: 7 tbsp is what a US cook would measure.
        return spoons(ml / MILLILITRES["tsp"])
    return best, "cup"


def fraction_text(value: float) -> str:
    """1.5 → "1 ½", 0.333 → "⅓", 2 → "2"; other values as decimals."""
    whole = math.floor(value + EPSILON)
    part = value - whole
    if part < 0.01:
        return str(whole)
    for fraction, glyph in _VULGAR.items():
        if abs(part - fraction) < 0.01:
            return f"{whole} {glyph}" if whole else glyph
    return decimal_text(value)


def decimal_text(value: float, *, comma: bool = False) -> str:
    """1.25 → "1.25" ("1,25" with a decimal comma), 250.0 → "250"."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if comma else text


def amount_text(value: float, measure: str | None, *, comma: bool = False) -> str:
    """An amount as printed: grams and millilitres in digits, kg and l as decimals,
    everything measured with spoons, cups or counted as fractions."""
    if measure in METRIC_MEASURES:
        if measure in ("g", "ml", "mg") and value >= 2:
            return str(round(value))
        return decimal_text(value, comma=comma)
    return fraction_text(value)
