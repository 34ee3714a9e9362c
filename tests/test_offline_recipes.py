"""Several recipes in one caption vs. ingredient groups of one recipe
(resimply.offline.recipes; the rule is in docs/api.md, "Several recipes in one post")."""

from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from resimply.errors import NotARecipe
from resimply.offline.recipes import MAX_RECIPES, is_component, parse_recipes, split_recipes
from resimply.providers.offline import OfflineExtractor
from tests.test_offline_extractor import RecordingProgress, extraction_input

CAPTIONS = Path(__file__).parent / "data" / "captions"

# Main and sauce listed together before one method: they share the steps, so
# the sauce is a group of the one recipe.
EN_SHARED_METHOD = """Schnitzel with mushroom sauce

For the schnitzel:
- 2 pork cutlets
- 2 eggs
- 100 g breadcrumbs

For the sauce:
- 250 g mushrooms
- 200 ml cream

Method:
1. Bread the cutlets and fry them for 3 minutes per side.
2. Fry the mushrooms, add the cream and simmer for 5 minutes.
"""

# "Für die Soße:" after the main's steps, with its own steps: a second recipe.
DE_SAUCE_AFTER_STEPS = """Putengeschnetzeltes
Zutaten:
- 500 g Putenbrust
- 1 Zwiebel
- 2 EL Öl

Zubereitung:
1. Fleisch in Streifen schneiden.
2. Mit der Zwiebel im Öl 8 Minuten braten.

Für die Soße:
- 200 ml Sahne
- 1 TL Paprikapulver
- 100 ml Brühe

1. Sahne und Brühe aufkochen.
2. Mit Paprika würzen und 5 Minuten köcheln lassen.
"""


def _caption(name: str) -> str:
    return (CAPTIONS / name).read_text()


# --- two recipes ------------------------------------------------------------------


def test_en_a_main_and_its_sauce_with_their_own_steps_are_two_recipes() -> None:
    main, sauce = parse_recipes(_caption("en_schnitzel_and_sauce.txt"), None, None, None)

    assert main.title == "Crispy Schnitzel with Mushroom Sauce"
    assert main.servings == 2
    assert [i.name for i in main.ingredients][:2] == ["pork cutlets", "flour"]
    assert "mushrooms" not in {i.name for i in main.ingredients}
    assert main.steps[0].text == "Pound the cutlets thin."
    assert len(main.steps) == 3

    # "For the sauce:" names a part: the title says whose.
    assert sauce.title == "Crispy Schnitzel with Mushroom Sauce – sauce"
    assert [(i.quantity, i.unit, i.name) for i in sauce.ingredients][:3] == [
        (250, "g", "mushrooms"),
        (1, None, "shallot"),
        (200, "ml", "cream"),
    ]
    assert all(i.group is None for i in sauce.ingredients)
    assert [s.text for s in sauce.steps] == [
        "Fry the shallot and mushrooms for 5 minutes.",
        "Add the cream and simmer for 5 minutes.",
    ]
    # The whole caption's language and hashtags.
    assert (sauce.language, sauce.tags) == ("en", ["schnitzel", "dinner"])
    assert main.tags == ["schnitzel", "dinner"]


def test_de_a_titled_second_block_is_a_second_recipe() -> None:
    main, side = parse_recipes(_caption("de_kartoffelpuffer_und_apfelmus.txt"), None, None, None)

    assert (main.title, main.servings, main.language) == ("Kartoffelpuffer mit Apfelmus", 4, "de")
    assert [i.name for i in main.ingredients] == ["Kartoffeln", "Zwiebel", "Eier", "Mehl", "Salz"]
    assert len(main.steps) == 3
    # Its own title line names the dish.
    assert (side.title, side.language) == ("Apfelmus", "de")
    assert [(i.quantity, i.unit, i.name) for i in side.ingredients] == [
        (1, "kg", "Äpfel"),
        (100, "ml", "Wasser"),
        (2, "EL", "Zucker"),
    ]
    assert side.steps[0].text == "Äpfel schälen und würfeln."


