"""The data that crosses process boundaries: recipes, tasks, requests. No I/O here.

Structs are msgspec `Struct`s: they validate on decode and encode fast. Field
names and shapes are the wire contract of `shared/design/API.md`.
"""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec


class Ingredient(msgspec.Struct, kw_only=True):
    text: str
    name: str | None = None
    quantity: float | None = None
    # Upper bound of a range ("2-3 eggs" → quantity 2, quantity_max 3); an
    # addition to API.md that clients may ignore.
    quantity_max: float | None = None
    unit: str | None = None
    note: str | None = None
    group: str | None = None


class Step(msgspec.Struct, kw_only=True):
    text: str
    minutes: int | None = None


class Source(msgspec.Struct, kw_only=True):
    platform: str
    url: str
    video_id: str | None = None
    author: str | None = None
    caption: str | None = None
    thumbnail_url: str | None = None


class Recipe(msgspec.Struct, kw_only=True):
    """The recipe object of API.md. Unknown values stay None, never invented."""

    title: str
    id: str | None = None
    description: str | None = None
    language: str | None = None
    servings: int | None = None
    prep_minutes: int | None = None
    cook_minutes: int | None = None
    total_minutes: int | None = None
    ingredients: list[Ingredient] = msgspec.field(default_factory=list)
    steps: list[Step] = msgspec.field(default_factory=list)
    tags: list[str] = msgspec.field(default_factory=list)
    source: Source | None = None
    created_at: str | None = None


class TaskStatus(enum.StrEnum):
    PENDING = "PENDING"
    STARTED = "STARTED"
    PROGRESS = "PROGRESS"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELLED = "CANCELLED"

    @property
    def finished(self) -> bool:
        return self in (TaskStatus.SUCCESS, TaskStatus.FAILURE, TaskStatus.CANCELLED)


class Usage(msgspec.Struct, kw_only=True):
    """What a task consumed upstream (recorded on the task's result)."""

    model: str | None = None
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    transcription_seconds: float = 0.0
    # Cost accounting (issue 4). Every field has a default so older records decode.
    images: int = 0  # frames in each request to the model
    image_detail: str | None = None  # "low" | "high" | "auto"
    # The frames' share of prompt_tokens over all requests, estimated with
    # OpenAI's rules for `model` (prompt_tokens, from the API, is what is billed).
    image_tokens: int = 0
    transcription_model: str | None = None
    actor_usd: float | None = None  # what Apify reported for the scraper run
    model_usd: float | None = None  # chat + transcription, from the price table
    total_usd: float | None = None  # model_usd + actor_usd
    cache_hit: bool = False  # the recipe came from the extraction cache: no model call


# What an extraction read: a subset of these, in this order. "page": a web
# page's schema.org Recipe (the link itself, or a page the caption links to).
# "screen": text read on screen by OCR; "screen_unread": the video's on-screen
# text could not be read (the OCR extra is not installed: docs/ocr.md).
EVIDENCE = ("caption", "subtitles", "transcript", "screen", "frames", "page", "screen_unread")


# A post with more recipes than this is a list, not a main and its sides: the
# extractors keep at most this many (offline: the rest stays with the last).
MAX_RECIPES = 5

RECIPES_DOC = (
    "Every recipe of the post, in its order (a main and its sauce), each stored as "
    "its own recipe; the first is `recipe`. Null in records written before."
)
RECIPE_IDS_DOC = "The ids of `recipes`, in the same order; the first is `recipe_id`."


class TaskResult(msgspec.Struct, kw_only=True):
    recipe_id: str
    recipe_name: str
    recipe: Recipe
    usage: Usage | None = None  # an addition to API.md's result object
    # What the recipe was read from (subset of EVIDENCE); None in older records.
    evidence: list[str] | None = None
    # Every recipe the post holds (a main and its sauce), each its own stored
    # row, in the post's order: `recipe` is recipes[0], kept for older clients.
    # None in records written before several recipes per post.
    recipe_ids: Annotated[list[str] | None, msgspec.Meta(description=RECIPE_IDS_DOC)] = None
    recipes: Annotated[list[Recipe] | None, msgspec.Meta(description=RECIPES_DOC)] = None


class TaskErrorInfo(msgspec.Struct, kw_only=True):
    error: str
    message: str
    retryable: bool = False
    # The draft that keeps what this task read (resimply/drafts.py); absent when none.
    draft_id: str | msgspec.UnsetType = msgspec.UNSET


class ScrapeRequest(msgspec.Struct, kw_only=True):
    """What the worker needs to run one task (the job's only argument besides the id)."""

    url: str
    user_id: str
    language: str | None = None
    caption: str | None = None


TOTAL_STEPS = 5
