"""One ingredient line → quantity, unit, name, note (resimply.offline.ingredients)."""

import pytest

from resimply.offline.ingredients import looks_like_ingredient, parse_ingredient

Row = tuple[float | None, float | None, str | None, str | None, str | None]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("200 g spaghetti", (200.0, None, "g", "spaghetti", None)),
        ("- 200g spaghetti", (200.0, None, "g", "spaghetti", None)),
        ("• 0,5 l Milch", (0.5, None, "l", "Milch", None)),
        ("▪️ 2EL Olivenöl", (2.0, None, "EL", "Olivenöl", None)),
        ("🧄 3 cloves garlic, minced", (3.0, None, "cloves", "garlic", "minced")),
        ("1½ Tbsp olive oil, divided", (1.5, None, "Tbsp", "olive oil", "divided")),
        ("1 1/2 cups flour", (1.5, None, "cups", "flour", None)),
        ("2-3 Knoblauchzehen (fein gehackt)", (2.0, 3.0, None, "Knoblauchzehen", "fein gehackt")),
        ("2–3 tbsp honey", (2.0, 3.0, "tbsp", "honey", None)),
        ("2 bis 3 Tomaten", (2.0, 3.0, None, "Tomaten", None)),
        ("a pinch of salt", (1.0, None, "pinch", "salt", None)),
        ("eine Prise Salz", (1.0, None, "Prise", "Salz", None)),
        ("1 Pck. Backpulver", (1.0, None, "Pck", "Backpulver", None)),
        ("1 Msp. Muskat", (1.0, None, "Msp", "Muskat", None)),
        ("2 Zehen Knoblauch", (2.0, None, "Zehen", "Knoblauch", None)),
        ("1 Bund Petersilie", (1.0, None, "Bund", "Petersilie", None)),
        ("1 can (400g) chopped tomatoes", (1.0, None, "can", "chopped tomatoes", "400g")),
        ("200 g / 7 oz spaghetti", (200.0, None, "g", "spaghetti", "7 oz")),
        ("1 heaped tbsp sugar", (1.0, None, "tbsp", "sugar", "heaped")),
        ("ca. 200 g Sahne", (200.0, None, "g", "Sahne", None)),
        ("1.000 g Mehl", (1000.0, None, "g", "Mehl", None)),
        ("2 eggs", (2.0, None, None, "eggs", None)),
        ("two large eggs", (2.0, None, None, "eggs", "large")),
        ("Mehl: 500 g", (500.0, None, "g", "Mehl", None)),
        ("Kreuzkümmel ½ TL", (0.5, None, "TL", "Kreuzkümmel", None)),
        ("Eier 4", (4.0, None, None, "Eier", None)),
        ("Dose Tomaten 1", (1.0, None, "Dose", "Tomaten", None)),
        ("Salt and pepper to taste", (None, None, None, "Salt and pepper", "to taste")),
        ("Petersilie zum Garnieren", (None, None, None, "Petersilie", "zum Garnieren")),
        ("Parmesan, grated", (None, None, None, "Parmesan", "grated")),
        ("Salz, Pfeffer", (None, None, None, "Salz, Pfeffer", None)),
        ("an onion", (None, None, None, "onion", None)),
        ("a little olive oil", (None, None, None, "a little olive oil", None)),
    ],
)
def test_parse_ingredient(line: str, expected: Row) -> None:
    ingredient = parse_ingredient(line)
    got = (
        ingredient.quantity,
        ingredient.quantity_max,
        ingredient.unit,
        ingredient.name,
        ingredient.note,
    )
    assert got == expected


def test_text_is_the_line_without_bullets_and_emoji() -> None:
    ingredient = parse_ingredient("  • 🧀 50 g Parmesan ✨", group="Sauce")
    assert ingredient.text == "50 g Parmesan"
    assert ingredient.group == "Sauce"


def test_a_unit_inside_a_word_is_not_a_unit() -> None:
    ingredient = parse_ingredient("2 garlic heads")
    assert (ingredient.quantity, ingredient.unit, ingredient.name) == (2.0, None, "garlic heads")


def test_looks_like_ingredient() -> None:
    assert looks_like_ingredient("200g spaghetti")
    assert looks_like_ingredient("2 eggs")
    assert not looks_like_ingredient("3 days until vacation!!")
    assert not looks_like_ingredient("Sunday vibes")
    assert not looks_like_ingredient("Top 10 tips for 2024")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("¼pint-½pint milk", (0.25, 0.5, "pint", "milk")),
        ("75ml-110ml/3-4fl oz chicken stock", (75.0, 110.0, "ml", "chicken stock")),
        ("¾ cup to 1 cup milk", (0.75, 1.0, "cup", "milk")),
        ("1 cup to 2 tbsp sugar", (1.0, None, "cup", "sugar")),  # not one unit: a note
    ],
)
def test_a_range_written_with_its_unit_twice(
    line: str, expected: tuple[float, float | None, str, str]
) -> None:
    ingredient = parse_ingredient(line)
    got = (ingredient.quantity, ingredient.quantity_max, ingredient.unit, ingredient.name)
    assert got == expected
