"""A page's schema.org Recipe → `models.Recipe`, with no model call.

recipe-scrapers finds the Recipe (JSON-LD object, list or `@graph`, and
microdata, through extruct) and normalises most fields: title, times in
minutes from ISO 8601 durations, yields, image, language, ingredients. Where it
falls short we read its own parsed schema data (`scraper.schema.data`):

* `instructions_list()` flattens `HowToSection` names into the steps ("Dough",
  "Mix the flour…"); the raw `recipeInstructions` keeps the sections apart.
* `yields()` turns "12 cookies" into "12 items": only servings are servings.

Ingredient lines go through the offline parser (quantity, unit, name, note),
which knows English and German units (EL, TL, Prise, Bund).
"""

from __future__ import annotations

import html
import re
from typing import Any

import structlog
from recipe_scrapers import scrape_html
from recipe_scrapers._exceptions import RecipeScrapersExceptions

from ..models import Ingredient, Recipe, Source, Step
from ..offline import parse_ingredient
from ..offline.steps import make_step, split_marker
from ..offline.text import split_sentences

log = structlog.get_logger(__name__)

MAX_INGREDIENTS = 200
MAX_STEPS = 200
_TAG = re.compile(r"<[^>]+>")
_SERVINGS = re.compile(r"^\s*(\d{1,4})\s+servings?\b", re.I)
_LANGUAGE = re.compile(r"^([A-Za-z]{2,3})(?:[-_]|$)")


def read_recipe(page_html: str, url: str) -> Recipe | None:
    """The page's schema.org Recipe, or None when it has none (or one without
    ingredients: a "recipe" of only a title is not one we can cook from)."""
    try:
        scraper = scrape_html(page_html, org_url=url, supported_only=False)
    except RecipeScrapersExceptions:
        return None  # NoSchemaFoundInWildMode: no Recipe on this page
    except Exception as exc:
        # A page that trips the library is a page without a recipe we can read,
        # not a failed task.
        log.info("recipe_data_unreadable", error=type(exc).__name__)
        return None
    title = _field(scraper.title)
    ingredients = _ingredients(scraper)
    if not title or not ingredients:
        return None
    steps = _steps(scraper)
    image = _field(scraper.image)
    return Recipe(
        title=_text(title),
        description=_text(_field(scraper.description) or "") or None,
        language=_language(_field(scraper.language)),
        servings=_servings(_field(scraper.yields)),
        prep_minutes=_minutes(_field(scraper.prep_time)),
        cook_minutes=_minutes(_field(scraper.cook_time)),
        total_minutes=_minutes(_field(scraper.total_time)),
        ingredients=ingredients,
        steps=steps,
        tags=_tags(scraper),
        source=Source(
            platform="page",
            url=url,
            author=_text(str(_field(scraper.author) or "")) or None,
            thumbnail_url=image if isinstance(image, str) and image else None,
        ),
    )


def _field(getter: Any) -> Any:
    """A recipe-scrapers field, None when the page lacks it (they raise then)."""
    try:
        return getter()
    except Exception:
        return None


def _text(value: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", value)).split())


def _language(value: Any) -> str | None:
    match = _LANGUAGE.match(value) if isinstance(value, str) else None
    return match.group(1).lower() if match else None


def _servings(value: Any) -> int | None:
    match = _SERVINGS.match(value) if isinstance(value, str) else None
    servings = int(match.group(1)) if match else 0
    return servings if 0 < servings <= 1000 else None


def _minutes(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if 0 < value < 60 * 24 * 14 else None


def _tags(scraper: Any) -> list[str]:
    tags: list[str] = []
    for getter in (scraper.category, scraper.cuisine):
        value = _field(getter)
        for tag in value.split(",") if isinstance(value, str) else []:
            tag = _text(tag).lower()
            if tag and tag not in tags:
                tags.append(tag)
    return tags[:10]


def _ingredients(scraper: Any) -> list[Ingredient]:
    """Parsed lines, grouped when the page names its groups ("For the sauce")."""
    groups = _field(scraper.ingredient_groups) or []
    named = [g for g in groups if getattr(g, "purpose", None)]
    pairs: list[tuple[str | None, Any]]
    if named:
        pairs = [(_text(g.purpose), line) for g in named for line in g.ingredients]
    else:
        pairs = [(None, line) for line in _field(scraper.ingredients) or []]
    found: list[Ingredient] = []
    for group, line in pairs[:MAX_INGREDIENTS]:
        text = _text(line) if isinstance(line, str) else ""
        if text:
            found.append(parse_ingredient(text, group or None))
    return found


def _steps(scraper: Any) -> list[Step]:
    schema = getattr(scraper, "schema", None)
    raw = (getattr(schema, "data", None) or {}).get("recipeInstructions")
    texts = list(_instruction_texts(raw, None)) if raw else []
    if not texts:
        # Not in the schema data (an HTML-only site plugin): the flat list it is.
        texts = [t for t in (_field(scraper.instructions_list) or []) if isinstance(t, str)]
        texts = [s for t in texts for s in _split_text(t)]
    return [make_step(text) for text in texts[:MAX_STEPS]]


def _instruction_texts(node: Any, section: str | None) -> Any:
    """Step texts of `recipeInstructions` in any of its shapes: text, a list of
    texts, HowToStep, HowToSection (its name leads its first step), ItemList."""
    if isinstance(node, str):
        for i, text in enumerate(_split_text(node)):
            yield f"{section}: {text}" if section and i == 0 else text
    elif isinstance(node, list):
        first = True
        for item in node:
            for text in _instruction_texts(item, section if first else None):
                first = False
                yield text
    elif isinstance(node, dict):
        kind = node.get("@type")
        kinds = kind if isinstance(kind, list) else [kind]
        items = node.get("itemListElement")
        if items is not None and ("HowToSection" in kinds or "ItemList" in kinds):
            raw_name = node.get("name")
            name: str | None = None
            if isinstance(raw_name, str) and "HowToSection" in kinds:
                name = _text(raw_name)
            yield from _instruction_texts(items, name or section)
            return
        step = node.get("text") or node.get("name") or node.get("description")
        if isinstance(step, str):
            yield from _instruction_texts(step, section)


def _split_text(value: str) -> list[str]:
    """Plain-text instructions: one step per line, or per sentence when the
    whole method is one paragraph; "1." / "Step 1:" markers are dropped."""
    value = re.sub(r"<br\s*/?>|</p>|</li>", "\n", value, flags=re.I)
    lines = [_text(line) for line in value.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) == 1:
        lines = split_sentences(lines[0])
    steps = []
    for line in lines:
        text, _ = split_marker(line)
        if text:
            steps.append(text)
    return steps
