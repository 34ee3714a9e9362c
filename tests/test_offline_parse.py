"""Captions and subtitles → Recipe (resimply.offline.parse_recipe)."""

import pytest

from resimply.errors import NotARecipe
from resimply.models import Ingredient, Recipe
from resimply.offline import parse_recipe


def parse(caption: str | None, subtitles: str | None = None, **kwargs: str | None) -> Recipe:
    return parse_recipe(caption, subtitles, kwargs.get("transcript"), kwargs.get("language"))


def rows(
    ingredients: list[Ingredient],
) -> list[tuple[float | None, float | None, str | None, str | None, str | None]]:
    return [(i.quantity, i.quantity_max, i.unit, i.name, i.group) for i in ingredients]


TUSCAN_PASTA = """Creamy Garlic Tuscan Pasta 🍝🧄 (serves 4)
The creamiest weeknight dinner, ready in no time!

Prep: 10 min | Cook: 20 min

Ingredients:
- 300g penne
- 2 tbsp olive oil
- 4 cloves garlic, minced
- 1 cup (240ml) heavy cream
- ½ cup grated parmesan
- 1 1/2 cups spinach
- Salt and pepper to taste

Method:
1. Boil the penne in salted water for 10-12 minutes.
2. Heat the oil and fry the garlic for 1 minute.
3. Add cream and parmesan, simmer 5 minutes.
4. Toss in spinach and pasta. Enjoy!

#pasta #dinner #fyp #foryou #EasyRecipe #recipe
"""


def test_english_caption_with_headings_and_numbered_steps() -> None:
    recipe = parse(TUSCAN_PASTA)
    assert recipe.title == "Creamy Garlic Tuscan Pasta"
    assert recipe.description == "The creamiest weeknight dinner, ready in no time!"
    assert recipe.language == "en"
    assert recipe.servings == 4
    assert (recipe.prep_minutes, recipe.cook_minutes, recipe.total_minutes) == (10, 20, 30)
    assert rows(recipe.ingredients) == [
        (300.0, None, "g", "penne", None),
        (2.0, None, "tbsp", "olive oil", None),
        (4.0, None, "cloves", "garlic", None),
        (1.0, None, "cup", "heavy cream", None),
        (0.5, None, "cup", "parmesan", None),
        (1.5, None, "cups", "spinach", None),
        (None, None, None, "Salt and pepper", None),
    ]
    assert recipe.ingredients[2].note == "minced"
    assert recipe.ingredients[3].note == "240ml"
    assert recipe.ingredients[6].note == "to taste"
    assert [(s.text, s.minutes) for s in recipe.steps] == [
        ("Boil the penne in salted water for 10-12 minutes.", 10),
        ("Heat the oil and fry the garlic for 1 minute.", 1),
        ("Add cream and parmesan, simmer 5 minutes.", 5),
        ("Toss in spinach and pasta.", None),
    ]
    assert recipe.tags == ["pasta", "dinner", "easyrecipe"]


APFELKUCHEN = """Omas Apfelkuchen 🍎 – saftig & einfach!

Zutaten für 12 Stück:
Für den Teig:
▪️ 250 g Mehl
▪️ 125g Butter (weich)
▪️ 1 Ei
▪️ 1 Pck. Backpulver
▪️ eine Prise Salz
Für den Belag:
▪️ 4-5 Äpfel
▪️ 2 EL Zucker
▪️ 1 TL Zimt
▪️ 200 ml Sahne

Zubereitungszeit: 20 Min.
Backzeit 45 Minuten

So geht's:
1️⃣ Mehl, Butter, Ei, Backpulver und Salz zu einem Teig verkneten.
2️⃣ Den Teig in eine Springform drücken und 30 Min. kalt stellen.
3️⃣ Äpfel schälen, in Spalten schneiden und auf dem Teig verteilen.
4️⃣ Bei 180 °C ca. 45 Minuten backen.

Guten Appetit! 😋
#apfelkuchen #backen #rezept #fürdich #kuchen
"""


def test_german_caption_with_groups_keycap_steps_and_times() -> None:
    recipe = parse(APFELKUCHEN)
    assert recipe.title == "Omas Apfelkuchen – saftig & einfach"
    assert recipe.language == "de"
    assert recipe.servings == 12
    assert (recipe.prep_minutes, recipe.cook_minutes, recipe.total_minutes) == (20, 45, 65)
    assert rows(recipe.ingredients) == [
        (250.0, None, "g", "Mehl", "Teig"),
        (125.0, None, "g", "Butter", "Teig"),
        (1.0, None, None, "Ei", "Teig"),
        (1.0, None, "Pck", "Backpulver", "Teig"),
        (1.0, None, "Prise", "Salz", "Teig"),
        (4.0, 5.0, None, "Äpfel", "Belag"),
        (2.0, None, "EL", "Zucker", "Belag"),
        (1.0, None, "TL", "Zimt", "Belag"),
        (200.0, None, "ml", "Sahne", "Belag"),
    ]
    assert recipe.ingredients[1].note == "weich"
    assert [(s.text, s.minutes) for s in recipe.steps] == [
        ("Mehl, Butter, Ei, Backpulver und Salz zu einem Teig verkneten.", None),
        ("Den Teig in eine Springform drücken und 30 Min. kalt stellen.", 30),
        ("Äpfel schälen, in Spalten schneiden und auf dem Teig verteilen.", None),
        ("Bei 180 °C ca. 45 Minuten backen.", 45),
    ]
    assert recipe.tags == ["apfelkuchen", "backen", "kuchen"]


