"""Numbers as people write them, in whole ingredient lines, English and German (issue 13, item 4).

Each row: line → (quantity, quantity_max, unit, name, note). A multiplier with a
package ("2 x 400 g cans") counts packages, because that is what a cook buys;
without one ("2 x 400 g chickpeas") it is the total that goes in the pot. The
other reading is kept in the note.
"""

import pytest

from resimply.offline.ingredients import parse_ingredient

Row = tuple[float | None, float | None, str | None, str | None, str | None]

LINES: list[tuple[str, Row]] = [
    # unicode fractions and mixed numbers
    ("½ cup sugar", (0.5, None, "cup", "sugar", None)),
    ("¾ TL Salz", (0.75, None, "TL", "Salz", None)),
    ("⅓ cup water", (0.333, None, "cup", "water", None)),
    ("⅔ Tasse Milch", (0.667, None, "Tasse", "Milch", None)),
    ("¼ tsp nutmeg", (0.25, None, "tsp", "nutmeg", None)),
    ("⅛ TL Muskat", (0.125, None, "TL", "Muskat", None)),
    ("1 ½ cups milk", (1.5, None, "cups", "milk", None)),
    ("1½ EL Zucker", (1.5, None, "EL", "Zucker", None)),
    ("1 1/2 cups flour", (1.5, None, "cups", "flour", None)),
    ("1 and a half cups milk", (1.5, None, "cups", "milk", None)),
    ("2 und ein halb EL Zucker", (2.5, None, "EL", "Zucker", None)),
    # ranges
    ("2–3 eggs", (2.0, 3.0, None, "eggs", None)),
    ("2-3 Eier", (2.0, 3.0, None, "Eier", None)),
    ("2 to 3 cloves garlic", (2.0, 3.0, "cloves", "garlic", None)),
    ("2 bis 3 Tomaten", (2.0, 3.0, None, "Tomaten", None)),
    # decimals and thousands
    ("0,5 l Milch", (0.5, None, "l", "Milch", None)),
    ("1,5 kg Kartoffeln", (1.5, None, "kg", "Kartoffeln", None)),
    ("1.000 g Mehl", (1000.0, None, "g", "Mehl", None)),
    ("1.5 cups flour", (1.5, None, "cups", "flour", None)),
    ("0.25 cup oil", (0.25, None, "cup", "oil", None)),
    # vague amounts
    ("a pinch of salt", (1.0, None, "pinch", "salt", None)),
    ("a handful of basil", (1.0, None, "handful", "basil", None)),
    ("pinch salt", (None, None, "pinch", "salt", None)),
    ("salt to taste", (None, None, None, "salt", "to taste")),
    ("olive oil, optional", (None, None, None, "olive oil", "optional")),
    ("optional: 1 tsp chili flakes", (1.0, None, "tsp", "chili flakes", "optional")),
    ("some salt", (None, None, None, "salt", "some")),
    ("eine Prise Salz", (1.0, None, "Prise", "Salz", None)),
    ("eine Handvoll Basilikum", (1.0, None, "Handvoll", "Basilikum", None)),
    ("Prise Zucker", (None, None, "Prise", "Zucker", None)),
    ("Salz nach Geschmack", (None, None, None, "Salz", "nach Geschmack")),
    ("etwas Öl", (None, None, None, "Öl", "etwas")),
    ("etwa 200 g Mehl", (200.0, None, "g", "Mehl", None)),
    # multipliers
    ("2 x 400 g cans chopped tomatoes", (2.0, None, "cans", "chopped tomatoes", "400 g")),
    ("2 × 400 g Dosen Tomaten", (2.0, None, "Dosen", "Tomaten", "400 g")),
    ("2x400g tins tomatoes", (2.0, None, "tins", "tomatoes", "400g")),
    ("2 x 400 g chickpeas", (800.0, None, "g", "chickpeas", "2 x 400 g")),
    ("3 x 100 g Lachs", (300.0, None, "g", "Lachs", "3 x 100 g")),
    # alternatives stay in the name, as in the labelled lines of issue 13
    ("butter or oil", (None, None, None, "butter or oil", None)),
    ("2 tbsp butter or oil", (2.0, None, "tbsp", "butter or oil", None)),
    ("Butter oder Öl", (None, None, None, "Butter oder Öl", None)),
    ("1 EL Butter oder Margarine", (1.0, None, "EL", "Butter oder Margarine", None)),
    # second measures
    ("1 cup (240 ml) milk", (1.0, None, "cup", "milk", "240 ml")),
    ("200g/7oz shallots, diced", (200.0, None, "g", "shallots", "7oz; diced")),
    ("200 g / 7 oz spaghetti", (200.0, None, "g", "spaghetti", "7 oz")),
    ("1 Becher (200 g) Sahne", (1.0, None, "Becher", "Sahne", "200 g")),
]


@pytest.mark.parametrize(("line", "expected"), LINES, ids=[line for line, _ in LINES])
def test_numbers_people_write(line: str, expected: Row) -> None:
    ingredient = parse_ingredient(line)
    got = (
        ingredient.quantity,
        ingredient.quantity_max,
        ingredient.unit,
        ingredient.name,
        ingredient.note,
    )
    assert got == expected


def test_the_written_line_is_kept_as_the_text() -> None:
    assert parse_ingredient("2 x 400 g chickpeas").text == "2 x 400 g chickpeas"
