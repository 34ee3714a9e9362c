"""Property tests for ingredient lines (offline/ingredients.py, quantities.py): any
text a caption holds is read without an exception, and a generated
"qty unit name" line reads back as its parts."""

from __future__ import annotations

import math

import hypothesis.strategies as st
from hypothesis import given, settings

from resimply.errors import NotARecipe
from resimply.offline import parse_ingredient, parse_quantity, parse_recipe
from resimply.offline.units import MODIFIERS, UNITS

bounded = settings(max_examples=300, derandomize=True, deadline=None, database=None)

# Text as captions have it: any character, with digits, fractions, units and
# punctuation made likely, and now and then a number far too long for a float.
_pieces = st.one_of(
    st.text(max_size=12),
    st.sampled_from(sorted(UNITS)),
    st.sampled_from(["½", "¼", "⅞", "/", "-", "–", ",", ".", "(", ")", ":", " ", "x", "²", "٣"]),
    st.integers(0, 10**6).map(str),
    st.integers(1, 5000).map(lambda n: "9" * n),
)
caption_text = st.lists(_pieces, max_size=12).map("".join)


@bounded
@given(caption_text)
def test_any_line_reads_without_an_exception(line: str) -> None:
    ingredient = parse_ingredient(line)
    for value in (ingredient.quantity, ingredient.quantity_max):
        assert value is None or math.isfinite(value), (line, value)
    quantity, quantity_max = parse_quantity(line)
    assert quantity is None or math.isfinite(quantity)
    assert quantity_max is None or math.isfinite(quantity_max)


@settings(max_examples=60, derandomize=True, deadline=None, database=None)
@given(st.lists(caption_text, max_size=15).map("\n".join), st.none() | caption_text)
def test_any_caption_is_a_recipe_or_not_a_recipe(caption: str, subtitles: str | None) -> None:
    try:
        recipe = parse_recipe(caption, subtitles, None, None)
    except NotARecipe:
        return
    assert recipe.title


# Names that cannot be read as anything but a name: lower-case letters, no unit,
# modifier, numeral, article or note word among them.
_RESERVED = (
    UNITS
    | MODIFIERS
    | {"a", "an", "one", "ein", "eine", "einen", "einem", "einer", "eines", "of", "von"}
    | {"to", "bis", "or", "oder", "x", "plus", "more", "extra", "fresh", "frisch", "in", "into"}
    | {"nach", "zum", "zur", "für", "cut", "klein", "optional", "divided", "taste"}
)
_word = st.text("bcdfhjkmnpqrsvwxyz", min_size=3, max_size=9).filter(
    lambda w: w not in _RESERVED and not w.endswith("ed")
)
names = st.lists(_word, min_size=1, max_size=3).map(" ".join)
whole = st.integers(1, 5000)
fractions = st.sampled_from([("½", 0.5), ("¼", 0.25), ("¾", 0.75), ("1/2", 0.5), ("1/4", 0.25)])


@st.composite
def amounts(draw: st.DrawFn) -> tuple[str, float]:
    kind = draw(st.sampled_from(["whole", "decimal", "fraction", "mixed"]))
    n = draw(whole)
    if kind == "whole":
        return str(n), float(n)
    if kind == "decimal":
        tenths = draw(st.integers(1, 9))
        sep = draw(st.sampled_from([".", ","]))
        return f"{n % 100}{sep}{tenths}", n % 100 + tenths / 10
    text, value = draw(fractions)
    if kind == "fraction":
        return text, value
    n %= 10
    return (f"{n}{text}" if len(text) == 1 else f"{n} {text}"), n + value


@bounded
@given(amounts(), st.sampled_from(sorted(UNITS)), names, st.sampled_from([" ", ""]))
def test_quantity_unit_name_reads_back_as_its_parts(
    amount: tuple[str, float], unit: str, name: str, gap: str
) -> None:
    written, value = amount
    line = f"{written}{gap if unit[0].isalpha() else ' '}{unit} {name}"
    ingredient = parse_ingredient(line)
    assert (ingredient.quantity, ingredient.unit, ingredient.name) == (value, unit, name), line
    assert ingredient.note is None


@bounded
@given(amounts(), names)
def test_quantity_name_reads_back_without_a_unit(amount: tuple[str, float], name: str) -> None:
    written, value = amount
    ingredient = parse_ingredient(f"{written} {name}")
    assert (ingredient.quantity, ingredient.unit, ingredient.name) == (value, None, name)
