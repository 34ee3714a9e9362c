"""The REST endpoints of API.md."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from .. import __version__
from ..cooking import ScaledRecipe, ScaleOptions, parse_scale_options, scale_recipe
from ..errors import AlreadyFinished, InvalidRequest, NotFound
from ..heartbeat import live_workers
from ..links import canonical_link
from ..models import Recipe
from ..providers.routing import capabilities_of
from ..tasks import Submission
from .bodies import ActiveTasks, CancelAccepted, Capabilities, Health, RecipePage, Submitted
from .requests import check_supported, identify, parse_scrape_body, read_json, web_state

# What a handler answers is a struct of bodies.py (or tasks.py / models.py):
# /openapi.json documents those same structs (openapi.py).
_encode = msgspec.json.Encoder().encode


def json(data: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(data), status_code, headers, media_type="application/json")


async def health(request: Request) -> Response:
    state = web_state(request)
    try:
        async with asyncio.timeout(2):
            await state.redis.ping()
            workers = await live_workers(state.redis, state.keys)
    except Exception:
        return json(
            Health(
                status="unhealthy",
                redis_connected=False,
                workers=0,
                services=["web"],
                version=__version__,
            ),
            503,
        )
    return json(
        Health(
            status="healthy" if workers else "degraded",
            redis_connected=True,
            workers=workers,
            services=["web", "redis", "worker"] if workers else ["web", "redis"],
            streams=state.connections,  # open SSE / WebSocket streams on this process
            version=__version__,
        )
    )


async def capabilities(request: Request) -> Response:
    """What this configuration accepts: platforms with their scraper, web pages,
    direct media links, local files (providers/routing.py). No sign-in needed."""
    return json(
        msgspec.convert(capabilities_of(web_state(request).scraper).to_dict(), Capabilities)
    )


async def start_scrape(request: Request) -> Response:
    state = web_state(request)
    identity = await identify(request)
    body = parse_scrape_body(await read_json(request, state.settings.max_body_bytes))
    check_supported(state, body.url)
    submission = await state.tasks.create(
        user_id=identity.user_id,
        url=body.url,
        canonical_url=canonical_link(body.url),
        language=body.language,
        caption=body.caption,
        idempotency_key=request.headers.get("idempotency-key") or None,
        rate_limit_per_minute=state.settings.rate_limit_per_minute,
    )
    return submitted(submission)


def submitted(submission: Submission) -> Response:
    """202 for a new task (200 for a repeat): where to follow it."""
    task_id = submission.task_id
    return json(
        Submitted(
            task_id=task_id,
            status="PENDING",
            status_url=f"/task/{task_id}",
            events_url=f"/events/{task_id}",
            ws_url=f"/ws/{task_id}",
        ),
        submission.http_status,
        {"Location": f"/task/{task_id}"},
    )


async def get_task(request: Request) -> Response:
    state = web_state(request)
    identity = await identify(request)
    scaling = parse_scale_options(request.query_params)
    record = await state.tasks.get_owned(request.path_params["task_id"], identity.user_id)
    if record is None:
        raise NotFound("No such task.")
    view = record.view()
    if scaling is not None and view.result is not None:
        # ?servings= / ?scale= / ?units= (resimply/cooking): the result's recipe, scaled.
        main = scale_recipe(view.result.recipe, scaling)
        result = msgspec.structs.replace(
            view.result,
            recipe=main,
            recipes=None
            if view.result.recipes is None
            else [main, *_scale_others(view.result.recipes[1:], scaling, main)],
        )
        view = msgspec.structs.replace(view, result=result)
    return json(view)


async def active_tasks(request: Request) -> Response:
    state = web_state(request)
    identity = await identify(request)
    records = await state.tasks.active(identity.user_id)
    return json(ActiveTasks(tasks=[r.view() for r in records]))


async def cancel_task(request: Request) -> Response:
    state = web_state(request)
    identity = await identify(request)
    task_id = request.path_params["task_id"]
    record = await state.tasks.get_owned(task_id, identity.user_id)
    if record is None:
        raise NotFound("No such task.")
    if (
        record.status.finished
        or await state.tasks.fail(
            record,
            code="cancelled",
            text="The task was cancelled.",
            retryable=False,
            cancelled=True,
        )
        is None
    ):
        raise AlreadyFinished(f"The task has already finished with status {record.status}.")
    await state.jobs.abort(task_id)
    return json(CancelAccepted(task_id=task_id, status="CANCELLED"), 202)


def _scale_others(
    recipes: list[Recipe], scaling: ScaleOptions, main: ScaledRecipe
) -> list[ScaledRecipe]:
    """The post's further recipes (a main's sauce) scaled with the main one: by
    their own servings when they say, else by the main recipe's factor (a sauce
    rarely says whom it serves, and it goes with the main)."""
    scaled = []
    for recipe in recipes:
        options = scaling
        if scaling.servings is not None and recipe.servings is None and main.scaling:
            options = dataclasses.replace(scaling, servings=None, scale=main.scaling.factor)
        scaled.append(scale_recipe(recipe, options))
    return scaled


async def list_recipes(request: Request) -> Response:
    state = web_state(request)
    identity = await identify(request)
    limit = min(max(_whole_number(request.query_params.get("limit", "50")), 1), 200)
    # Clamped, as limit is: an offset past any store's integer range (SQLite's is
    # 64-bit) was a 500; past the last recipe the page is empty anyway.
    offset = min(max(_whole_number(request.query_params.get("offset", "0")), 0), MAX_OFFSET)
    recipes = await state.recipes.list(
        user_id=identity.user_id, limit=limit, offset=offset, access_token=identity.token
    )
    return json(RecipePage(recipes=recipes, limit=limit, offset=offset))


MAX_OFFSET = 2**31 - 1
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,30}")


def _whole_number(value: str) -> int:
    """ASCII digits with an optional sign; not the other forms int() reads ("1_000", "٣")."""
    if not _WHOLE_NUMBER.fullmatch(value):
        raise InvalidRequest('"limit" and "offset" must be whole numbers.')
    return int(value)


async def get_recipe(request: Request) -> Response:
    state = web_state(request)
    identity = await identify(request)
    scaling = parse_scale_options(request.query_params)
    recipe = await state.recipes.get(
        user_id=identity.user_id,
        recipe_id=request.path_params["recipe_id"],
        access_token=identity.token,
    )
    if recipe is None:
        raise NotFound("No such recipe.")
    if scaling is not None:
        # Scaled and converted, the original amounts alongside (docs/scaling.md);
        # without the parameters the stored recipe goes out as it is.
        return json(scale_recipe(recipe, scaling))
    return json(recipe)
