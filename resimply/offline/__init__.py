"""The offline extractor: reads a recipe out of caption and subtitle text with no
model and no network (ARCHITECTURE.md, "Providers").

    parse.py        caption + subtitles → Recipe (or NotARecipe)
    recipes.py      several recipes in one caption (a main and its sauce) vs. groups
    sections.py     the caption's layout: title, ingredient blocks, steps, meta lines
    ingredients.py  one ingredient line → quantity, unit, name, note
    quantities.py   amounts: "1½", "0,5", "1 1/2", "2-3", "two"
    units.py        known units, kept as written
    durations.py    "10 minutes", "1 Std. 15 Min."
    meta.py         servings and prep/cook/total times
    spoken.py       amounts named in running text: "you need 200 g flour, 2 eggs…"
    merge.py        caption list + prose + speech → one list, disagreements noted
    steps.py        numbered steps; instructions spoken in the subtitles
    titles.py       the title line, or the dish the speaker announces
    tags.py         hashtags → tags
    language.py     English or German
    text.py         emoji, bullets, hashtags, sentences, subtitle cues
"""

from .ingredients import parse_ingredient
from .parse import parse_recipe
from .quantities import parse_quantity

__all__ = ["parse_ingredient", "parse_quantity", "parse_recipe"]