def test_de_fuer_die_sosse_after_the_steps_is_a_second_recipe() -> None:
    main, sauce = parse_recipes(DE_SAUCE_AFTER_STEPS, None, None, None)
    assert main.title == "Putengeschnetzeltes"
    assert [i.name for i in main.ingredients] == ["Putenbrust", "Zwiebel", "Öl"]
    assert sauce.title == "Putengeschnetzeltes – Soße"
    assert [i.name for i in sauce.ingredients] == ["Sahne", "Paprikapulver", "Brühe"]
    assert len(sauce.steps) == 2


# --- one recipe with groups --------------------------------------------------------


def test_en_dough_and_filling_before_one_method_are_groups() -> None:
    [rolls] = parse_recipes(_caption("en_cinnamon_rolls_groups.txt"), None, None, None)
    assert rolls.title == "Cinnamon Rolls"
    assert [(i.name, i.group) for i in rolls.ingredients] == [
        ("flour", "dough"),
        ("milk", "dough"),
        ("dry yeast", "dough"),
        ("sugar", "dough"),
        ("butter", "filling"),
        ("brown sugar", "filling"),
        ("cinnamon", "filling"),
    ]
    assert len(rolls.steps) == 3


def test_en_a_sauce_sharing_the_main_s_method_is_a_group() -> None:
    [recipe] = parse_recipes(EN_SHARED_METHOD, None, None, None)
    assert {i.group for i in recipe.ingredients} == {"schnitzel", "sauce"}
    assert [i.name for i in recipe.ingredients if i.group == "sauce"] == ["mushrooms", "cream"]
    assert len(recipe.steps) == 2


def test_de_a_filling_with_its_own_steps_stays_a_group_of_the_cake() -> None:
    # Teig and Füllung each have their own steps, but they are parts of one cake.
    [cake] = parse_recipes(_caption("de_kaesekuchen_groups.txt"), None, None, None)
    assert cake.title == "Käsekuchen mit Mürbeteig"
    groups = {(i.name, i.group) for i in cake.ingredients}
    assert {("Mehl", "Teig"), ("Butter", "Teig"), ("Quark", "Füllung")} <= groups
    assert ("Eier", "Füllung") in groups
    assert not any("Quark" in s.text for s in cake.steps)  # an ingredient, not a step
    assert len(cake.steps) == 4


@pytest.mark.parametrize(
    ("name", "component"),
    [
        ("the dough", True),
        ("pizza dough", True),
        ("Teig", True),
        ("Mürbeteig", True),
        ("Tortenboden", True),
        ("Käsefüllung", True),
        ("the filling", True),
        ("the frosting", True),
        ("Schokoglasur", True),
        ("sauce", False),
        ("Soße", False),
        ("Apfelmus", False),
        ("the dip", False),
        ("Mushroom Sauce", False),
        ("Gurkensalat", False),
    ],
)
def test_what_names_a_part_of_a_dish(name: str, component: bool) -> None:
    assert is_component(name) is component


# --- edges ---------------------------------------------------------------------------


def test_a_single_recipe_is_one_part_and_parses_as_before() -> None:
    caption = _caption("en_cinnamon_rolls_groups.txt")
    assert len(split_recipes(caption)) == 1


def test_a_trailing_block_that_is_no_recipe_stays_with_the_one_before() -> None:
    caption = _caption("en_schnitzel_and_sauce.txt").replace(
        "For the sauce:\n- 250 g mushrooms\n- 1 shallot\n- 200 ml cream\n- salt and pepper\n\n"
        "1. Fry the shallot and mushrooms for 5 minutes.\n"
        "2. Add the cream and simmer for 5 minutes.\n",
        "Thanks for watching\nFollow me\n",
    )
    assert len(parse_recipes(caption, None, None, None)) == 1


def test_no_recipe_is_still_not_a_recipe() -> None:
    with pytest.raises(NotARecipe):
        parse_recipes("Sunday vibes ☀️\nwith the family\n#fyp", None, None, None)


