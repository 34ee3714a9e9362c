"""Amounts named in running text → ingredients (resimply.offline.spoken), EN and DE."""

import math

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from resimply.offline.spoken import mentions, to_taste
from resimply.offline.units import UNITS

Row = tuple[float | None, str | None, str | None, str | None]

SENTENCES: list[tuple[str, str, list[Row]]] = [
    (
        "en",
        "You need 200 g flour, 2 eggs, 300 ml milk, 1 tbsp sugar and a pinch of salt",
        [
            (200.0, "g", "flour", None),
            (2.0, None, "eggs", None),
            (300.0, "ml", "milk", None),
            (1.0, "tbsp", "sugar", None),
            (1.0, "pinch", "salt", None),
        ],
    ),
    ("en", "Now add 2 tbsp soy sauce to the pan and stir.", [(2.0, "tbsp", "soy sauce", None)]),
    (
        "en",
        "So first crack 3 eggs into a bowl then whisk in half a cup of milk",
        [(3.0, None, "eggs", None), (0.5, "cup", "milk", None)],
    ),
    (
        "en",
        "Add two cloves of garlic and one onion",
        [(2.0, "cloves", "garlic", None), (1.0, None, "onion", None)],
    ),
    (
        "en",
        "Add 1 cup (240 ml) milk and 200g/7oz shallots, diced",
        [(1.0, "cup", "milk", "240 ml"), (200.0, "g", "shallots", "7oz")],
    ),
    (
        "en",
        "Use 2 x 400 g cans of chopped tomatoes",
        [(2.0, "cans", "chopped tomatoes", "400 g")],
    ),
    ("en", "we need about 250 grams of butter you know", [(250.0, "grams", "butter", None)]),
    ("en", "stir in 2-3 tbsp honey then serve", [(2.0, "tbsp", "honey", None)]),
    (
        "de",
        "Du brauchst 500 g Mehl, 2 Eier und eine Prise Salz",
        [(500.0, "g", "Mehl", None), (2.0, None, "Eier", None), (1.0, "Prise", "Salz", None)],
    ),
    ("de", "Gib 2 EL Olivenöl dazu", [(2.0, "EL", "Olivenöl", None)]),
    ("en", "You'll need about 200 g flour", [(200.0, "g", "flour", None)]),
    ("en", "pour in 1 and a half cups of broth and simmer", [(1.5, "cups", "broth", None)]),
    ("en", "add 2 sheets puff pastry", [(2.0, "sheets", "puff pastry", None)]),
    (
        "en",
        "I usually use 2 or 3 cloves of garlic but you can use more",
        [(2.0, "cloves", "garlic", None)],
    ),
    (
        "de",
        "Dann 200 g geriebenen Käse unterrühren und 20 Minuten backen.",
        [(200.0, "g", "geriebenen Käse", None)],
    ),
    (
        "de",
        "Jetzt 1 Dose Tomaten und einen Schuss Sahne dazugeben",
        [(1.0, "Dose", "Tomaten", None), (1.0, "Schuss", "Sahne", None)],
    ),
    (
        "de",
        "Noch 0,5 l Milch und 1.000 g Kartoffeln",
        [(0.5, "l", "Milch", None), (1000.0, "g", "Kartoffeln", None)],
    ),
    ("de", "Schneide 2 Zwiebeln in Würfel", [(2.0, None, "Zwiebeln", None)]),
]

