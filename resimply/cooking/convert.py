"""The unit an amount is shown in, for each unit system.

    metric    weights in g/kg; volumes in ml/l, but spoons stay spoons up to 4 tbsp
              (a metric kitchen has them too); cups of flour or sugar become grams
              where densities.py knows the ingredient, cups of milk millilitres.
    us        volumes in tsp/tbsp below ¼ cup, cups above; weights in oz/lb, or in
              cups and spoons where densities.py says US cooks measure it so.
    original  the unit as written (spoons and cups may still step down: ¾ tbsp is
              written 2 ¼ tsp, ⅛ cup 2 tbsp).

Weight ↔ volume happens only through densities.py; without an entry the
dimension stays (200 g of cheese is 7 oz, never a guessed number of cups).
"""

from __future__ import annotations

import dataclasses

from .densities import Density
from .options import UnitSystem
from .rounding import round_measure
from .units import GRAMS, METRIC_MEASURES, MILLILITRES, SPOONS, from_base, to_base

# Up to 4 tbsp (¼ cup) spoons are what both kitchens use.
SPOON_LIMIT_ML = 4 * MILLILITRES["tbsp"] + 1e-6


@dataclasses.dataclass(frozen=True)
class Converted:
    quantity: float
    quantity_max: float | None
    measure: str  # canonical unit: "g", "tsp", "cup", … or "pinch"
    via_density: bool  # a weight became a volume or the reverse


def convert(
    quantity: float,
    quantity_max: float | None,
    measure: str,
    system: UnitSystem,
    density: Density | None,
) -> Converted:
    """`quantity` (and the range's upper end) of `measure`, shown in `system`, rounded."""
    target, via_density = _target(to_base(quantity, measure), measure, system, density)
    low, shown = _in(target, quantity, measure, density)
    high = None
    if quantity_max is not None:
        high_value, high_unit = _in(target, quantity_max, measure, density)
        # A range is written in one unit: the upper end follows the lower one's.
        high = high_value if high_unit == shown else _express(high_value, high_unit, shown)
        if high is not None and high <= low:
            high = None
    return Converted(low, high, shown, via_density)


def _target(
    base: float, measure: str, system: UnitSystem, density: Density | None
) -> tuple[str, bool]:
    mass = measure in GRAMS
    if system is UnitSystem.ORIGINAL:
        return measure, False
    if measure in SPOONS and base <= SPOON_LIMIT_ML:
        return measure, False
    if system is UnitSystem.METRIC:
        if measure in METRIC_MEASURES:
            return measure, False
        if mass:
            return "g", False
        if density is not None and density.weigh_in_metric:
            return "g", True
        return "ml", False
    # US
    if mass:
        if density is not None and density.measure_in_us:
            return ("tsp" if base / density.grams_per_ml <= SPOON_LIMIT_ML else "cup"), True
        return "oz", False
    return ("tsp" if base <= SPOON_LIMIT_ML else "cup"), False


def _in(target: str, value: float, measure: str, density: Density | None) -> tuple[float, str]:
    base = to_base(value, measure)
    if (target in GRAMS) != (measure in GRAMS):
        assert density is not None
        base = base * density.grams_per_ml if target in GRAMS else base / density.grams_per_ml
    return round_measure(target, from_base(base, target))


def _express(value: float, unit: str, target: str) -> float | None:
    if unit == "pinch" or target == "pinch":
        return None
    if (unit in GRAMS) != (target in GRAMS):
        return None
    return round(from_base(to_base(value, unit), target), 2)
