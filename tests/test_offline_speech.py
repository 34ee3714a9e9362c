"""Ingredients said in the video or written in prose, through the offline extractor (issue 13, item 1).

A video whose subtitles say "You need 200 g flour, 2 eggs…" has those ingredients;
a sentence with a duration or a temperature has none; the same ingredient in the
caption's list and in the speech is one entry, and a disagreement is noted.
"""

import pytest

from resimply.errors import NotARecipe
from resimply.models import Ingredient, Recipe
from resimply.providers.base import ExtractionInput
from resimply.providers.offline import OfflineExtractor

Row = tuple[float | None, str | None, str | None]


class Progress:
    async def update(self, details: str, fraction: float | None = None) -> None:
        pass


async def extract(caption: str | None, subtitles: str | None) -> Recipe:
    data = ExtractionInput(
        caption=caption,
        subtitles=subtitles,
        transcript=None,
        frames=(),
        language=None,
        source_language=None,
    )
    extraction = await OfflineExtractor().extract(data, Progress())
    return extraction.recipe


def rows(ingredients: list[Ingredient]) -> list[Row]:
    return [(i.quantity, i.unit, i.name) for i in ingredients]


async def test_amounts_said_in_the_subtitles_become_ingredients() -> None:
    recipe = await extract(
        None, "You need 200 g flour, 2 eggs, 300 ml milk, 1 tbsp sugar and a pinch of salt"
    )
    assert rows(recipe.ingredients) == [
        (200.0, "g", "flour"),
        (2.0, None, "eggs"),
        (300.0, "ml", "milk"),
        (1.0, "tbsp", "sugar"),
        (1.0, "pinch", "salt"),
    ]
    assert recipe.language == "en"


async def test_german_amounts_said_in_the_subtitles_become_ingredients() -> None:
    subtitles = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\nDu brauchst 500 g Mehl, 2 Eier und eine Prise Salz.\n\n"
        "00:00:04.000 --> 00:00:07.000\nGib 2 EL Olivenöl dazu und verrühre alles.\n"
    )
    recipe = await extract("Brotteig 🍞", subtitles)
    assert rows(recipe.ingredients) == [
        (500.0, "g", "Mehl"),
        (2.0, None, "Eier"),
        (1.0, "Prise", "Salz"),
        (2.0, "EL", "Olivenöl"),
    ]
    assert recipe.language == "de"


async def test_steps_are_still_read_from_speech() -> None:
    subtitles = (
        "First add 2 tbsp soy sauce to the pan. Then stir in 200 g rice and cook for 10 minutes."
    )
    recipe = await extract(None, subtitles)
    assert rows(recipe.ingredients) == [(2.0, "tbsp", "soy sauce"), (200.0, "g", "rice")]
    assert [step.text for step in recipe.steps] == [
        "Add 2 tbsp soy sauce to the pan.",
        "Stir in 200 g rice and cook for 10 minutes.",
    ]


@pytest.mark.parametrize(
    "subtitles",
    [
        "I love this recipe, it takes 20 minutes. Bake for 2 hours at 180 degrees.",
        "This is one of my 3 favourite videos and it serves 4 people. Preheat to 200°C.",
        "Cut the potatoes into 2 cm cubes. I made this 100 times in 2024.",
        "Ich liebe dieses Rezept, es dauert nur 20 Minuten. Bei 180 Grad 2 Stunden backen.",
        "Das reicht für 4 Personen und ich habe es schon 3 Mal gemacht.",
    ],
)
async def test_durations_temperatures_and_counts_are_not_ingredients(subtitles: str) -> None:
    with pytest.raises(NotARecipe):
        await extract(None, subtitles)
    caption = "Ingredients:\n- 200 g spaghetti\n- 2 eggs"
    recipe = await extract(caption, subtitles)
    assert rows(recipe.ingredients) == [(200.0, "g", "spaghetti"), (2.0, None, "eggs")]


async def test_caption_list_and_speech_merge_without_duplicates() -> None:
    caption = "Pancakes\nIngredients:\n- 200 g flour\n- 2 eggs\n- 250 ml milk\n- salt"
    subtitles = (
        "You need 200 grams of flour, 2 eggs, 300 ml milk, a pinch of salt and 1 tbsp sugar."
    )
    recipe = await extract(caption, subtitles)
    assert rows(recipe.ingredients) == [
        (200.0, "g", "flour"),
        (2.0, None, "eggs"),
        (250.0, "ml", "milk"),  # the caption's list wins a disagreement…
        (1.0, "pinch", "salt"),  # …but a measured amount beats none
        (1.0, "tbsp", "sugar"),  # said only in the video
    ]
    milk = recipe.ingredients[2]
    assert milk.note == "in the video: 300 ml milk"
    assert recipe.ingredients[0].note is None  # 200 grams == 200 g: no conflict