async def test_the_offline_extractor_returns_the_second_recipe_as_another() -> None:
    extraction = await OfflineExtractor().extract(
        extraction_input(_caption("de_kartoffelpuffer_und_apfelmus.txt")), RecordingProgress()
    )
    assert extraction.recipe.title == "Kartoffelpuffer mit Apfelmus"
    assert [r.title for r in extraction.others] == ["Apfelmus"]
    assert [r.title for r in extraction.recipes] == ["Kartoffelpuffer mit Apfelmus", "Apfelmus"]
    assert extraction.evidence == ("caption",)


def test_a_second_recipe_keeps_its_title_and_servings_above_its_heading() -> None:
    caption = (
        "Gulasch\nZutaten:\n- 1 kg Rindfleisch\n- 500 g Zwiebeln\n- 2 EL Paprika\n\n"
        "Zubereitung:\n1. Fleisch anbraten.\n2. Zwiebeln zugeben und 2 Stunden schmoren.\n\n"
        "Semmelknödel\nFür 3 Personen\n\nZutaten:\n- 6 Brötchen vom Vortag\n- 250 ml Milch\n"
        "- 2 Eier\n\nZubereitung:\n1. Brötchen würfeln und mit warmer Milch übergießen.\n"
        "2. Knödel formen und 20 Minuten ziehen lassen.\n"
    )
    main, dumplings = parse_recipes(caption, None, None, None)
    assert (main.title, len(main.steps)) == ("Gulasch", 2)
    assert (dumplings.title, dumplings.servings) == ("Semmelknödel", 3)
    assert [i.name for i in dumplings.ingredients][1:] == ["Milch", "Eier"]


def test_a_caption_of_many_recipes_gives_at_most_max_recipes() -> None:
    one = (Path(__file__).parent.parent / "resimply/samples/carbonara.txt").read_text()
    recipes = parse_recipes((one + "\n") * 8, None, None, None)
    assert len(recipes) == MAX_RECIPES
    assert [r.title for r in recipes] == ["Creamy Pasta Carbonara"] * MAX_RECIPES
    assert len(recipes[0].steps) == 6
    assert len(recipes[-1].steps) == 6 * (8 - MAX_RECIPES + 1)  # the rest stays with the last


# --- any caption ---------------------------------------------------------------------

_line = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "Ingredients:",
            "Zutaten:",
            "Method:",
            "Zubereitung:",
            "For the sauce:",
            "Für den Teig:",
            "Mushroom sauce",
            "Apfelmus",
            "- 200 g flour",
            "- 2 EL Zucker",
            "1. Fry for 5 minutes.",
            "2. Mix well.",
            "Serves 4",
            "#dinner",
            "",
        ]
    ),
)


@settings(max_examples=150, derandomize=True, deadline=None, database=None)
@given(st.lists(_line, max_size=40).map("\n".join))
def test_any_caption_is_between_one_and_max_recipes_or_none(caption: str) -> None:
    parts = split_recipes(caption)
    assert 1 <= len(parts) <= MAX_RECIPES
    # Nothing is lost or repeated: the parts are the caption's lines, in order.
    assert "\n".join(p.text for p in parts) == "\n".join(caption.splitlines())
    try:
        recipes = parse_recipes(caption, None, None, None)
    except NotARecipe:
        return
    assert 1 <= len(recipes) <= len(parts)
    assert all(r.title for r in recipes)


def test_a_first_block_that_is_no_recipe_does_not_hide_the_next() -> None:
    # The "first recipe" has a heading and a step but nothing measured.
    caption = (
        "Ingredients:\nlove\n\nMethod:\n1. Smile.\n\n"
        "Mushroom sauce\n- 250 g mushrooms\n- 200 ml cream\n\n"
        "1. Fry the mushrooms for 5 minutes.\n2. Add the cream and simmer.\n"
    )
    # One recipe of the whole caption (not NotARecipe for the empty first block),
    # the sauce's lines in it.
    [recipe] = parse_recipes(caption, None, None, None)
    lines = [i.text for i in recipe.ingredients] + [s.text for s in recipe.steps]
    assert "250 g mushrooms" in lines and "Fry the mushrooms for 5 minutes." in lines