def test_headless_groups_step_prefixes_and_a_meta_line_in_the_steps() -> None:
    recipe = parse(
        "Korean fried chicken wings 🔥🍗\n\n"
        "For the wings:\n• 1kg chicken wings\n• 2-3 tsp garlic powder\n• ¾ cup cornstarch\n"
        "For the sauce:\n• 3 tbsp gochujang\n• 1 tsp sesame oil\n\n"
        "Steps\n"
        "Step 1: Pat the wings dry and coat in garlic powder and cornstarch.\n"
        "Step 2: Fry at 170°C for 8 minutes, rest, then fry again for 4 minutes.\n"
        "Serves 3-4 | Total time: 45 min\n"
        "#koreanfood #wings #viral #foodtok"
    )
    assert recipe.title == "Korean fried chicken wings"
    assert recipe.servings == 3
    assert (recipe.prep_minutes, recipe.cook_minutes, recipe.total_minutes) == (None, None, 45)
    assert rows(recipe.ingredients) == [
        (1.0, None, "kg", "chicken wings", "wings"),
        (2.0, 3.0, "tsp", "garlic powder", "wings"),
        (0.75, None, "cup", "cornstarch", "wings"),
        (3.0, None, "tbsp", "gochujang", "sauce"),
        (1.0, None, "tsp", "sesame oil", "sauce"),
    ]
    assert [s.minutes for s in recipe.steps] == [None, 12]
    assert recipe.tags == ["koreanfood", "wings", "foodtok"]


def test_one_line_caption_with_inline_sections_and_comma_decimals() -> None:
    recipe = parse(
        "The BEST one-pan lemon chicken you'll ever make!! Only 6 ingredients 🍋 "
        "Ingredients: 4 chicken thighs, 2 lemons, sliced, 3 garlic cloves, 1,5 tbsp olive oil, "
        "1 tsp oregano, salt. Method: Season the chicken. Sear skin side down for 6 minutes. "
        "Add lemons and garlic and roast at 200°C for 25 minutes. #chicken #onepan"
    )
    assert recipe.title == "The BEST one-pan lemon chicken you'll ever make"
    assert recipe.description == "Only 6 ingredients"
    assert rows(recipe.ingredients) == [
        (4.0, None, None, "chicken thighs", None),
        (2.0, None, None, "lemons", None),
        (3.0, None, "cloves", "garlic", None),
        (1.5, None, "tbsp", "olive oil", None),
        (1.0, None, "tsp", "oregano", None),
        (None, None, None, "salt", None),
    ]
    assert recipe.ingredients[1].note == "sliced"
    assert [(s.text, s.minutes) for s in recipe.steps] == [
        ("Season the chicken.", None),
        ("Sear skin side down for 6 minutes.", 6),
        ("Add lemons and garlic and roast at 200°C for 25 minutes.", 25),
    ]
    assert recipe.tags == ["chicken", "onepan"]


def test_german_list_with_trailing_amounts_and_unheaded_steps() -> None:
    recipe = parse(
        "Rezept: Shakshuka mit Feta\nFür 2 Personen 🍳\n"
        "Olivenöl 2 EL\nZwiebel 1\nPaprika: 2\nDose Tomaten 1\nEier 4\nFeta 100g\n"
        "Kreuzkümmel ½ TL\n\n"
        "Zwiebel und Paprika würfeln und in Olivenöl 5 Minuten anbraten.\n"
        "Tomaten und Gewürze dazugeben und 10 Min. köcheln lassen.\n"
        "Mulden formen, Eier hineingeben und zugedeckt 6-8 Minuten stocken lassen.\n"
        "Mit Feta bestreuen und servieren.\n#shakshuka #frühstück"
    )
    assert recipe.title == "Shakshuka mit Feta"
    assert recipe.language == "de"
    assert recipe.servings == 2
    assert rows(recipe.ingredients) == [
        (2.0, None, "EL", "Olivenöl", None),
        (1.0, None, None, "Zwiebel", None),
        (2.0, None, None, "Paprika", None),
        (1.0, None, "Dose", "Tomaten", None),
        (4.0, None, None, "Eier", None),
        (100.0, None, "g", "Feta", None),
        (0.5, None, "TL", "Kreuzkümmel", None),
    ]
    assert [s.minutes for s in recipe.steps] == [5, 10, 6, None]
    assert recipe.steps[3].text == "Mit Feta bestreuen und servieren."


