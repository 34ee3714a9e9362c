"""Text read on screen (`media.ocr`): an ingredient list and a title card, read like a caption.

The OCR text comes as one paragraph per shot, in time order. Lists shown on
screen are read by the caption's reader (`sections.read_caption`): lines with
amounts are ingredients, a heading ("Ingredients", "Zutaten") opens a list,
numbered lines are steps; sentences (speech burned in as captions) are read
like speech (`parse._mentioned`). A *title card* is a shot that shows one or
two short lines with no amount and no heading — the dish's name, as most
videos open (not a greeting).
"""

from __future__ import annotations

import re

from .ingredients import has_amount
from .sections import Layout, parse_heading, read_caption
from .steps import is_instruction
from .text import word_count
from .titles import tidy_title

MAX_TITLE_WORDS = 8
# A greeting or a call to follow opens many videos; it names no dish.
_NOT_A_TITLE = re.compile(
    r"^(?:hi|hey|hello|hallo|servus|moin|welcome|willkommen|follow|folg|like|save|speicher)\b",
    re.IGNORECASE,
)
MIN_LISTED = 2  # ingredients with an amount that make a list on screen a recipe


def read_screen(text: str | None) -> Layout:
    """The layout of the text read on screen; its title is the first title card."""
    if not text or not text.strip():
        return Layout()
    layout = read_caption(text)
    layout.title = title_card(text)
    return layout


def title_card(text: str) -> str | None:
    """The first shot whose text is one or two short lines that name something:
    no amount, no heading, not an instruction ("Stir well")."""
    for block in text.split("\n\n"):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if not 1 <= len(lines) <= 2:
            continue
        joined = " ".join(lines)
        if (
            word_count(joined) > MAX_TITLE_WORDS
            or any(has_amount(line) or parse_heading(line) for line in lines)
            or is_instruction(joined)
            or not any(c.isalpha() for c in joined)
            or _NOT_A_TITLE.match(joined)
        ):
            continue
        return tidy_title(joined) or None
    return None


def shows_recipe(layout: Layout) -> bool:
    """The screen alone shows a recipe: a list with amounts, or numbered steps."""
    measured = sum(i.quantity is not None or i.unit is not None for i in layout.ingredients)
    instructions = sum(is_instruction(step.text) for step in layout.steps)
    return measured >= MIN_LISTED or instructions >= 2