async def test_a_more_precise_spoken_amount_wins_and_the_vaguer_one_is_noted() -> None:
    caption = "Zutaten:\n- 2 Zwiebeln\n- Mehl\n- Öl"
    subtitles = "Zuerst 2 Zwiebeln schneiden. Dann 2 Zwiebeln, 500 g Mehl und 2 EL Öl in die Schüssel geben."
    recipe = await extract(caption, subtitles)
    assert rows(recipe.ingredients) == [
        (2.0, None, "Zwiebeln"),
        (500.0, "g", "Mehl"),
        (2.0, "EL", "Öl"),
    ]
    assert [i.note for i in recipe.ingredients] == [None, None, None]


async def test_a_caption_count_loses_to_a_spoken_measure_and_is_noted() -> None:
    caption = "Zutaten:\n- 1 Olivenöl\n- 3 Tomaten"
    recipe = await extract(caption, "Gib 2 EL Olivenöl dazu.")
    assert rows(recipe.ingredients)[0] == (2.0, "EL", "Olivenöl")
    assert recipe.ingredients[0].note == "in der Liste: 1 Olivenöl"


async def test_amounts_written_in_the_caption_prose_become_ingredients() -> None:
    caption = (
        "Easy pancakes!\nYou need 200 g flour, 2 eggs and 300 ml milk. "
        "Mix everything and fry in butter.\n#pancakes"
    )
    recipe = await extract(caption, None)
    assert rows(recipe.ingredients) == [
        (200.0, "g", "flour"),
        (2.0, None, "eggs"),
        (300.0, "ml", "milk"),
    ]


@pytest.mark.parametrize(
    "subtitles",
    [
        "I bought 2 bananas and 3 apples at the store today.",
        "I drink 2 cups of coffee and 1 liter of water every day.",
        "Five stars, two thumbs up, one of the best restaurants in town.",
        "Ich trinke jeden Tag 2 Tassen Kaffee und 1 Liter Wasser.",
    ],
)
async def test_a_few_amounts_in_chatter_are_not_a_recipe(subtitles: str) -> None:
    with pytest.raises(NotARecipe):
        await extract("My day 🌞 #vlog", subtitles)


async def test_two_amounts_with_a_spoken_instruction_are_a_recipe() -> None:
    recipe = await extract(None, "Whisk 2 eggs with 100 ml milk and fry them in butter.")
    assert rows(recipe.ingredients) == [(2.0, None, "eggs"), (100.0, "ml", "milk")]


async def test_a_plain_word_said_matches_the_listed_kind() -> None:
    caption = "Ingredients:\n- 250 g plain flour\n- 1 tbsp caster sugar\n- 1 tbsp brown sugar"
    recipe = await extract(caption, "Sift 300 g flour and add 1 tbsp sugar.")
    assert rows(recipe.ingredients) == [
        (250.0, "g", "plain flour"),  # the only flour listed: the same one
        (1.0, "tbsp", "caster sugar"),
        (1.0, "tbsp", "brown sugar"),
    ]  # "sugar" is one of the two listed, which one is unknown: no third entry
    assert recipe.ingredients[0].note == "in the video: 300 g flour"


async def test_seasonings_said_to_taste_join_without_an_amount() -> None:
    subtitles = (
        "You need 200 g pasta, 2 cloves of garlic and 3 tbsp olive oil. "
        "Season with salt and pepper to taste."
    )
    recipe = await extract(None, subtitles)
    assert [(i.quantity, i.unit, i.name, i.note) for i in recipe.ingredients][3:] == [
        (None, None, "salt", "to taste"),
        (None, None, "pepper", "to taste"),
    ]


async def test_german_seasonings_abgeschmeckt_are_not_added_twice() -> None:
    caption = "Zutaten:\n- 500 g Nudeln\n- 1 Prise Salz\n- 200 ml Sahne"
    recipe = await extract(caption, "Zum Schluss mit Salz und Pfeffer abschmecken.")
    assert [(i.quantity, i.unit, i.name, i.note) for i in recipe.ingredients] == [
        (500.0, "g", "Nudeln", None),
        (1.0, "Prise", "Salz", None),
        (200.0, "ml", "Sahne", None),
        (None, None, "Pfeffer", "nach Geschmack"),
    ]


async def test_seasonings_alone_are_not_a_recipe() -> None:
    with pytest.raises(NotARecipe):
        await extract("Mood 🌧️", "Salt and pepper to taste, that is how I like my life.")