def test_yield_servings_parenthesis_steps_and_articles_before_units() -> None:
    recipe = parse(
        "Recipe: Overnight Oats\nMakes 2 jars • Prep 5 min\n\nYou'll need:\n"
        "* 1 cup rolled oats\n* 1 cup milk\n* 2 tbsp chia seeds\n* 1-2 tsp maple syrup\n"
        "* a handful of berries\n\n"
        "1) Mix oats, milk, chia and maple syrup in a bowl.\n"
        "2) Divide between two jars and refrigerate overnight.\n"
        "3) Top with berries and serve.\n#breakfast #mealprep #fyp"
    )
    assert recipe.title == "Overnight Oats"
    assert recipe.servings == 2
    assert (recipe.prep_minutes, recipe.cook_minutes, recipe.total_minutes) == (5, None, None)
    assert rows(recipe.ingredients)[3:] == [
        (1.0, 2.0, "tsp", "maple syrup", None),
        (1.0, None, "handful", "berries", None),
    ]
    assert [s.text for s in recipe.steps] == [
        "Mix oats, milk, chia and maple syrup in a bowl.",
        "Divide between two jars and refrigerate overnight.",
        "Top with berries and serve.",
    ]
    assert recipe.tags == ["breakfast", "mealprep"]


def test_german_schritt_steps_hours_and_servings_in_the_heading() -> None:
    recipe = parse(
        "🍲 Rindergulasch wie bei Oma 🍲\nZutaten (4 Portionen):\n1 kg Rindergulasch\n"
        "3 Zwiebeln\n2 EL Tomatenmark\n500 ml Rinderbrühe\nAnleitung:\n"
        "Schritt 1: Fleisch portionsweise scharf anbraten.\n"
        "Schritt 2: Zwiebeln dazugeben und 5 Min. mitbraten.\n"
        "Schritt 3: Mit Brühe ablöschen und zugedeckt 1 Std. 30 Min. schmoren lassen.\n"
        "Gesamtzeit: 2 Std."
    )
    assert recipe.title == "Rindergulasch wie bei Oma"
    assert recipe.servings == 4
    assert recipe.total_minutes == 120
    assert rows(recipe.ingredients)[1] == (3.0, None, None, "Zwiebeln", None)
    assert [s.minutes for s in recipe.steps] == [None, 5, 90]
    assert recipe.steps[0].text == "Fleisch portionsweise scharf anbraten."


BREAKFAST_VTT = """WEBVTT

00:00:01.000 --> 00:00:03.000
good morning guys so today we're making my favourite breakfast

00:00:03.000 --> 00:00:06.000
first melt the butter in a pan over medium heat

00:00:06.000 --> 00:00:09.000
then crack the eggs into the pan and cook for 3 minutes

00:00:09.000 --> 00:00:12.000
toast the bread and serve everything together
"""


def test_steps_from_unpunctuated_subtitles_when_the_caption_has_none() -> None:
    recipe = parse(
        "easy 5 minute breakfast 🍳\n2 eggs\n1 slice of toast\n20g butter\nsalt", BREAKFAST_VTT
    )
    assert recipe.title == "easy 5 minute breakfast"
    assert rows(recipe.ingredients) == [
        (2.0, None, None, "eggs", None),
        (1.0, None, "slice", "toast", None),
        (20.0, None, "g", "butter", None),
        (None, None, None, "salt", None),
    ]
    assert [(s.text, s.minutes) for s in recipe.steps] == [
        ("Melt the butter in a pan over medium heat", None),
        ("Crack the eggs into the pan and cook for 3 minutes", 3),
        ("Toast the bread and serve everything together", None),
    ]


def test_german_spoken_steps_only() -> None:
    recipe = parse(
        "Die schnellste Tomatensoße der Welt 🍅 #pasta #schnell #fyp",
        "Hallo ihr Lieben, heute machen wir eine schnelle Tomatensoße.\n"
        "Zuerst die Zwiebel fein hacken.\n"
        "Dann das Olivenöl in einer Pfanne erhitzen und die Zwiebel glasig anbraten.\n"
        "Jetzt die passierten Tomaten dazugeben und 15 Minuten köcheln lassen.\n"
        "Mit Salz und Pfeffer abschmecken.\nFolgt mir für mehr Rezepte!",
    )
    assert recipe.title == "Die schnellste Tomatensoße der Welt"
    assert recipe.language == "de"
    assert recipe.ingredients == []
    assert [(s.text, s.minutes) for s in recipe.steps] == [
        ("Die Zwiebel fein hacken.", None),
        ("Das Olivenöl in einer Pfanne erhitzen und die Zwiebel glasig anbraten.", None),
        ("Die passierten Tomaten dazugeben und 15 Minuten köcheln lassen.", 15),
        ("Mit Salz und Pfeffer abschmecken.", None),
    ]
    assert recipe.tags == ["pasta", "schnell"]