NOT_INGREDIENTS: list[tuple[str, str]] = [
    ("en", "I love this recipe, it takes 20 minutes"),
    ("en", "Bake for 2 hours at 180 degrees."),
    ("en", "Bake at 180°C for 25 min"),
    ("en", "This is one of my favourite recipes and it serves 4 people."),
    ("en", "Step 2 add the flour"),
    ("en", "Cut the potatoes into 2 cm cubes"),
    ("en", "Cut it into 4 wedges"),
    ("en", "I made this 100 times in 2024"),
    ("en", "Only 5 ingredients and 10 minutes"),
    ("en", "It has 30g protein and 500 calories"),
    ("en", "This is my 3rd attempt, 100% worth it"),
    ("en", "Add the 2 eggs you whisked"),
    ("en", "So for the first one you'll need a good knife"),
    ("en", "It makes about 12 cookies and each has 150 calories"),
    ("en", "Preheat your oven to 350 F and line 2 baking sheets with parchment"),
    ("en", "This recipe got over 1 million views, I'm 25 years old"),
    ("de", "Bei 180 Grad für 30 Minuten in den Ofen."),
    ("de", "Das Video hat schon 2 Millionen Aufrufe"),
    ("de", "Das dauert nur 15 Minuten und reicht für 4 Personen."),
    ("de", "Ich habe das Rezept 3 Mal gemacht"),
    ("de", "Die Pfanne auf Stufe 7 erhitzen"),
]


@pytest.mark.parametrize(
    ("language", "sentence", "expected"), SENTENCES, ids=[s for _, s, _ in SENTENCES]
)
def test_amounts_in_a_sentence(language: str, sentence: str, expected: list[Row]) -> None:
    found = mentions(sentence, language)
    assert [(i.quantity, i.unit, i.name, i.note) for i in found] == expected


@pytest.mark.parametrize(
    ("language", "sentence"), NOT_INGREDIENTS, ids=[s for _, s in NOT_INGREDIENTS]
)
def test_numbers_that_are_not_ingredients(language: str, sentence: str) -> None:
    assert mentions(sentence, language) == []


def test_a_range_keeps_its_upper_bound() -> None:
    (honey,) = mentions("stir in 2-3 tbsp honey", "en")
    assert (honey.quantity, honey.quantity_max) == (2.0, 3.0)


_speech = st.lists(
    st.one_of(
        st.text(max_size=8),
        st.sampled_from(sorted(UNITS)),
        st.sampled_from(["and", "und", "a", "eine", "of", "x", "/", "(", ")", ",", ".", " ", "½"]),
        st.integers(0, 10**4).map(str),
        st.integers(1, 400).map(lambda n: "9" * n),
    ),
    max_size=20,
).map(" ".join)


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(_speech, st.sampled_from(["en", "de", None]))
def test_any_speech_reads_without_an_exception(text: str, language: str | None) -> None:
    for ingredient in mentions(text, language):
        assert ingredient.name
        assert ingredient.quantity is not None or ingredient.unit is not None
        assert ingredient.quantity is None or math.isfinite(ingredient.quantity)


def test_a_german_verb_ends_the_name_when_the_language_is_unknown() -> None:
    (flour,) = mentions("Dann 500 g Mehl unterrühren", None)
    assert flour.name == "Mehl"
    (parmesan,) = mentions("add 50 g Parmesan cheese", None)
    assert parmesan.name == "Parmesan cheese"


def test_a_number_said_in_words_past_twelve_is_left_alone() -> None:
    assert mentions("add two hundred grams of flour", "en") == []


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Season with salt and pepper to taste.", [("salt", "to taste"), ("pepper", "to taste")]),
        ("Add sugar to taste", [("sugar", "to taste")]),
        ("Mit etwas Salz abschmecken.", [("Salz", "nach Geschmack")]),
        (
            "Mit Salz, Pfeffer und Zucker nach Geschmack würzen",
            [
                ("Salz", "nach Geschmack"),
                ("Pfeffer", "nach Geschmack"),
                ("Zucker", "nach Geschmack"),
            ],
        ),
        ("Season to taste.", []),
        ("Taste it and adjust to taste", []),
        ("I made it to taste like the one from my childhood", []),
        ("Dann alles gut abschmecken", []),
    ],
)
def test_seasonings_to_taste(sentence: str, expected: list[tuple[str, str]]) -> None:
    assert [(i.name, i.note) for i in to_taste(sentence)] == expected
