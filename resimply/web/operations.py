"""What each route takes and answers, for /openapi.json: one declaration per route.

The schemas come from the structs the handlers encode (bodies.py, tasks.py,
models.py, messages.py) and the error classes they raise (errors.py); this table
adds only what code cannot say: a summary, the parameters a handler reads, which
answers and errors it can give. `openapi.document` walks the app's routes and
fails for a route without an entry here (and for an entry without a route), so
the document cannot miss an endpoint.

To add a route: add it to `app.ROUTES` and an `Operation` here under its
(METHOD, path). To add a query parameter: add a `Param(...)` to its `params`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec

from ..cooking.options import MAX_SCALE, MAX_SERVINGS, MIN_SCALE, MIN_SERVINGS
from ..cooking.scale import ScaledRecipe
from ..drafts import Draft, DraftPage
from ..errors import (
    AlreadyFinished,
    InvalidRecipe,
    InvalidRequest,
    InvalidRetry,
    InvalidServings,
    InvalidUnits,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RequestTimeout,
    ResimplyError,
    ServiceUnavailable,
    ServingsUnknown,
    TooManyConnections,
    Unauthorized,
    UnsupportedUrl,
)
from ..models import Recipe
from ..tasks import TaskView
from . import bodies
from .drafts import RecipeBody, RetryBody
from .requests import ScrapeRequestBody

Auth = Literal["bearer", "public", "stream"]  # stream: bearer, or ?token= (browsers)


@dataclasses.dataclass(frozen=True)
class Param:
    """A query, header or path parameter; `type` is a Python / msgspec type (its
    JSON Schema comes from msgspec, constraints from `msgspec.Meta`)."""

    name: str
    where: Literal["query", "header", "path"]
    description: str
    type: Any = str
    required: bool = False
    example: Any = None


@dataclasses.dataclass(frozen=True)
class Answer:
    """A successful (or otherwise non-error) answer. `body`: a type, or None."""

    status: int
    description: str
    body: Any = None
    media_type: str = "application/json"
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)  # name → description


@dataclasses.dataclass(frozen=True)
class Refusal:
    """An error answer that no `ResimplyError` class stands for (the router's, the
    WebSocket handshake's)."""

    status: int
    code: str
    message: str


@dataclasses.dataclass(frozen=True)
class Operation:
    summary: str
    answers: tuple[Answer, ...]
    tag: str
    description: str = ""
    errors: tuple[type[ResimplyError] | Refusal, ...] = ()
    params: tuple[Param, ...] = ()
    body: Any = None  # the JSON request body's type
    body_examples: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    auth: Auth = "bearer"
    websocket: bool = False  # a WebSocket endpoint: the answer is 101, then frames


# Path parameters, by name (their values are read from the route's path).
PATH_PARAMS = {
    "task_id": "The task's id, as `POST /scrape/async` returned it.",
    "asset": "A file name, such as `swagger-ui-bundle.js`.",
    "draft_id": "The draft's id (`error.draft_id` of a failed task, or `draft_id` in `GET /drafts`).",
    "recipe_id": "The recipe's id (`result.recipe_id` of a finished task, or `id` in `GET /recipes`).",
}

UPGRADE_REQUIRED = Refusal(
    426,
    "upgrade_required",
    "This is a WebSocket endpoint: connect with a WebSocket client "
    "(or use GET /events/{task_id} for Server-Sent Events).",
)
BAD_HANDSHAKE = Refusal(
    400, "invalid_request", "Sec-WebSocket-Key must be the base64 encoding of 16 random bytes."
)

# ?servings= / ?scale= / ?units= (resimply/cooking/options.py; docs/scaling.md).
SCALE_PARAMS = (
    Param(
        "servings",
        "query",
        "Scale the recipe to this many servings (it must say how many it serves: "
        "else 422 `servings_unknown`, use `scale`). Not together with `scale`.",
        type=Annotated[int, msgspec.Meta(ge=MIN_SERVINGS, le=MAX_SERVINGS)],
        example=6,
    ),
    Param(
        "scale",
        "query",
        "Multiply every amount by this factor (a decimal comma is taken: `1,5`). "
        "Not together with `servings`.",
        type=Annotated[float, msgspec.Meta(ge=MIN_SCALE, le=MAX_SCALE)],
        example=2,
    ),
    Param(
        "units",
        "query",
        "The unit system of the amounts: `metric` (grams, millilitres; spoons stay "
        "spoons), `us` (cups, spoons, ounces), `original` (as written; the default).",
        type=Literal["metric", "us", "original"],
        example="metric",
    ),
)
_SCALE_ERRORS = (InvalidServings, InvalidUnits, ServingsUnknown)
_SCALED = (
    " With `servings`, `scale` or `units` the recipe comes scaled and converted: each "
    "ingredient also carries `amount`, `original`, `flags` and `notes`, and the recipe "
    "`scaling` (docs/scaling.md); without them it is the stored recipe, byte for byte."
)

# A task-starting POST (`rest.submitted`): its header and its two answers.
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    "Any string: a repeat with the same key (and user) returns the first answer.",
)