def test_title_from_the_speaker_when_there_is_no_caption() -> None:
    recipe = parse(
        None,
        transcript=(
            "Today we're making spaghetti carbonara. Boil the spaghetti for 10 minutes. "
            "Fry the guanciale until crispy. Whisk the eggs with pecorino. "
            "Toss everything together off the heat."
        ),
    )
    assert recipe.title == "Spaghetti carbonara"
    assert recipe.language == "en"
    assert [s.minutes for s in recipe.steps] == [10, None, None, None]
    assert recipe.steps[1].text == "Fry the guanciale until crispy."
    assert recipe.description is None
    assert recipe.servings is None


def test_time_with_hours_and_people_servings() -> None:
    recipe = parse(
        "Slow roast pork shoulder\nfor 6 people\nPrep time: 15 mins\nCook time: 4 hours 30 min\n"
        "Ingredients:\n2kg pork shoulder\n1 tbsp fennel seeds\n2 tsp flaky salt\n"
        "Method:\nScore the skin and rub with fennel and salt. Roast at 160°C."
    )
    assert recipe.servings == 6
    assert (recipe.prep_minutes, recipe.cook_minutes, recipe.total_minutes) == (15, 270, 285)
    assert [s.text for s in recipe.steps] == [
        "Score the skin and rub with fennel and salt.",
        "Roast at 160°C.",
    ]


def test_requested_language_does_not_change_the_source_language() -> None:
    recipe = parse(APFELKUCHEN, language="en")
    assert recipe.language == "de"
    assert recipe.ingredients[0].name == "Mehl"


def test_unknown_values_stay_none() -> None:
    recipe = parse("200g spaghetti\n100g guanciale\n50g Pecorino")
    assert recipe.title == "Untitled recipe"
    assert recipe.language is None
    assert recipe.servings is None
    assert (recipe.prep_minutes, recipe.cook_minutes, recipe.total_minutes) == (None, None, None)
    assert recipe.tags == []
    assert recipe.steps == []
    assert rows(recipe.ingredients)[2] == (50.0, None, "g", "Pecorino", None)


def test_source_language_is_the_fallback_when_detection_is_unsure() -> None:
    recipe = parse_recipe(
        "Ingredients:\n200g pasta\n2 eggs", None, None, None, source_language="en-US"
    )
    assert recipe.language == "en"


@pytest.mark.parametrize(
    ("caption", "subtitles"),
    [
        ("Sunday vibes ☀️ #fyp", None),
        ("3 days until vacation!! 🌴✈️ who's coming with me? #travel #fyp", None),
        ("Top 3 things that make me happy 🥰\n1. my dog\n2. coffee\n3. sunsets\n#fyp", None),
        ("My morning routine ☕️✨\nStretch for 10 minutes, then journaling.\n#fyp", None),
        ("Ingredients for a happy life: love, laughter, friends 💕 #quotes", None),
        ("GRWM for date night 💄", "Put your hands up. Turn around and smile. Let me know!"),
        ("Steps: 10,000 today 💪 #fitness", None),
        ("", None),
        (None, None),
    ],
)
def test_not_a_recipe(caption: str | None, subtitles: str | None) -> None:
    with pytest.raises(NotARecipe) as error:
        parse(caption, subtitles)
    assert error.value.code == "not_a_recipe"


def test_bulleted_steps_with_a_continuation_line_and_a_notes_section() -> None:
    recipe = parse(
        "Garlic Butter Salmon 🐟\nServes 2\nIngredients\n- 2 salmon fillets\n- 3 tbsp butter\n"
        "- 1/2 lemon\nInstructions\n- Season the salmon with salt and pepper.\n"
        "- Add butter, baste for 1-2 minutes\n  and squeeze over the lemon.\n"
        "Notes:\nPer serving: 450 kcal\nLeftovers keep 2 days in the fridge.\n#salmon"
    )
    assert recipe.title == "Garlic Butter Salmon"
    assert recipe.servings == 2
    assert rows(recipe.ingredients)[2] == (0.5, None, None, "lemon", None)
    assert [(s.text, s.minutes) for s in recipe.steps] == [
        ("Season the salmon with salt and pepper.", None),
        ("Add butter, baste for 1-2 minutes and squeeze over the lemon.", 1),
    ]
