"""Several recipes in one caption (a main and its sauce), told apart from the
ingredient groups of one recipe (a cake's dough and filling).

The rule (docs/api.md, "Several recipes in one post"): a caption holds a second
recipe where, **after the steps** of the one before, a new ingredient block
opens under its own heading, and that heading names a **dish**, not a part of
one:

* the heading is a title line followed by ingredients ("Mushroom sauce" then
  "Ingredients:" or amounts), an ingredients heading ("Ingredients for the
  sauce:") or a component heading ("For the sauce:", "Für die Soße:");
* a part of a dish (dough, filling, crust, topping, glaze, marinade…; Teig,
  Boden, Füllung, Belag, Guss, Glasur…, also inside compounds: "Mürbeteig")
  stays a group of the recipe, whatever follows it;
* blocks listed together before one method share those steps: groups.

Each part is then read like a caption of its own (`parse_recipe`). The
subtitles and transcript go with the first part (the video is about the main
dish); the language and the hashtags are the whole caption's.
"""

from __future__ import annotations

import dataclasses
import re

import msgspec

from ..errors import NotARecipe
from ..models import MAX_RECIPES, Recipe
from .ingredients import has_amount, looks_like_ingredient
from .language import detect_language
from .parse import MAX_CHARS, parse_recipe
from .sections import _is_group_heading as is_group_heading
from .sections import _is_meta as is_meta
from .sections import group_name, parse_heading
from .steps import is_instruction, is_sign_off, split_marker
from .tags import find_tags
from .text import clean_line, is_hashtag_line, remove_hashtags, word_count
from .titles import tidy_title

# Parts of one dish: a heading naming one of these is an ingredient group.
# Matched at the end of the heading's last word, so German compounds count
# ("Mürbeteig", "Tortenboden", "Käsefüllung", "Schokoglasur").
_COMPONENTS = (
    # English
    "dough",
    "pastry",
    "crust",
    "base",
    "filling",
    "topping",
    "toppings",
    "frosting",
    "icing",
    "glaze",
    "crumble",
    "streusel",
    "batter",
    "marinade",
    "breading",
    "coating",
    "cream",
    "syrup",
    "garnish",
    # German
    "teig",
    "boden",
    "füllung",
    "fuellung",
    "belag",
    "guss",
    "glasur",
    "creme",
    "streusel",
    "panade",
    "sirup",
    "deko",
    "dekoration",
)
_WORD = re.compile(r"[^\W\d_]+")
# A title line is short; a longer line is prose.
_TITLE_WORDS = 6
_BULLETS = frozenset("-–—•·*▪◦‣⁃>→»~+")


@dataclasses.dataclass(frozen=True)
class Part:
    """One recipe's lines of the caption; `name` is its heading's dish when the
    heading was a component heading ("For the sauce:" → "sauce"), for the title."""

    text: str
    name: str | None = None


def is_component(name: str) -> bool:
    """True for a heading naming a part of a dish ("the dough", "Mürbeteig")."""
    words = _WORD.findall(name.lower())
    return bool(words) and words[-1].endswith(_COMPONENTS)


def _kind(text: str) -> str:
    """What one cleaned, non-empty line is: ingredients | group | steps | step |
    ingredient | meta | title | other."""
    heading = parse_heading(text)
    if heading is not None:
        if heading.kind == "ingredients":
            return "ingredients"
        return "steps" if heading.kind == "steps" else "other"
    body, number = split_marker(text)
    if number is not None and not looks_like_ingredient(body):
        return "step"
    if is_group_heading(text) and not is_sign_off(text):
        return "group"
    if is_meta(text):
        return "meta"  # before amounts: "Serves 2", "Für 4 Personen"
    if has_amount(text) or looks_like_ingredient(text):
        return "ingredient"
    if is_sign_off(text):
        return "other"
    if is_instruction(text):
        return "step"
    if word_count(text) <= _TITLE_WORDS and not text.endswith((".", "!", "?")):
        return "title"
    return "other"


def _line_kind(raw: str) -> str:
    text = clean_line(raw)
    if not text or is_hashtag_line(raw):
        return ""
    kind = _kind(text)
    if kind == "title" and raw.lstrip()[:1] in _BULLETS:
        return "ingredient"  # "- salt": a listed item without an amount
    return kind


def _heading_name(text: str, kind: str) -> str | None:
    """The dish a heading names: "sauce" for "For the sauce:", "Ingredients for
    the sauce:"; the whole line for a title line; None for a bare "Ingredients:"."""
    if kind == "title":
        return tidy_title(text)
    if kind == "group":
        return group_name(text)
    heading = parse_heading(text)
    return heading.group if heading is not None else None