def submitted(repeat: str) -> tuple[Answer, ...]:
    """202 for a new task, 200 (`repeat`: when) for one the caller already has."""
    location = {"Location": "The task's status URL, `/task/{task_id}`."}
    return (
        Answer(202, "A new task.", bodies.Submitted, headers=location),
        Answer(200, repeat, bodies.Submitted, headers=location),
    )


# Every route that reads Redis answers 503 service_unavailable while it is away.
_SIGNED_IN = (Unauthorized, ServiceUnavailable)

StreamId = Annotated[
    str,
    msgspec.Meta(
        pattern="^([0-9]+(-[0-9]+)?)?$",
        description="A Redis stream id (`ms` or `ms-seq`, each part at most 2^64-1): the "
        "`event_id` of the last message received. Empty is the same as absent (from the start).",
    ),
]
LAST_EVENT_ID_QUERY = Param(
    "last_event_id",
    "query",
    "Resume after this message (the `event_id` of the last message received).",
    type=StreamId,
    example="1764064800000-0",
)

PARTIAL_QUERY = Param(
    "partial",
    "query",
    "1: also send the recipe as it is read, as `partial` messages (schema `Partial`: the "
    "ingredients and steps the model has finished writing, each message replacing the one "
    "before, at most a few a second; only with the OpenAI extractor). They are replayed "
    "and resumed like the others. 0 or absent: never (the seed's message types only). "
    "Anything else is a 400 `invalid_request` (WebSocket: close 1008).",
    type=Literal["0", "1", "true", "false"],
    example="1",
)

_SSE = (
    "The task's messages as Server-Sent Events: first a `retry:` field, then each "
    "message as `id: <event_id>` / `event: <type>` / `data: <JSON message>` (schema "
    "`Message`). Earlier messages are replayed (those after `Last-Event-ID` when given), "
    "then live ones follow, in order, each once; the stream ends after the terminal "
    "message (`completion`, or `error` with status FAILURE or CANCELLED). A comment line "
    "(`: keep-alive`) is sent while idle. A stream that ends early (server restart, a client "
    "too slow) is resumed by reconnecting with `Last-Event-ID`, which `EventSource` does "
    "by itself."
)

