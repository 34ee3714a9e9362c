"""Progress messages (API.md "Progress messages"), as tagged msgspec structs.

`event_id` is not a field: it is the Redis stream entry id, spliced into the
encoded JSON when a message is read back (see `events.with_event_id`).
"""

from __future__ import annotations

import time
from typing import Annotated

import msgspec

from .models import RECIPE_IDS_DOC, RECIPES_DOC, TOTAL_STEPS, Ingredient, Recipe, Step


class Progress(msgspec.Struct, tag="progress", tag_field="type", kw_only=True, omit_defaults=False):
    task_id: str
    step: int
    stage: str
    status: str
    details: str | None = None
    fraction: float | None = None
    total_steps: int = TOTAL_STEPS
    timestamp: float = msgspec.field(default_factory=time.time)


class Completion(msgspec.Struct, tag="completion", tag_field="type", kw_only=True):
    task_id: str
    recipe_id: str
    recipe_name: str
    recipe: Recipe
    status: str = "SUCCESS"
    message: str = "Recipe successfully processed and saved"
    timestamp: float = msgspec.field(default_factory=time.time)
    # Additions: every recipe of the post in its order (`recipe` is the first),
    # for clients that show a main and its sauce; older clients read `recipe`.
    recipe_ids: Annotated[list[str] | None, msgspec.Meta(description=RECIPE_IDS_DOC)] = None
    recipes: Annotated[list[Recipe] | None, msgspec.Meta(description=RECIPES_DOC)] = None


class ErrorMessage(msgspec.Struct, tag="error", tag_field="type", kw_only=True):
    task_id: str
    error: str
    message: str
    retryable: bool = False
    status: str = "FAILURE"  # or "CANCELLED"
    timestamp: float = msgspec.field(default_factory=time.time)
    # The draft keeping what the task read (`GET /drafts/{draft_id}`); absent when none.
    draft_id: str | msgspec.UnsetType = msgspec.UNSET


class Partial(msgspec.Struct, tag="partial", tag_field="type", kw_only=True):
    """The recipe as far as the model has written it (OpenAI extractor only).

    Sent only to clients that opt in (`?partial=1`); each replaces the one
    before (a retried answer starts again from fewer items). Only items the model
    has finished writing are in it; the `completion` that follows is the recipe."""

    task_id: str
    title: str | None = None
    ingredients: list[Ingredient] = msgspec.field(default_factory=list)
    steps: list[Step] = msgspec.field(default_factory=list)
    timestamp: float = msgspec.field(default_factory=time.time)


Message = Progress | Partial | Completion | ErrorMessage

STAGES = ("init", "scrape", "media", "extract", "store")

encode = msgspec.json.Encoder().encode
decode = msgspec.json.Decoder(Message).decode
