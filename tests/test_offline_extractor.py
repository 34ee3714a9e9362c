"""The offline extractor as the pipeline sees it (resimply.providers.offline)."""

import pytest

from resimply.errors import NotARecipe
from resimply.providers.base import ExtractionInput, Extractor
from resimply.providers.offline import OfflineExtractor


class RecordingProgress:
    def __init__(self) -> None:
        self.updates: list[tuple[str, float | None]] = []

    async def update(self, details: str, fraction: float | None = None) -> None:
        self.updates.append((details, fraction))


def extraction_input(
    caption: str | None,
    subtitles: str | None = None,
    *,
    language: str | None = None,
    source_language: str | None = None,
) -> ExtractionInput:
    return ExtractionInput(
        caption=caption,
        subtitles=subtitles,
        transcript=None,
        frames=(),
        language=language,
        source_language=source_language,
    )


CARBONARA = """Spaghetti Carbonara 🇮🇹 (for 2 people)
Ingredients:
- 200g spaghetti
- 100 g guanciale
- 2 egg yolks + 1 egg
- 50g pecorino, finely grated
Method:
1. Boil the spaghetti for 9 minutes.
2. Fry the guanciale until crispy.
3. Toss with the eggs and pecorino off the heat.
#pasta #carbonara #fyp
"""


async def test_extract_returns_the_recipe_and_reports_progress() -> None:
    extractor = OfflineExtractor()
    progress = RecordingProgress()
    extraction = await extractor.extract(extraction_input(CARBONARA, language="de"), progress)
    assert extraction.usage is None  # nothing paid for
    recipe = extraction.recipe
    assert extractor.name == "offline"
    assert recipe.title == "Spaghetti Carbonara"
    assert recipe.language == "en"  # no translation offline: the source language
    assert recipe.servings == 2
    assert [(i.quantity, i.unit, i.name) for i in recipe.ingredients] == [
        (200.0, "g", "spaghetti"),
        (100.0, "g", "guanciale"),
        (2.0, None, "egg yolks + 1 egg"),
        (50.0, "g", "pecorino"),
    ]
    assert recipe.ingredients[3].note == "finely grated"
    assert [s.minutes for s in recipe.steps] == [9, None, None]
    assert recipe.tags == ["pasta", "carbonara"]
    assert progress.updates[0] == ("Reading caption and subtitles", 0.5)
    assert all(0 <= (f or 0) <= 1 for _, f in progress.updates)
    await extractor.aclose()


async def test_extract_uses_subtitles_for_steps() -> None:
    recipe = (
        await OfflineExtractor().extract(
            extraction_input(
                "Garlic butter toast 🧄🍞",
                "Melt 2 tbsp butter in a pan. Add the garlic and cook for 1 minute. "
                "Fry the bread for 2 minutes on each side.",
            ),
            RecordingProgress(),
        )
    ).recipe
    assert recipe.title == "Garlic butter toast"
    assert [(s.text, s.minutes) for s in recipe.steps] == [
        ("Melt 2 tbsp butter in a pan.", None),
        ("Add the garlic and cook for 1 minute.", 1),
        ("Fry the bread for 2 minutes on each side.", 2),
    ]


async def test_extract_falls_back_to_the_platform_language() -> None:
    recipe = (
        await OfflineExtractor().extract(
            extraction_input("200g Spaghetti\n100g Guanciale\n50g Pecorino", source_language="it"),
            RecordingProgress(),
        )
    ).recipe
    assert recipe.language == "it"


async def test_extract_raises_not_a_recipe() -> None:
    progress = RecordingProgress()
    with pytest.raises(NotARecipe) as error:
        await OfflineExtractor().extract(extraction_input("Sunday vibes ☀️ #fyp"), progress)
    assert error.value.code == "not_a_recipe"
    assert error.value.retryable is False
    assert progress.updates == [("Reading caption and subtitles", 0.5)]


def test_offline_extractor_satisfies_the_protocol() -> None:
    extractor: Extractor = OfflineExtractor()
    assert extractor.name == "offline"
