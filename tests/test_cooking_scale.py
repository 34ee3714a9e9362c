"""Scaling and converting real ingredient lines, English and German (resimply/cooking).

Each row: the line as a caption writes it (read by the offline parser), the
recipe's servings → the servings asked, the unit system, and what the cook
should see: the rewritten line and the flags.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resimply.cooking import ScaleOptions, UnitSystem, scale_recipe
from resimply.cooking.scale import US_MEASURES, scale_ingredient
from resimply.cooking.units import METRIC_MEASURES, canonical
from resimply.errors import ServingsUnknown
from resimply.models import Ingredient, Recipe, Step
from resimply.offline import parse_ingredient

M, US, ORIG = UnitSystem.METRIC, UnitSystem.US, UnitSystem.ORIGINAL

ENGLISH = [
    # line, factor, units, expected text, expected flags
    ("1 tbsp olive oil", 0.75, ORIG, "2 ¼ tsp olive oil", []),  # never "¾ tbsp"
    ("1 tbsp olive oil", 0.5, ORIG, "1 ½ tsp olive oil", []),
    ("1 tbsp olive oil", 1.5, ORIG, "1 ½ tbsp olive oil", []),
    ("2 tbsp butter, melted", 2, ORIG, "4 tbsp butter, melted", []),
    ("2 tbsp butter, melted", 2, US, "4 tbsp butter, melted", []),
    ("1/2 tsp baking soda", 0.25, ORIG, "⅛ tsp baking soda", []),
    ("1/4 tsp vanilla extract", 0.2, ORIG, "1 pinch vanilla extract", []),
    ("1 1/2 cups all-purpose flour", 2, ORIG, "3 cups all-purpose flour", []),
    ("1 1/2 cups all-purpose flour", 1, M, "180 g all-purpose flour", ["converted"]),
    ("1 cup sugar", 0.5, M, "100 g sugar", ["converted"]),
    ("1 cup milk", 1, M, "240 ml milk", []),  # liquids stay volumes in metric
    ("1 cup chopped parsley", 1, M, "240 ml chopped parsley", []),  # no density: no grams
    ("1/4 cup olive oil", 0.5, ORIG, "2 tbsp olive oil", []),
    ("8 oz cream cheese", 1, M, "230 g cream cheese", []),
    ("2 lb chicken thighs", 1.5, M, "1.35 kg chicken thighs", []),
    ("1 stick butter", 1, M, "110 g butter", []),
    ("1 stick butter", 1.5, US, "1 ½ sticks butter", []),
    ("2 eggs", 1.5, ORIG, "3 eggs", []),
    ("2 eggs", 0.75, ORIG, "2 eggs", ["rounded"]),  # 1.5 eggs: rounded, with a note
    ("1 egg", 2, ORIG, "2 eggs", []),
    ("2 bay leaves", 0.5, ORIG, "1 bay leaf", []),
    ("3 cloves garlic", 0.5, ORIG, "2 cloves garlic", ["rounded"]),
    ("½ lemon", 3, ORIG, "1 ½ lemons", []),
    ("1 can (14 oz) diced tomatoes", 1.5, ORIG, "1 ½ cans (14 oz) diced tomatoes", []),
    ("a pinch of salt", 3, ORIG, "2 pinches of salt", ["seasoning", "rounded"]),
    ("1 tsp salt", 2, ORIG, "1 ½ tsp salt", ["seasoning"]),  # not 2 tsp
    ("1/2 tsp black pepper", 2, ORIG, "¾ tsp black pepper", ["seasoning"]),
    ("1 tsp chili flakes", 3, ORIG, "2 ¼ tsp chili flakes", ["seasoning"]),
    ("2 red bell peppers", 2, ORIG, "4 red bell peppers", []),  # a vegetable, not pepper
    ("1 tsp baking powder", 2, ORIG, "2 tsp baking powder", []),  # not a seasoning
    ("salt and pepper to taste", 3, ORIG, "salt and pepper to taste", ["unmeasured"]),
    ("1 springform pan (26 cm)", 2, ORIG, "1 springform pan (26 cm)", ["not_scaled"]),
    ("2-3 tbsp honey", 2, ORIG, "4–6 tbsp honey", []),
    ("200 g spaghetti", 1.5, US, "10 ½ oz spaghetti", []),
    ("200 g sugar", 1, US, "1 cup sugar", ["converted"]),
    ("500 ml milk", 1, US, "2 cups milk", []),
    ("100 ml cream", 1, US, "7 tbsp cream", []),  # neither ⅓ nor ½ cup
    ("1 kg potatoes", 1, US, "2 ¼ lb potatoes", []),
    ("1 x 400 g can tomatoes", 2, ORIG, "2 x 400 g can tomatoes", []),
    ("2 cm piece of ginger", 2, ORIG, "4 cm piece of ginger", []),  # a size of food: scaled
    ("1 9-inch pie pan", 2, ORIG, "1 9-inch pie pan", ["not_scaled"]),
    ("2 (14 oz) cans tomatoes", 0.5, ORIG, "1 (14 oz) cans tomatoes", []),
    ("1 cup plus 2 tbsp flour", 2, ORIG, "2 ¼ cups flour", []),  # the sum, scaled as one
    ("1 cup + 2 tablespoons sugar, sifted", 1, M, "230 g sugar, sifted", ["converted"]),
    ("1 heaped tbsp flour", 0.5, ORIG, "1 ½ heaped tsp flour", []),
    # A second measure of the same amount is dropped once the amount changes.
    ("255g/9oz summer berries", 1, US, "9 oz summer berries", []),
    ("590ml/1pint double cream", 0.75, ORIG, "440 ml double cream", []),
    (
        "¾ cup (4 ounces/115 grams) all-purpose flour",
        2,
        M,
        "180 g all-purpose flour",
        ["converted"],
    ),
    ("2 red bell peppers", 0.75, ORIG, "1 ½ red bell peppers", []),  # halves, not for eggs
    ("2 quarts water", 3, US, "6 quarts water", []),
    # Words before the amount stay where they are.
    ("Juice of 1 lemon", 2, ORIG, "Juice of 2 lemons", []),
    ("about 2 cups flour", 1, M, "about 240 g flour", ["converted"]),
    ("Salt, 1 tsp", 2, ORIG, "Salt, 1 ½ tsp", ["seasoning"]),
    ("6 l water", 1, US, "6 ½ quarts water", []),  # not 25 ⅓ cups
]

GERMAN = [
    ("1 EL Öl", 0.5, ORIG, "1 ½ TL Öl", []),
    ("2 EL Olivenöl", 1.5, ORIG, "3 EL Olivenöl", []),
    ("2 EL Olivenöl", 1.5, M, "3 EL Olivenöl", []),  # spoons stay spoons in metric
    ("8 EL Olivenöl", 2, M, "240 ml Olivenöl", []),  # … up to 4 EL
    ("1/2 TL Zimt", 2, ORIG, "¾ TL Zimt", ["seasoning"]),
    ("1 TL Salz", 0.5, ORIG, "½ TL Salz", []),  # scaled down: linear
    ("1 Prise Salz", 2, ORIG, "2 Prisen Salz", ["seasoning", "rounded"]),
    ("1 Msp. Muskat", 2, ORIG, "2 Msp. Muskat", ["seasoning", "rounded"]),
    ("2 Eier", 0.5, ORIG, "1 Ei", []),
    ("3 Eier", 0.5, ORIG, "2 Eier", ["rounded"]),
    ("1 Zwiebel", 2, ORIG, "2 Zwiebeln", []),
    ("1 Dose gehackte Tomaten (400 g)", 2, ORIG, "2 Dosen gehackte Tomaten (400 g)", []),
    ("1 Dose gehackte Tomaten (400 g)", 0.5, ORIG, "½ Dose gehackte Tomaten (400 g)", []),
    ("1 Becher Sahne", 1.5, ORIG, "1 ½ Becher Sahne", []),
    ("1 Becher Sahne", 1.5, US, "1 ½ Becher Sahne", []),  # a container: not converted
    ("1 Pck. Backpulver", 2, ORIG, "2 Pck. Backpulver", []),
    ("250 g Mehl", 1.5, ORIG, "380 g Mehl", []),
    ("250 g Mehl", 1, US, "2 Cups Mehl", ["converted"]),
    ("125 g Butter", 0.5, ORIG, "65 g Butter", []),
    ("125 g Butter", 1, US, "½ Cup Butter", ["converted"]),
    ("45 g Zucker", 1.5, ORIG, "70 g Zucker", []),  # 5 g steps up to 100 g
    ("5 g Trockenhefe", 1.5, ORIG, "8 g Trockenhefe", []),  # 1 g steps below 10 g
    ("250 ml Milch", 2, ORIG, "500 ml Milch", []),
    ("600 ml Milch", 2, M, "1,2 l Milch", []),
    ("0,5 l Brühe", 1.5, ORIG, "0,75 l Brühe", []),
    ("1 kg Kartoffeln", 0.5, ORIG, "0,5 kg Kartoffeln", []),
    ("200 g Parmesan", 1, US, "7 oz Parmesan", []),
    ("2-3 Knoblauchzehen", 2, ORIG, "4–6 Knoblauchzehen", []),
    ("2 Paprika", 2, ORIG, "4 Paprika", []),  # German Paprika is the vegetable
    ("1 TL Paprika edelsüß", 2, ORIG, "1 ½ TL Paprika edelsüß", ["seasoning"]),
    ("Salz und Pfeffer nach Geschmack", 2, ORIG, "Salz und Pfeffer nach Geschmack", ["unmeasured"]),
    ("1 Springform (26 cm)", 2, ORIG, "1 Springform (26 cm)", ["not_scaled"]),
    ("2 x 400g Dosen Kichererbsen", 0.5, ORIG, "1 x 400g Dosen Kichererbsen", []),
    ("2 Knoblauchzehen, gehackt", 0.5, ORIG, "1 Knoblauchzehe, gehackt", []),
    ("1 Tasse Reis", 2, M, "2 Tassen Reis", []),  # a Tasse is no fixed measure: kept
    ("1 Bund Petersilie", 1.5, ORIG, "1 ½ Bund Petersilie", []),
    ("1 Würfel Hefe", 0.5, ORIG, "½ Würfel Hefe", []),
    ("ca. 3–4 EL Milch", 2, ORIG, "ca. 6–8 EL Milch", []),
    ("Knoblauch, 2 Zehen", 2, ORIG, "Knoblauch, 4 Zehen", []),
    ("1 Apfel", 3, ORIG, "3 Äpfel", []),
    ("4 Brötchen", 0.25, ORIG, "1 Brötchen", []),
    ("2 Dosen weiße Bohnen (à 400 g)", 1.5, ORIG, "3 Dosen weiße Bohnen (à 400 g)", []),
    ("Butter zum Braten", 2, ORIG, "Butter zum Braten", ["unmeasured"]),
]


def _scaled(line: str, factor: float, units: UnitSystem, language: str) -> Ingredient:
    return scale_ingredient(parse_ingredient(line), factor, units, language)


@pytest.mark.parametrize(("line", "factor", "units", "text", "flags"), ENGLISH)
def test_english_lines(
    line: str, factor: float, units: UnitSystem, text: str, flags: list[str]
) -> None:
    scaled = _scaled(line, factor, units, "en")
    assert (scaled.text, scaled.flags) == (text, flags)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("line", "factor", "units", "text", "flags"), GERMAN)
def test_german_lines(
    line: str, factor: float, units: UnitSystem, text: str, flags: list[str]
) -> None:
    scaled = _scaled(line, factor, units, "de")
    assert (scaled.text, scaled.flags) == (text, flags)  # type: ignore[attr-defined]


def test_the_original_amount_is_kept_alongside() -> None:
    scaled = _scaled("1 1/2 cups all-purpose flour", 2, UnitSystem.METRIC, "en")
    assert (scaled.quantity, scaled.unit, scaled.amount) == (360, "g", "360")
    assert scaled.original is not None
    assert (scaled.original.text, scaled.original.quantity, scaled.original.unit) == (
        "1 1/2 cups all-purpose flour",
        1.5,
        "cups",
    )
    assert scaled.name == "all-purpose flour"
    assert scaled.notes == ["Converted between weight and volume (1 cup ≈ 120 g)."]


def test_us_amounts_are_fractions_and_metric_ones_decimals() -> None:
    us = _scaled("1 cup milk", 1 / 3 * 2, UnitSystem.US, "en")
    assert (us.amount, us.quantity) == ("⅔", 0.667)
    metric = _scaled("1 kg Kartoffeln", 1.25, UnitSystem.METRIC, "de")
    assert (metric.amount, metric.quantity) == ("1,25", 1.25)


def test_notes_follow_the_recipe_language() -> None:
    de = _scaled("3 Eier", 0.5, UnitSystem.ORIGINAL, "de")
    assert de.notes == ["Von 1,5 auf 2 gerundet."]
    en = _scaled("3 eggs", 0.5, UnitSystem.ORIGINAL, "en")
    assert en.notes == ["Rounded from 1.5 to 2."]
    salt = _scaled("1 tsp salt", 2, UnitSystem.ORIGINAL, "en")
    assert salt.notes == ["Seasoning: scaled ×1.62 instead of ×2; taste and add more if needed."]


def _recipe(servings: int | None) -> Recipe:
    return Recipe(
        title="Pfannkuchen",
        language="de",
        servings=servings,
        ingredients=[parse_ingredient(line) for line in ("250 g Mehl", "3 Eier", "1 Prise Salz")],
        steps=[Step(text="Den Teig 30 Minuten ruhen lassen.", minutes=30)],
    )


def test_a_recipe_scaled_to_servings_says_so_and_leaves_the_steps() -> None:
    scaled = scale_recipe(_recipe(4), ScaleOptions(servings=8))
    assert scaled.servings == 8
    assert [i.text for i in scaled.ingredients] == ["500 g Mehl", "6 Eier", "2 Prisen Salz"]
    assert scaled.steps == _recipe(4).steps  # times are not scaled
    assert scaled.scaling is not None
    assert (scaled.scaling.factor, scaled.scaling.original_servings) == (2, 4)
    assert scaled.scaling.units == "original"
    assert "Zeiten" in scaled.scaling.notes[0]


def test_scale_factor_works_without_servings_and_servings_do_not() -> None:
    scaled = scale_recipe(_recipe(None), ScaleOptions(scale=0.5))
    assert scaled.servings is None
    assert scaled.ingredients[0].text == "130 g Mehl"
    with pytest.raises(ServingsUnknown) as caught:
        scale_recipe(_recipe(None), ScaleOptions(servings=2))
    assert caught.value.code == "servings_unknown" and "scale=" in caught.value.message


def test_units_alone_convert_without_scaling() -> None:
    scaled = scale_recipe(_recipe(4), ScaleOptions(units=UnitSystem.US))
    assert scaled.servings == 4 and scaled.scaling is not None and scaled.scaling.notes == []
    assert [i.text for i in scaled.ingredients] == ["2 Cups Mehl", "3 Eier", "1 Prise Salz"]


def _labelled_lines() -> list[tuple[str, str]]:
    # The held-out ingredient lines of issue 13 (tests/data/ingredients/README.md).
    lines = []
    for language in ("en", "de"):
        path = Path(__file__).parent / "data" / "ingredients" / f"{language}.jsonl"
        for row in path.read_text().splitlines():
            lines.append((language, json.loads(row)["sentence"]))
    return lines


@pytest.mark.parametrize("units", list(UnitSystem))
def test_every_labelled_line_scales_to_something_a_cook_can_read(units: UnitSystem) -> None:
    us_units = US_MEASURES
    for language, line in _labelled_lines():
        item = parse_ingredient(line)
        for factor in (0.5, 1.5, 3):
            scaled = scale_ingredient(item, factor, units, language)
            if item.quantity is None or "not_scaled" in scaled.flags:
                assert scaled.text == item.text
                continue
            assert scaled.quantity is not None and scaled.quantity > 0, (line, factor, scaled)
            if scaled.quantity != item.quantity:
                assert scaled.amount and scaled.amount in scaled.text, (line, factor, scaled)
            assert "¾ tbsp" not in scaled.text and "¾ EL" not in scaled.text
            shown = canonical(scaled.unit)
            if units is UnitSystem.METRIC:
                assert shown not in us_units, (line, factor, scaled)
            if units is UnitSystem.US:
                assert shown not in METRIC_MEASURES, (line, factor, scaled)
