"""`/drafts`: failed imports kept so they can be fixed or run again (resimply/drafts.py)."""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ..drafts import Draft, DraftPage, DraftStore, summary
from ..errors import InvalidRecipe, InvalidRetry, NotFound
from ..models import Recipe
from ..providers.offline import OfflineExtractor
from .requests import _LANGUAGE, identify, read_json, web_state
from .rest import json, submitted
from .state import WebState

_DRAFT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NO_DRAFT = "No such draft (it may have expired, or been saved as a recipe)."

_Short = Annotated[str, msgspec.Meta(max_length=200)]
_Text = Annotated[str, msgspec.Meta(min_length=1, max_length=2_000, pattern=r"\S")]
_Minutes = Annotated[int, msgspec.Meta(ge=0, le=100_000)]
_Amount = Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]


class IngredientBody(msgspec.Struct, kw_only=True):
    text: _Text
    name: _Short | None = None
    quantity: _Amount | None = None
    quantity_max: _Amount | None = None
    unit: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    note: _Short | None = None
    group: _Short | None = None


class StepBody(msgspec.Struct, kw_only=True):
    text: _Text
    minutes: _Minutes | None = None


class RecipeBody(msgspec.Struct, kw_only=True):
    """`POST /drafts/{draft_id}/recipe`: the recipe as the user fixed it (the fields
    of a recipe a person writes; `id`, `created_at` and `source` are the server's)."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=300, pattern=r"\S")]
    description: Annotated[str, msgspec.Meta(max_length=4_000)] | None = None
    language: Annotated[str, msgspec.Meta(pattern="^[a-z]{2}$")] | None = None
    servings: Annotated[int, msgspec.Meta(ge=1, le=1_000)] | None = None
    prep_minutes: _Minutes | None = None
    cook_minutes: _Minutes | None = None
    total_minutes: _Minutes | None = None
    ingredients: Annotated[list[IngredientBody], msgspec.Meta(max_length=300)] = []
    steps: Annotated[list[StepBody], msgspec.Meta(max_length=300)] = []
    tags: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=50)]], msgspec.Meta(max_length=30)
    ] = []


class RetryBody(msgspec.Struct, kw_only=True):
    """`POST /drafts/{draft_id}/retry`: both optional (`{}`: the same again)."""

    language: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=r"^\s*[A-Za-z]{2}\s*$",
                description="ISO 639-1 code: the language to write the recipe in.",
            ),
        ]
        | None
    ) = None
    extractor: (
        Annotated[
            str,
            msgspec.Meta(
                description="`offline`, or the server's own extractor (`openai` when "
                "configured); default: the server's own."
            ),
        ]
        | None
    ) = None


def _drafts(state: WebState) -> DraftStore:
    """The drafts, in the recipe store beside the recipes (resimply/drafts.py)."""
    drafts = DraftStore.of(state.recipes, ttl_s=state.settings.draft_ttl_s)
    if drafts is None:
        raise NotFound(NO_DRAFT)  # a store that keeps no drafts has none to show
    return drafts


async def list_drafts(request: Request) -> Response:
    state = web_state(request)
    identity = await identify(request)
    drafts = await _drafts(state).list(identity.user_id, access_token=identity.token)
    return json(DraftPage(drafts=[summary(d) for d in drafts]))


async def _owned(request: Request, state: WebState, user_id: str, token: str | None) -> Draft:
    draft_id = request.path_params["draft_id"]
    # Draft ids are UUIDs: anything else is no draft, without a query built from it.
    if not _DRAFT_ID.fullmatch(draft_id):
        raise NotFound(NO_DRAFT)
    draft = await _drafts(state).get(user_id, draft_id, access_token=token)
    if draft is None:
        raise NotFound(NO_DRAFT)
    return draft


async def get_draft(request: Request) -> Response:
    state = web_state(request)
    identity = await identify(request)
    return json(await _owned(request, state, identity.user_id, identity.token))


def parse_recipe_body(body: Any) -> Recipe:
    """The user's recipe, or 400 `invalid_recipe` saying which field is wrong."""
    try:
        recipe = msgspec.convert(body, RecipeBody)
    except msgspec.ValidationError as exc:
        raise InvalidRecipe(
            f"The recipe is not valid: {exc}. {InvalidRecipe.default_message}"
        ) from None
    if not recipe.ingredients and not recipe.steps:
        raise InvalidRecipe("A recipe needs at least one ingredient or one step.")
    if b"\\u0000" in msgspec.json.encode(recipe):
        raise InvalidRecipe("The recipe must not contain NUL characters (\\u0000).")
    return msgspec.convert(msgspec.to_builtins(recipe), Recipe)


async def save_draft_recipe(request: Request) -> Response:
    """The draft, fixed by the user, becomes a recipe in their book; the draft goes."""
    state = web_state(request)
    identity = await identify(request)
    draft = await _owned(request, state, identity.user_id, identity.token)
    recipe = parse_recipe_body(await read_json(request, state.settings.max_body_bytes))
    recipe = msgspec.structs.replace(recipe, source=draft.source)
    # Keyed by the failed task's id: a repeated POST stores one recipe.
    stored = await state.recipes.save(
        user_id=identity.user_id,
        task_id=draft.task_id,
        recipe=recipe,
        thumbnail=draft.frames[-1].jpeg if draft.frames else None,
    )
    await _drafts(state).delete(identity.user_id, draft.draft_id, access_token=identity.token)
    return json(stored, 201, {"Location": f"/recipes/{stored.id}"})


def extractors_of(state: WebState) -> list[str]:
    """What a retry may ask for: the workers' extractor, and the free offline one."""
    return sorted({state.settings.extractor, OfflineExtractor.name})


def parse_retry_body(body: Any, allowed: list[str]) -> RetryBody:
    try:
        retry = msgspec.convert(body, RetryBody)
    except msgspec.ValidationError as exc:
        raise InvalidRetry(
            f'{exc}. Send {{"language": "<two letters>", "extractor": "<one of: '
            f'{", ".join(allowed)}>"}}, both optional.'
        ) from None
    language = retry.language.strip().lower() if retry.language else None
    if language is not None and not _LANGUAGE.match(language):
        raise InvalidRetry('"language" must be a two-letter ISO 639-1 code such as "en" or "de".')
    if retry.extractor is not None and retry.extractor not in allowed:
        raise InvalidRetry(f'"extractor" must be one of: {", ".join(allowed)}.')
    return RetryBody(language=language, extractor=retry.extractor)


async def retry_draft(request: Request) -> Response:
    """A new task reading the draft again: no scrape, no download."""
    state = web_state(request)
    identity = await identify(request)
    draft = await _owned(request, state, identity.user_id, identity.token)
    empty = request.headers.get("content-length") == "0"
    body = {} if empty else await read_json(request, state.settings.max_body_bytes)
    retry = parse_retry_body(body, extractors_of(state))
    submission = await state.tasks.create(
        user_id=identity.user_id,
        url=draft.url,
        # A second retry while the first runs gets the first back (200).
        canonical_url=f"draft:{draft.draft_id}:{retry.language}:{retry.extractor}",
        language=retry.language,
        caption=None,
        idempotency_key=request.headers.get("idempotency-key") or None,
        rate_limit_per_minute=state.settings.rate_limit_per_minute,
        draft_id=draft.draft_id,
        extractor=retry.extractor,
    )
    return submitted(submission)
