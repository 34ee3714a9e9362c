"""The layout of a caption: title, description, ingredient block(s) with their
group headings, steps, and the lines that state servings and times.

Captions are read line by line with a small state machine. Headings
("Ingredients", "Zutaten", "Method", "Zubereitung", "So geht's"…) switch
between blocks; without headings, a run of short lines with amounts is an
ingredient list and numbered lines are steps.
"""

from __future__ import annotations

import dataclasses
import re

from ..models import Ingredient, Step
from .ingredients import has_amount, is_note, looks_like_ingredient, parse_ingredient
from .meta import META_SEPARATORS, find_servings, line_times
from .steps import is_instruction, is_sign_off, make_step, split_marker
from .text import (
    clean_line,
    is_hashtag_line,
    remove_hashtags,
    split_sentences,
    strip_emoji,
    word_count,
)
from .titles import named_title, split_title

_INGREDIENTS = (
    r"ingredients?|ingredient list|zutaten(?:liste)?|what you(?:'ll| will)? need|"
    r"you(?:'ll| will)? need|shopping list|einkaufsliste|du brauchst|das brauchst du|"
    r"ihr braucht|was du brauchst"
)
_STEPS = (
    r"steps|method|instructions|directions|preparation|how to make(?: it)?|zubereitung|"
    r"anleitung|so geht(?:'|’)?s|so wird(?:'|’)?s gemacht|schritte|vorgehensweise"
)
_OTHER = (
    r"notes?|tips?|tipps?|hinweise?|nutrition(?:al)?(?: info(?:rmation)?| facts)?|"
    r"nährwerte|macros|storage|aufbewahrung|variations?|varianten?"
)
_HEADING = re.compile(
    rf"^(?:(?P<ingredients>{_INGREDIENTS})|(?P<steps>{_STEPS})|(?P<other>{_OTHER}))"
    r"(?![^\W_])\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
# A heading hidden inside a one-line caption ("So good! Ingredients: …").
_INLINE_HEADING = re.compile(rf"(?<=\S)\s+(?=(?:{_INGREDIENTS}|{_STEPS})\s*:)", re.IGNORECASE)
_GROUP_PREFIX = re.compile(r"^(?:for|für)\s+(?:the\s+|den\s+|die\s+|das\s+)?", re.IGNORECASE)
# "Ingredients for the dough:" (a definite article: "for a happy life" is no group).
_HEADING_GROUP = re.compile(r"^(?:for the|für (?:den|die|das))\s", re.IGNORECASE)
_SERVINGS_AFTER_HEADING = re.compile(r"^(?:\(.*?\)|(?:für|for)\s+\d+[^:]*)\s*", re.IGNORECASE)
# Commas separate items, except in a decimal ("1,5 EL").
_INLINE_SPLIT = re.compile(r"\s*(?:(?<!\d),|,(?!\d)|[;•|]|\s-\s)\s*")


@dataclasses.dataclass
class Layout:
    """What `read_caption` found; empty fields mean "not in the caption"."""

    title: str | None = None
    description: list[str] = dataclasses.field(default_factory=list)
    ingredients: list[Ingredient] = dataclasses.field(default_factory=list)
    steps: list[Step] = dataclasses.field(default_factory=list)
    ingredients_heading: bool = False
    steps_heading: bool = False
    meta_lines: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Heading:
    kind: str  # ingredients | steps | other
    inline: str  # text after the colon, if any
    group: str | None = None  # "Ingredients for the dough:" names a group


def parse_heading(line: str) -> Heading | None:
    """The section a heading line opens ("Zutaten (für 4 Personen):", "Method:"), else None."""
    match = _HEADING.match(clean_line(line))
    if not match:
        return None
    kind = next(k for k in ("ingredients", "steps", "other") if match.group(k))
    rest = match.group("rest").strip()
    group = None
    if servings := _SERVINGS_AFTER_HEADING.match(rest):
        rest = rest[servings.end() :]
    elif kind == "ingredients" and _HEADING_GROUP.match(rest):
        group = group_name(rest.split(":", 1)[0])
        rest = rest[len(rest.split(":", 1)[0]) :]
    if rest and rest[0] not in ":-–—":
        return None
    inline = rest[1:].strip() if rest else ""
    if kind != "ingredients" and inline and line_times(inline)[1]:
        # "Zubereitung: 20 Min." states a time; it does not open the steps.
        return None
    return Heading(kind, inline, group)


def group_name(text: str) -> str:
    """ "sauce" for "For the sauce:", "Teig" for "Für den Teig:", "Sauce" for "Sauce:"."""
    text = clean_line(text).rstrip(":").strip()
    return _GROUP_PREFIX.sub("", text).strip() or text


def _is_group_heading(text: str) -> bool:
    if has_amount(text) or word_count(text) > 6:
        return False
    return text.endswith(":") or (_GROUP_PREFIX.match(text) is not None and word_count(text) <= 5)


def _is_meta(text: str, *, in_steps: bool = False) -> bool:
    """True for a line that only states times and/or servings
    ("Prep: 10 min | Cook: 15 min", "Serves 3-4 • Total time: 45 min", "Für 4 Personen")."""
    if in_steps and split_marker(text)[1] is not None:
        return False
    for part in META_SEPARATORS.split(text):
        part = part.strip()
        if not part:
            continue
        found, only_times = line_times(part, allow_bare=not in_steps)
        if found and only_times:
            continue
        # "Serves 4", "Für 4 Personen"; not "Carbonara (for 2 people)", a title.
        short = word_count(part) <= 4 and "(" not in part
        if short and find_servings(part) is not None and not has_amount(part):
            continue
        return False
    return True


def _has_bullet(raw: str) -> bool:
    stripped = strip_emoji(raw).strip()
    return stripped != raw.strip() or stripped[:1] in set("-–—•·*▪◦‣⁃>→»~+")


def _inline_ingredients(text: str) -> list[str]:
    items: list[str] = []
    for piece in _INLINE_SPLIT.split(text.strip().rstrip(".")):
        if not piece:
            continue
        if items and piece[:1].islower() and is_note(piece) and has_amount(items[-1]):
            items[-1] += ", " + piece  # "2 onions, chopped": a note, not an item
        else:
            items.append(piece)
    return items


class _Reader:
    def __init__(self) -> None:
        self.layout = Layout()
        self.state = "none"  # none | ingredients | steps | other
        self.group: str | None = None
        self.run: list[tuple[str, str | None]] = []  # headless ingredient candidates
        self.runs: list[list[tuple[str, str | None]]] = []
        self.started = False  # a section, ingredient or step has been seen
        self.last_numbered = False
        self.pending_group: str | None = None  # a group heading seen among the steps

    # -- blocks ----------------------------------------------------------------

    def add_ingredient(self, line: str, group: str | None) -> None:
        ingredient = parse_ingredient(line, group)
        if ingredient.name or ingredient.quantity is not None:
            self.layout.ingredients.append(ingredient)
        self.started = True

    def add_step(self, text: str, numbered: bool) -> None:
        # "Toss and serve. Enjoy!": the sign-off sentence is not part of the step.
        text = remove_hashtags(text)
        text = " ".join(s for s in split_sentences(text) if not is_sign_off(s))
        if not text:
            return
        steps = self.layout.steps
        if not numbered and self.last_numbered and steps and text[:1].islower():
            steps[-1] = make_step(f"{steps[-1].text} {text}")
            return
        parts = [text] if numbered else split_sentences(text)
        steps.extend(make_step(part) for part in parts)
        self.last_numbered = numbered
        self.started = True

    def close_run(self) -> None:
        if self.run:
            self.runs.append(self.run)
            self.run = []

    def open_section(self, heading: Heading) -> None:
        self.close_run()
        self.state = heading.kind
        self.group = heading.group
        self.started = True
        if heading.kind == "ingredients":
            self.layout.ingredients_heading = True
            for item in _inline_ingredients(heading.inline):
                self.add_ingredient(item, self.group)
        elif heading.kind == "steps":
            self.layout.steps_heading = True
            self.last_numbered = False
            if heading.inline:
                self.add_step(heading.inline, numbered=False)

    # -- lines -----------------------------------------------------------------

    def feed(self, raw: str) -> None:
        text = clean_line(raw)
        if not text:
            return
        if is_hashtag_line(raw):
            self.close_run()
            self.state = "none" if self.state != "other" else "other"
            return
        heading = parse_heading(text)
        if heading:
            self.layout.meta_lines.append(text)  # "Zutaten für 4 Personen:"
            self.open_section(heading)
            return
        if _is_meta(text, in_steps=self.state == "steps"):
            self.layout.meta_lines.append(text)
            return
        if self.state == "steps":
            self.feed_steps(raw, text)
        elif self.state == "ingredients":
            self.feed_ingredients(raw, text)
        elif self.state == "none":
            self.feed_free(raw, text)
        else:
            self.layout.meta_lines.append(text)

    def feed_steps(self, raw: str, text: str) -> None:
        body, number = split_marker(text)
        if number is None and _is_group_heading(text):
            # A sub-heading inside the steps ("For the sauce:"): its steps follow,
            # or its ingredients when the caption alternates list and method
            # per component ("Für den Teig:" … steps, "Für die Füllung:" …).
            self.pending_group = group_name(text)
            return
        pending, self.pending_group = self.pending_group, None
        if pending is not None and number is None and has_amount(text):
            self.state, self.group = "ingredients", pending
            self.feed_ingredients(raw, text)
            return
        # A number or a bullet starts a step; an unmarked lowercase line goes on with it.
        self.add_step(body, numbered=number is not None or _has_bullet(raw))

    def feed_ingredients(self, raw: str, text: str) -> None:
        self.layout.meta_lines.append(text)
        body, number = split_marker(text)
        if number is not None and not looks_like_ingredient(body):
            self.state = "steps"
            self.add_step(body, numbered=True)
            return
        if _is_group_heading(text):
            self.group = group_name(text)
            return
        head, colon, tail = text.partition(":")
        inline_group = colon and word_count(head) <= 4 and not has_amount(head)
        if inline_group and has_amount(tail) and parse_ingredient(tail).name:
            # "Sauce: 2 tbsp soy sauce, 1 tbsp honey" (but "Mehl: 500 g" is one line)
            self.group = group_name(head)
            for item in _inline_ingredients(tail):
                self.add_ingredient(item, self.group)
            return
        if is_sign_off(text):
            self.state = "none"
            return
        short = word_count(text) <= 6 and not text.endswith(("!", "?"))
        if has_amount(text) or _has_bullet(raw) or short or looks_like_ingredient(text):
            self.add_ingredient(text, self.group)
            return
        self.state = "none"
        self.feed_free(raw, text)

    def feed_free(self, raw: str, text: str) -> None:
        self.layout.meta_lines.append(text)
        body, number = split_marker(text)
        if number is not None and not looks_like_ingredient(body):
            self.close_run()
            self.state = "steps"
            self.add_step(body, numbered=True)
            return
        if _is_group_heading(text) and not is_sign_off(text):
            # Headless groups ("For the dough:" + lines) keep the run going.
            self.group = group_name(text)
            return
        if looks_like_ingredient(text) or (
            self.run and word_count(text) <= 5 and not text.endswith(("!", "?", "."))
        ):
            self.run.append((text, self.group))
            return
        self.close_run()
        if (self.layout.ingredients or self.runs) and is_instruction(text):
            self.add_step(text, numbered=False)
        elif not self.started and not is_sign_off(text) and named_title(text) is None:
            self.layout.description.append(text)

    def finish(self) -> Layout:
        self.close_run()
        for run in self.runs:
            parsed = [parse_ingredient(line, group) for line, group in run]
            units = sum(i.unit is not None for i in parsed)
            amounts = sum(i.quantity is not None for i in parsed)
            if units >= 2 or (units >= 1 and amounts >= 2) or (self.layout.steps and amounts >= 2):
                self.layout.ingredients.extend(parsed)
        return self.layout


def _title_index(lines: list[str]) -> int | None:
    for index, raw in enumerate(lines):
        text = clean_line(raw)
        if not text or is_hashtag_line(raw):
            continue
        if (
            parse_heading(text)
            or _is_meta(text)
            or looks_like_ingredient(text)
            or split_marker(text)[1] is not None
            or is_sign_off(text)
        ):
            return None
        return index
    return None


def read_caption(caption: str) -> Layout:
    """Find title, description, ingredients, steps and meta lines in a caption."""
    lines = _INLINE_HEADING.sub("\n", caption).splitlines()
    title_at = _title_index(lines)
    reader = _Reader()
    named: str | None = None
    for index, raw in enumerate(lines):
        if named is None and (named := named_title(raw)) is not None:
            continue
        if index == title_at:
            title, rest = split_title(raw)
            reader.layout.title = title or None
            reader.layout.meta_lines.append(clean_line(raw))  # "Pasta (serves 2)"
            if rest:
                reader.feed(rest)
            continue
        reader.feed(raw)
    layout = reader.finish()
    if named:
        layout.title = named
    return layout
