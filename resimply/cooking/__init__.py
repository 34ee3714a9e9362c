"""Recipes to cook from: scaled to a number of servings and shown in metric or US units.

    options.py    the query parameters (`servings`, `scale`, `units`) and their errors
    units.py      kitchen units: what each spelling measures, factors from pint, labels
    densities.py  grams per millilitre of the ingredients that may change dimension
    kinds.py      what an ingredient is for scaling: seasoning, pan, countable
    rounding.py   amounts people measure (¼ tsp, 5 g, ⅓ cup) and how they are written
    convert.py    the unit an amount is shown in, for each unit system
    second_measures.py  "255g/9oz", "1 cup plus 2 tbsp": measures the parser left in the note
    wording.py    the ingredient's text rewritten, plurals, notes in English and German
    scale.py      one recipe scaled and converted, the original kept alongside

The rules are described for users in docs/scaling.md.
"""

from .options import ScaleOptions, UnitSystem, parse_scale_options
from .scale import ScaledIngredient, ScaledRecipe, Scaling, scale_recipe

__all__ = [
    "ScaleOptions",
    "ScaledIngredient",
    "ScaledRecipe",
    "Scaling",
    "UnitSystem",
    "parse_scale_options",
    "scale_recipe",
]