_WS = (
    "The task's messages on a WebSocket, one JSON text frame each (schema `Message`): "
    "replayed after `?last_event_id=` when given, then live, in order, each once. "
    "Authenticate with `?token=<jwt>` (browsers cannot set headers) or the "
    "`Authorization` header. The server accepts the connection first and closes it "
    "with a code that says why (`x-close-codes`); it pings idle connections. The "
    "client sends nothing (a message closes with 1009)."
)

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/"): Operation(
        summary="The landing page: paste a link, watch the steps live, read the recipe.",
        tag="page",
        auth="public",
        answers=(Answer(200, "HTML.", str, "text/html"),),
    ),
    ("GET", "/health"): Operation(
        summary="Liveness and readiness.",
        description="`degraded`: no worker reported a heartbeat recently (still 200: the "
        "web tier is up). 503 `unhealthy`: Redis cannot be reached.",
        tag="service",
        auth="public",
        answers=(
            Answer(200, "Healthy, or degraded (no live worker).", bodies.Health),
            Answer(503, "Redis is unreachable.", bodies.Health),
        ),
    ),
    ("GET", "/capabilities"): Operation(
        summary="What this configuration accepts: platforms and their scraper, web pages, "
        "direct media links, local files.",
        description="The same account the landing page's hint and the 422 `unsupported_url` "
        "messages give.",
        tag="service",
        auth="public",
        answers=(Answer(200, "What this server takes.", bodies.Capabilities),),
    ),
    ("GET", "/openapi.json"): Operation(
        summary="This document (OpenAPI 3.1).",
        tag="service",
        auth="public",
        answers=(Answer(200, "The OpenAPI document.", dict[str, Any]),),
    ),
    ("GET", "/docs"): Operation(
        summary="This document, rendered for people (works offline).",
        tag="service",
        auth="public",
        answers=(Answer(200, "HTML.", str, "text/html"),),
    ),
    ("GET", "/docs/{asset}"): Operation(
        summary="The files of the /docs page (the vendored renderer).",
        tag="service",
        auth="public",
        answers=(Answer(200, "The file (JavaScript or CSS).", str, "*/*"),),
        errors=(NotFound,),
    ),
    ("GET", "/metrics"): Operation(
        summary="Prometheus metrics of this process (text exposition format).",
        description="For Prometheus on the internal network: Caddy answers 404 for it. "
        "With `RESIMPLY_METRICS_TOKEN` set it wants `Authorization: Bearer <that token>` "
        "and answers 401 without it. Each web process (and each worker, on "
        "`RESIMPLY_WORKER_METRICS_PORT`) is its own scrape target: docs/metrics.md.",
        tag="service",
        auth="public",
        answers=(Answer(200, "The metrics.", str, "text/plain; version=0.0.4"),),
        errors=(Unauthorized,),
    ),
    ("POST", "/scrape/async"): Operation(
        summary="Start extracting a recipe from a video link.",
        description="Answers at once with the task; follow it on `events_url` (SSE), "
        "`ws_url` (WebSocket) or `status_url` (polling). The same user sending the same "
        "video while an earlier task for it is unfinished gets that task back (200). "
        "A repeat with the same `Idempotency-Key` returns the first answer.",
        tag="tasks",
        body=ScrapeRequestBody,
        body_examples={
            "direct": {
                "summary": "A direct link to a video file",
                "value": {"url": "https://videos.example.com/carbonara.mp4", "language": "en"},
            },
            "tiktok": {
                "summary": "A TikTok video, recipe in German",
                "value": {
                    "url": "https://www.tiktok.com/@chef/video/7301234567890123456",
                    "language": "de",
                },
            },
        },
        params=(IDEMPOTENCY_KEY,),
        answers=submitted(
            "The caller's unfinished task for the same video, or an idempotent repeat."
        ),
        errors=(
            InvalidRequest,
            RequestTimeout,
            PayloadTooLarge,
            UnsupportedUrl,
            RateLimited,
            *_SIGNED_IN,
        ),
    ),
    ("GET", "/task/{task_id}"): Operation(
        summary="A task's status (the polling fallback of the streams).",
        description="Task records outlive completion for at least 24 h. A task of another "
        "user is a 404, as an unknown one."
        + _SCALED.replace("the recipe", "`result.recipe` (and each of `result.recipes`)", 1),
        tag="tasks",
        params=SCALE_PARAMS,
        answers=(Answer(200, "The task.", TaskView),),
        errors=(NotFound, *_SCALE_ERRORS, *_SIGNED_IN),
    ),
    ("DELETE", "/task/{task_id}"): Operation(
        summary="Cancel a task.",
        description="The job is aborted wherever it runs; the stream ends with an `error` "
        "message whose `status` is CANCELLED.",
        tag="tasks",
        answers=(Answer(202, "Cancelled.", bodies.CancelAccepted),),
        errors=(NotFound, AlreadyFinished, *_SIGNED_IN),
    ),
    ("GET", "/tasks/active"): Operation(
        summary="The caller's unfinished tasks, newest first.",
        tag="tasks",
        answers=(Answer(200, "The tasks.", bodies.ActiveTasks),),
        errors=_SIGNED_IN,
    ),
    ("GET", "/events/{task_id}"): Operation(
        summary="The task's messages as Server-Sent Events.",
        description=_SSE,
        tag="streams",
        auth="stream",
        params=(
            Param(
                "Last-Event-ID",
                "header",
                "Resume after this message (`EventSource` sends it when it reconnects). "
                "Wins over `?last_event_id=`.",
                type=StreamId,
                example="1764064800000-0",
            ),
            dataclasses.replace(
                LAST_EVENT_ID_QUERY,
                description="The same as the `Last-Event-ID` header, for clients that cannot "
                "set headers (read only without the header).",
            ),
            PARTIAL_QUERY,
        ),
        answers=(
            Answer(200, "The event stream.", "sse", "text/event-stream"),
            Answer(
                204,
                "`Last-Event-ID` is the task's terminal message (or later): nothing will "
                "follow, and `EventSource` stops reconnecting.",
            ),
        ),
        errors=(InvalidRequest, NotFound, RateLimited, TooManyConnections, *_SIGNED_IN),
    ),
    ("GET", "/ws/{task_id}"): Operation(
        summary="The task's messages on a WebSocket.",
        description=_WS,
        tag="streams",
        auth="stream",
        websocket=True,
        params=(LAST_EVENT_ID_QUERY, PARTIAL_QUERY),
        answers=(Answer(101, "Switching Protocols: the WebSocket is open."),),
        errors=(BAD_HANDSHAKE, UPGRADE_REQUIRED),
    ),
    ("GET", "/wss/{task_id}"): Operation(
        summary="Alias of `/ws/{task_id}`.",
        description=_WS,
        tag="streams",
        auth="stream",
        websocket=True,
        params=(LAST_EVENT_ID_QUERY, PARTIAL_QUERY),
        answers=(Answer(101, "Switching Protocols: the WebSocket is open."),),
        errors=(BAD_HANDSHAKE, UPGRADE_REQUIRED),
    ),
    ("GET", "/recipes"): Operation(
        summary="The caller's stored recipes, newest first.",
        tag="recipes",
        params=(
            Param(
                "limit",
                "query",
                "Page size: 1..200 (values outside are clamped), default 50. ASCII digits "
                "with an optional sign.",
                type=int,
                example=10,
            ),
            Param(
                "offset",
                "query",
                "Recipes to skip: 0 or more (negative counts as 0, larger than 2^31-1 as "
                "that), default 0.",
                type=int,
                example=0,
            ),
        ),
        answers=(Answer(200, "A page of recipes.", bodies.RecipePage),),
        errors=(InvalidRequest, *_SIGNED_IN),
    ),
    ("GET", "/recipes/{recipe_id}"): Operation(
        summary="One stored recipe of the caller.",
        description=_SCALED.strip(),
        tag="recipes",
        params=SCALE_PARAMS,
        answers=(Answer(200, "The recipe (scaled when asked).", ScaledRecipe),),
        errors=(NotFound, *_SCALE_ERRORS, *_SIGNED_IN),
    ),
    ("GET", "/drafts"): Operation(
        summary="The caller's drafts: failed imports kept, newest first.",
        description="A task that ends in `not_a_recipe`, `extraction_failed` or `timeout` "
        "after the video was read keeps what it read as a draft (its `error` message and "
        "`error` object carry `draft_id`). Drafts expire (`expires_at`, "
        "`RESIMPLY_DRAFT_TTL_S`).",
        tag="drafts",
        answers=(Answer(200, "The caller's unexpired drafts (without frames).", DraftPage),),
        errors=_SIGNED_IN,
    ),
    ("GET", "/drafts/{draft_id}"): Operation(
        summary="One draft of the caller: caption, subtitles, transcript, frames, partial recipe.",
        description="Frames are small JPEGs, base64 in JSON. A draft of another user is "
        "a 404, as an unknown or expired one.",
        tag="drafts",
        answers=(Answer(200, "The draft.", Draft),),
        errors=(NotFound, *_SIGNED_IN),
    ),
    ("POST", "/drafts/{draft_id}/recipe"): Operation(
        summary="Save a draft, as the user fixed it, as a recipe.",
        description="The body is the recipe (a title, at least one ingredient or step); "
        "the server adds `id`, `created_at` and the draft's `source`. The draft is then "
        "gone (404 afterwards).",
        tag="drafts",
        body=RecipeBody,
        body_examples={
            "fixed": {
                "summary": "A recipe typed from the draft's caption",
                "value": {
                    "title": "Pancakes",
                    "servings": 2,
                    "ingredients": [{"text": "200 g flour", "quantity": 200, "unit": "g"}],
                    "steps": [{"text": "Mix and fry."}],
                },
            }
        },
        answers=(
            Answer(
                201,
                "The stored recipe.",
                Recipe,
                headers={"Location": "The recipe's URL, `/recipes/{recipe_id}`."},
            ),
        ),
        errors=(
            NotFound,
            InvalidRecipe,
            InvalidRequest,
            RequestTimeout,
            PayloadTooLarge,
            *_SIGNED_IN,
        ),
    ),
    ("POST", "/drafts/{draft_id}/retry"): Operation(
        summary="Read a draft again, in another language or with another extractor.",
        description="A new task (follow it as any other) that reads what the draft holds: "
        "nothing is scraped or downloaded again. Success stores the recipe and removes "
        "the draft; failure updates the draft. An empty body or `{}` retries as it was.",
        tag="drafts",
        body=RetryBody,
        body_examples={"german": {"summary": "In German", "value": {"language": "de"}}},
        params=(IDEMPOTENCY_KEY,),
        answers=submitted(
            "The unfinished retry of this draft with the same options, or an idempotent repeat."
        ),
        errors=(
            NotFound,
            InvalidRetry,
            InvalidRequest,
            RequestTimeout,
            PayloadTooLarge,
            RateLimited,
            *_SIGNED_IN,
        ),
    ),
    ("GET", "/dev/token"): Operation(
        summary="A token for the demo user (local development mode only; 404 otherwise).",
        tag="page",
        auth="public",
        answers=(
            Answer(
                200,
                "The token.",
                bodies.DevToken,
                headers={"Cache-Control": "`no-store`: a token is never cached."},
            ),
        ),
        errors=(NotFound,),
    ),
    ("GET", "/dev/sample"): Operation(
        summary="The bundled sample video's path (local development mode only; 404 otherwise).",
        tag="page",
        auth="public",
        answers=(Answer(200, "The sample.", bodies.DevSample),),
        errors=(NotFound,),
    ),
}
