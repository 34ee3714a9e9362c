"""Caption first: does the text of a post already hold a complete recipe?

Many authors write the whole recipe in the caption; the frames then add cost
and nothing else. The offline parser (`resimply.offline.parse_recipe`) is the
judge: the caption and subtitles hold a complete recipe when it finds enough
ingredients, most of them with an amount, and steps. The transcript is not
enough on its own: speech loses amounts that the screen shows. The text read on
screen (OCR) counts: a list shown on screen is as good as one in the caption.
"""

from __future__ import annotations

from ..errors import NotARecipe
from ..offline import parse_recipe

MIN_INGREDIENTS = 2
MIN_MEASURED_SHARE = 0.6  # "salt", "pepper to taste" may go without an amount
MIN_STEPS = 2


def text_holds_recipe(
    caption: str | None, subtitles: str | None, screen: str | None = None
) -> bool:
    """True when caption + subtitles + the text read on screen alone hold
    ingredients with amounts and steps."""
    if not any((text or "").strip() for text in (caption, subtitles, screen)):
        return False
    try:
        recipe = parse_recipe(caption, subtitles, None, None, screen=screen)
    except NotARecipe:
        return False
    ingredients = recipe.ingredients
    measured = sum(i.quantity is not None for i in ingredients)
    return (
        len(ingredients) >= MIN_INGREDIENTS
        and measured >= MIN_MEASURED_SHARE * len(ingredients)
        and len(recipe.steps) >= MIN_STEPS
    )
