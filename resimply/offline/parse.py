"""Caption + subtitles → `Recipe`, without a model and without the network."""

from __future__ import annotations

from ..errors import NotARecipe
from ..models import Ingredient, Recipe
from .language import detect_language
from .merge import PROSE, SCREEN, SPEECH, merge_ingredients
from .meta import find_servings, find_times
from .screen import read_screen, shows_recipe
from .sections import Layout, read_caption
from .spoken import mentions, to_taste
from .steps import is_instruction, speech_steps
from .tags import find_tags
from .text import remove_hashtags, subtitle_lines
from .titles import spoken_title

# The parser runs inline on the event loop; bounding its input bounds its time.
# A TikTok caption holds at most a few thousand characters and an hour of
# subtitles about 60 000.
MAX_CHARS = 100_000

_UNTITLED = {"de": "Rezept ohne Titel"}
_UNTITLED_DEFAULT = "Untitled recipe"


def _mentioned(
    layout: Layout,
    subtitles: str | None,
    transcript: str | None,
    language: str | None,
    shown_prose: str | None = None,
) -> list[tuple[Ingredient, int]]:
    """Ingredients named with an amount (or "to taste") in the caption's prose, in
    the speech, and in sentences shown on screen (`shown_prose`: speech burned in
    as captions).

    The caption's steps count as prose only when it has no list of its own
    ("1. Fry 200 g bacon…"); with a list, the steps name what it already holds.
    """
    prose = list(layout.description)
    if not layout.ingredients:
        prose.extend(step.text for step in layout.steps)
    found = [(i, PROSE) for line in prose for i in mentions(line, language)]
    spoken = [" ".join(subtitle_lines(text)) for text in (subtitles, transcript) if text]
    for text in spoken:
        found.extend((i, SPEECH) for i in mentions(text, language))
    if shown_prose:
        found.extend((i, SCREEN) for i in mentions(shown_prose, language))
    if found or layout.ingredients:
        # Seasonings "to taste" complete a list (they come last and carry no
        # amount); alone, "mit Salz und Pfeffer abschmecken" starts none.
        found.extend((i, PROSE) for line in prose for i in to_taste(line))
        found.extend((i, SPEECH) for text in spoken for i in to_taste(text))
        if shown_prose:
            found.extend((i, SCREEN) for i in to_taste(shown_prose))
    return found


def _has_recipe(layout: Layout, spoken_steps: int, mentioned: list[Ingredient]) -> bool:
    # A dance video's caption ("Sunday vibes ☀️ #fyp") has neither measured
    # ingredients nor steps. A real recipe has at least one of: an ingredient
    # with an amount or unit, an ingredient list under its heading, a steps
    # section, numbered steps, or several instructions spoken in the video.
    measured = any(i.quantity is not None or i.unit is not None for i in layout.ingredients)
    listed = layout.ingredients_heading and len(layout.ingredients) >= 2
    # Numbered lines are steps only if they read as instructions: "1. my dog
    # 2. coffee" is a list of favourite things.
    instructions = sum(is_instruction(step.text) for step in layout.steps)
    caption_steps = (
        len(layout.steps) >= 2 and (layout.steps_heading or 2 * instructions >= len(layout.steps))
    ) or (instructions >= 1 and layout.steps_heading)
    # Amounts named in prose or speech: "I bought 2 bananas" or "2 cups of coffee
    # and 1 l of water a day" is no recipe, but "200 g flour, 2 eggs and 300 ml
    # milk" is, and so are two measured amounts with an instruction.
    mentioned = [i for i in mentioned if i.quantity is not None or i.unit is not None]
    measured_said = any(i.unit is not None for i in mentioned)
    instructed = spoken_steps >= 1 or bool(layout.steps)
    said = measured_said and (len(mentioned) >= 3 or (len(mentioned) >= 2 and instructed))
    return measured or listed or caption_steps or spoken_steps >= 2 or said


def _primary(tag: str | None) -> str | None:
    return tag.split("-")[0].split("_")[0].lower() or None if tag else None


def parse_recipe(
    caption: str | None,
    subtitles: str | None,
    transcript: str | None,
    language: str | None,
    *,
    source_language: str | None = None,
    screen: str | None = None,
) -> Recipe:
    """Read a recipe out of a video's caption, subtitle/transcript text and the
    text read on screen (`screen`, OCR: one paragraph per shot).

    The screen is read like a caption (`offline.screen`): its list joins the
    caption's (after it, before the amounts named in prose and speech), its
    title card names the recipe when the caption does not, its numbered steps
    count when the caption has none.

    `language` is the language the user asked for; the offline extractor cannot
    translate, so the recipe stays in its source language and `Recipe.language`
    says which one that is (detected, else `source_language` as reported by the
    platform, else None). Raises `NotARecipe` when the text holds no recipe.
    """
    del language  # accepted for the extractor contract; there is no translation offline
    caption = (caption or "")[:MAX_CHARS]
    subtitles = (subtitles or "")[:MAX_CHARS] or None
    transcript = (transcript or "")[:MAX_CHARS] or None
    screen = (screen or "")[:MAX_CHARS] or None

    layout = read_caption(caption)
    shown = read_screen(screen)
    # Sentences on screen (speech burned in as captions) are read like speech.
    shown_prose = " ".join(shown.description) or None
    steps = layout.steps
    spoken = 0
    if not steps:
        # Steps shown (numbered) or said in the video, when the caption only
        # lists ingredients (or nothing).
        steps = shown.steps if any(is_instruction(s.text) for s in shown.steps) else []
        if not steps:
            steps = (
                speech_steps(subtitles or "")
                or speech_steps(transcript or "")
                or speech_steps(shown_prose or "")
            )
            spoken = len(steps)
    detected = detect_language(remove_hashtags(caption), subtitles, transcript, screen)
    mentioned = _mentioned(layout, subtitles, transcript, detected, shown_prose)
    if not _has_recipe(layout, spoken, [i for i, _ in mentioned]) and not shows_recipe(shown):
        raise NotARecipe()
    mentioned = [(i, SCREEN) for i in shown.ingredients] + mentioned

    times = find_times(layout.meta_lines + shown.meta_lines)  # the caption's first
    total = times.total
    if total is None and times.prep is not None and times.cook is not None:
        total = times.prep + times.cook
    source = detected or _primary(source_language)
    title = layout.title or shown.title or spoken_title(subtitles, transcript)
    return Recipe(
        title=title or _UNTITLED.get(source or "", _UNTITLED_DEFAULT),
        description=" ".join(layout.description) or None,
        language=source,
        servings=find_servings("\n".join(layout.meta_lines))
        or find_servings("\n".join(shown.meta_lines)),
        prep_minutes=times.prep,
        cook_minutes=times.cook,
        total_minutes=total,
        ingredients=merge_ingredients(layout.ingredients, mentioned, source),
        steps=steps,
        tags=find_tags(caption),
    )