def split_recipes(caption: str) -> list[Part]:
    """The caption's recipes, in order: one part unless the rule above finds more."""
    lines = caption.splitlines()
    kinds = [_line_kind(raw) for raw in lines]
    parts: list[Part] = []
    start, name = 0, None
    has_ingredients = has_steps = False
    for index, kind in enumerate(kinds):
        if kind in ("ingredients", "ingredient"):
            has_ingredients = True
        elif kind in ("steps", "step"):
            has_steps = has_steps or has_ingredients
        if not (has_ingredients and has_steps) or kind not in ("title", "ingredients", "group"):
            continue
        if not _opens_block(kinds, index):
            continue
        heading = clean_line(lines[index])
        found = _heading_name(heading, kind)
        if found is not None and is_component(found):
            continue  # "For the filling:" after the dough's steps: a group
        if len(parts) + 1 >= MAX_RECIPES:
            break  # the rest stays with the last recipe
        cut, titled = _lead_in(kinds, index)
        parts.append(Part("\n".join(lines[start:cut]), name))
        start = cut
        name = found if kind != "title" and not titled else None
        has_ingredients = has_steps = False
    parts.append(Part("\n".join(lines[start:]), name))
    return parts


def _lead_in(kinds: list[str], index: int) -> tuple[int, bool]:
    """Where the recipe whose block opens at `index` starts: with the title and
    the servings / times lines right above its heading ("Apfelmus", "Serves 4",
    then "Ingredients:"), not after them. True when a title line is among them."""
    start, titled = index, False
    for above in range(index - 1, -1, -1):
        kind = kinds[above]
        if kind == "":
            continue
        if kind == "meta":
            start = above
            continue
        if kind == "title" and not titled:
            start, titled = above, True
            continue
        break
    return start, titled


def _opens_block(kinds: list[str], index: int) -> bool:
    """True when the line opens an ingredient block: an ingredients heading, a
    section heading followed by ingredients, or a title line followed by such a
    heading or by two ingredient lines (blank lines between are fine)."""
    following = [k for k in kinds[index + 1 : index + 4] if k]
    if not following:
        return False
    if kinds[index] == "title":
        return following[0] in ("ingredients", "group") or following[:2] == [
            "ingredient",
            "ingredient",
        ]
    if kinds[index] == "ingredients":
        return True
    return following[0] in ("ingredient", "ingredients")


def parse_recipes(
    caption: str | None,
    subtitles: str | None,
    transcript: str | None,
    language: str | None,
    *,
    source_language: str | None = None,
    screen: str | None = None,
) -> list[Recipe]:
    """Every recipe of the caption, first the main one; raises `NotARecipe`
    when the caption holds none. A part that reads as no recipe stays with its
    neighbour (so nothing is lost). Speech and the text read on screen (`screen`)
    go with the main recipe."""
    text = (caption or "")[:MAX_CHARS]
    parts = split_recipes(text)
    if len(parts) == 1:
        return [
            parse_recipe(
                caption,
                subtitles,
                transcript,
                language,
                source_language=source_language,
                screen=screen,
            )
        ]
    # A part that reads as no recipe joins its neighbour: a later one the part
    # before it, and parts after a first one that is none join it.
    joined: list[tuple[Part, bool]] = []
    for part in parts:
        holds = _holds_recipe(part.text)
        if joined and not (holds and joined[-1][1]):
            before, held = joined[-1]
            joined[-1] = (Part(f"{before.text}\n{part.text}", before.name), held or holds)
        else:
            joined.append((part, holds))
    merged = [part for part, _ in joined]
    first = parse_recipe(
        merged[0].text,
        subtitles,
        transcript,
        language,
        source_language=source_language,
        screen=screen,
    )
    detected = detect_language(remove_hashtags(text), subtitles, transcript) or first.language
    tags = find_tags(text)
    recipes = [msgspec.structs.replace(first, tags=tags)]
    for part in merged[1:]:
        recipe = parse_recipe(part.text, None, None, language, source_language=source_language)
        title = recipe.title
        if part.name:
            # "For the sauce:" names a part, not the dish: "Schnitzel – sauce".
            title = f"{first.title} – {part.name}"
        recipes.append(msgspec.structs.replace(recipe, title=title, language=detected, tags=tags))
    return recipes


def _holds_recipe(text: str) -> bool:
    try:
        parse_recipe(text, None, None, None)
    except NotARecipe:
        return False
    return True
