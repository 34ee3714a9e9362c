"""Property tests for scaled recipes (resimply/cooking): ×1 in the original units
changes nothing, metric never shows cups or ounces, US never grams or millilitres,
and any line a caption holds scales without an exception to a positive amount."""

from __future__ import annotations

import math

import hypothesis.strategies as st
from hypothesis import given, settings

from resimply.cooking import ScaleOptions, UnitSystem, parse_scale_options, scale_recipe
from resimply.cooking.scale import US_MEASURES, scale_ingredient
from resimply.cooking.units import METRIC_MEASURES, canonical
from resimply.errors import InvalidServings, InvalidUnits
from resimply.models import Ingredient, Recipe
from resimply.offline import parse_ingredient
from resimply.offline.units import UNITS

bounded = settings(max_examples=300, derandomize=True, deadline=None, database=None)

_UNITS = [*sorted(UNITS), "EL", "TL", "Prise", "Becher", "Dose", "T", "t", "fl oz", "Cups"]
_NAMES = [
    "flour", "all-purpose flour", "sugar", "butter", "milk", "water", "olive oil", "rice",
    "salt", "black pepper", "chili flakes", "eggs", "onion", "garlic", "parsley", "cheese",
    "Mehl", "Zucker", "Butter", "Milch", "Wasser", "Olivenöl", "Reis", "Salz", "Pfeffer",
    "Eier", "Zwiebel", "Knoblauchzehen", "Sahne", "Tomaten", "springform pan", "Paprika",
]  # fmt: skip
_amounts = st.one_of(
    st.sampled_from([0.125, 0.25, 1 / 3, 0.5, 0.75, 1, 1.5, 2, 3, 4, 250, 500, 1000]),
    st.floats(0.01, 5000, allow_nan=False, allow_infinity=False),
)


@st.composite
def ingredients(draw: st.DrawFn) -> Ingredient:
    quantity = draw(st.one_of(st.none(), _amounts))
    upper = draw(st.one_of(st.none(), _amounts))
    unit = draw(st.one_of(st.none(), st.sampled_from(_UNITS)))
    name = draw(st.sampled_from(_NAMES))
    quantity_max = (
        upper if quantity is not None and upper is not None and upper > quantity else None
    )
    head = " ".join(p for p in (f"{quantity:g}" if quantity is not None else "", unit or "") if p)
    return Ingredient(
        text=f"{head} {name}".strip(),
        name=name,
        quantity=quantity,
        quantity_max=quantity_max,
        unit=unit,
    )


def _recipe(items: list[Ingredient], servings: int, language: str) -> Recipe:
    return Recipe(title="t", language=language, servings=servings, ingredients=items)


@bounded
@given(st.lists(ingredients(), max_size=8), st.integers(1, 50), st.sampled_from(["en", "de"]))
def test_the_same_servings_in_the_original_units_is_the_recipe_itself(
    items: list[Ingredient], servings: int, language: str
) -> None:
    recipe = _recipe(items, servings, language)
    for options in (ScaleOptions(servings=servings), ScaleOptions(scale=1), ScaleOptions()):
        scaled = scale_recipe(recipe, options)
        assert scaled.servings == servings
        assert [
            (i.text, i.name, i.quantity, i.quantity_max, i.unit, i.note) for i in scaled.ingredients
        ] == [(i.text, i.name, i.quantity, i.quantity_max, i.unit, i.note) for i in items]


@bounded
@given(ingredients(), st.floats(0.05, 100), st.sampled_from(["en", "de"]))
def test_metric_never_shows_cups_or_ounces(item: Ingredient, factor: float, language: str) -> None:
    scaled = scale_ingredient(item, factor, UnitSystem.METRIC, language)
    if scaled.quantity != item.quantity or scaled.unit != item.unit:
        assert canonical(scaled.unit) not in US_MEASURES, (item, scaled)
    if canonical(item.unit) in US_MEASURES and item.quantity is not None:
        assert canonical(scaled.unit) not in US_MEASURES, (item, scaled)


@bounded
@given(ingredients(), st.floats(0.05, 100), st.sampled_from(["en", "de"]))
def test_us_never_shows_grams_or_millilitres(
    item: Ingredient, factor: float, language: str
) -> None:
    scaled = scale_ingredient(item, factor, UnitSystem.US, language)
    if item.quantity is not None and canonical(item.unit) is not None:
        assert canonical(scaled.unit) not in METRIC_MEASURES, (item, scaled)


@bounded
@given(
    st.text(max_size=60),
    st.floats(0.05, 100),
    st.sampled_from(list(UnitSystem)),
    st.sampled_from(["en", "de", None]),
)
def test_any_line_scales_to_a_positive_amount(
    line: str, factor: float, units: UnitSystem, language: str | None
) -> None:
    item = parse_ingredient(line)
    scaled = scale_ingredient(item, factor, units, language)
    assert scaled.original is not None and scaled.original.text == item.text
    if item.quantity is None:
        assert scaled.quantity is None and scaled.flags == ["unmeasured"]
        return
    if not 0 < item.quantity * factor < 1e7:  # "0 eggs": left as written
        assert (scaled.text, scaled.quantity) == (item.text, item.quantity)
        return
    assert scaled.quantity is not None and math.isfinite(scaled.quantity)
    assert scaled.quantity > 0 and scaled.amount
    if scaled.quantity_max is not None:
        assert scaled.quantity_max > scaled.quantity


@bounded
@given(ingredients(), st.floats(1.1, 20))
def test_more_servings_never_mean_less_of_anything(item: Ingredient, factor: float) -> None:
    scaled = scale_ingredient(item, factor, UnitSystem.ORIGINAL, "en")
    if item.quantity is None or scaled.unit != item.unit:
        return  # a spoon that changed size is compared in test_spoons
    assert scaled.quantity is not None and scaled.quantity >= item.quantity * 0.9, (item, scaled)


@bounded
@given(
    st.dictionaries(
        st.sampled_from(["servings", "scale", "units", "limit"]), st.text(max_size=12), max_size=4
    )
)
def test_any_query_is_options_or_a_400(query: dict[str, str]) -> None:
    try:
        options = parse_scale_options(query)
    except (InvalidServings, InvalidUnits) as error:
        assert error.http_status == 400 and error.message
        return
    if options is None:
        assert not {"servings", "scale", "units"} & set(query)
        return
    assert options.servings is None or 1 <= options.servings <= 1000
    assert options.scale is None or 0.05 <= options.scale <= 100


@bounded
@given(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([None, "g", "cup", "tsp", "Dose"]),
    st.floats(0.05, 100),
    st.sampled_from(list(UnitSystem)),
)
def test_absurd_amounts_are_left_as_written(
    quantity: float, unit: str | None, factor: float, units: UnitSystem
) -> None:
    # A model may return any number JSON can hold: never a 500, never a rounded absurdity.
    item = Ingredient(text=f"{quantity} {unit} flour", name="flour", quantity=quantity, unit=unit)
    scaled = scale_ingredient(item, factor, units, "en")
    if not 0 < quantity * factor < 1e7:
        assert (scaled.text, scaled.quantity) == (item.text, item.quantity)
