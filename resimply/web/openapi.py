"""`GET /openapi.json` and `GET /docs`: the API described by the service itself.

The document is generated, never kept by hand: paths from the app's routes,
what each takes and answers from `operations.OPERATIONS`, the JSON Schemas
(2020-12, as OpenAPI 3.1 takes them) by `msgspec.json.schema_components` from the
structs the handlers encode, the error answers from the `ResimplyError` classes
they raise (status, stable code, default message), the WebSocket close codes
from `streams.CLOSE_CODES`. `/docs` renders it with Swagger UI, vendored into
the package (static/swagger-ui/, `make vendor-docs`), so it needs no network.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from .. import __version__, errors
from ..messages import Completion, ErrorMessage, Message, Partial, Progress
from ..models import Ingredient, Recipe, Source, Step, TaskResult, TaskStatus
from ..tasks import TaskView
from . import streams
from .bodies import ErrorBody
from .operations import OPERATIONS, PATH_PARAMS, Answer, Operation, Param, Refusal
from .requests import MAX_CAPTION_CHARS, MAX_URL_CHARS, ScrapeRequestBody

REF = "#/components/schemas/{name}"
# Structs a client sends: their fields with defaults are optional. Every other
# struct is an answer, and msgspec encodes every field of an answer (only an
# UNSET one is left out), so there every other field is required.
REQUEST_STRUCTS = frozenset({ScrapeRequestBody})
STATIC = Path(__file__).resolve().parent / "static"
SWAGGER_UI = STATIC / "swagger-ui"

DESCRIPTION = f"""\
Turn a cooking video into a structured recipe, live.

Submit a link with `POST /scrape/async`, then follow the task on its Server-Sent
Events stream (`GET /events/{{task_id}}`), its WebSocket (`/ws/{{task_id}}`) or by
polling `GET /task/{{task_id}}`. The stream messages are the schemas `Progress`,
`Completion` and `ErrorMessage` (`Message`), plus `Partial` (the recipe as it is
read) for clients that ask with `?partial=1`; each carries `event_id`, the resume
point. Clients ignore message types they do not know. Every non-2xx answer is `{{"error": "<stable code>", "message": "..."}}`.

Limits: a request body of at most the server's `RESIMPLY_MAX_BODY_BYTES`, a `url`
of at most {MAX_URL_CHARS} characters, a `caption` of at most {MAX_CAPTION_CHARS}.
The whole contract, for people: docs/api.md in the repository.
"""


def document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes` (the app's). Raises `LookupError` for a
    route without an `Operation`, or an `Operation` without a route."""
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    seen: set[tuple[str, str]] = set()
    for path, methods in _endpoints(routes):
        for method in methods:
            key = (method, path)
            if key not in OPERATIONS:
                raise LookupError(
                    f"{method} {path} has no Operation: declare one in resimply/web/operations.py"
                )
            seen.add(key)
            paths.setdefault(path, {})[method.lower()] = _operation(
                OPERATIONS[key], method, path, schemas
            )
    stale = sorted(set(OPERATIONS) - seen)
    if stale:
        raise LookupError(f"Operations without a route: {stale}")
    message = schemas.ref(Message)  # the stream messages, whether referenced or not
    components = schemas.resolve()
    _add_event_ids(components)
    _add_task_error_codes(components)
    _add_examples(components)
    components["Message"] = message | {
        "description": "One message of a task's stream (SSE `data:`, or a WebSocket text "
        "frame). `type` tells which."
    }
    components["StreamEvent"] = _stream_event()
    components["TaskErrorCode"] = {
        "description": "The `error` codes that end a task (more may be added: treat an "
        "unknown one as `internal`). `retryable` says whether sending the link again may help.",
        "enum": sorted(_task_error_codes()),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ResiMply",
            "version": __version__,
            "description": DESCRIPTION,
        },
        "tags": [
            {"name": "tasks", "description": "Submit a link, follow and cancel the task."},
            {"name": "streams", "description": "Live progress: SSE and WebSocket."},
            {"name": "recipes", "description": "The caller's stored recipes."},
            {"name": "drafts", "description": "Failed imports kept, to fix or read again."},
            {"name": "service", "description": "Health, capabilities, this document."},
            {"name": "page", "description": "The landing page and its development helpers."},
        ],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Supabase access token (`sub` is the user). In local "
                    "development mode, `GET /dev/token` mints one.",
                },
                "queryToken": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "token",
                    "description": "The same token as `?token=`, on the stream endpoints "
                    "only (browsers cannot set headers on EventSource or WebSocket).",
                },
            },
        },
    }


def _endpoints(routes: Sequence[BaseRoute]) -> Iterable[tuple[str, list[str]]]:
    """(path, methods) of every HTTP and WebSocket route; a WebSocket is a GET."""
    for route in routes:
        if isinstance(route, WebSocketRoute):
            yield route.path, ["GET"]
        elif isinstance(route, Route):
            yield route.path, sorted((route.methods or set()) - {"HEAD"})


class _Schemas:
    """Collects the types a document uses, then has msgspec write their schemas
    at once (shared structs become components, referenced by `$ref`)."""

    def __init__(self) -> None:
        self._pending: list[tuple[Any, dict[str, Any]]] = []
        self._components: dict[str, Any] = {}

    def ref(self, type_: Any) -> dict[str, Any]:
        """A schema of `type_`, filled in by `resolve`."""
        placeholder: dict[str, Any] = {}
        self._pending.append((type_, placeholder))
        return placeholder

    def resolve(self) -> dict[str, Any]:
        types = [t for t, _ in self._pending]
        found, components = msgspec.json.schema_components(types, ref_template=REF)
        for (_, placeholder), schema in zip(self._pending, found, strict=True):
            placeholder.update(schema)
        for info in _structs(mi.multi_type_info(types)):
            if info.cls in REQUEST_STRUCTS:
                continue
            component = components.get(info.cls.__name__)
            if component is not None:
                component["required"] = [f.encode_name for f in info.fields if not _unset(f)]
        return dict(components)


def _unset(field: mi.Field) -> bool:
    """A field left out of the JSON while UNSET (msgspec.inspect shows its default
    as NODEFAULT, and it is not required)."""
    return (
        not field.required
        and field.default is msgspec.NODEFAULT
        and field.default_factory is msgspec.NODEFAULT
    )


def _structs(infos: Iterable[mi.Type]) -> list[mi.StructType]:
    """Every struct reachable from `infos`."""
    found: dict[type, mi.StructType] = {}
    stack = list(infos)
    while stack:
        info = stack.pop()
        if isinstance(info, mi.StructType):
            if info.cls in found:
                continue
            found[info.cls] = info
            stack.extend(f.type for f in info.fields)
        elif isinstance(info, mi.UnionType):
            stack.extend(info.types)
        elif isinstance(info, mi.Metadata):
            stack.append(info.type)
        elif isinstance(info, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
            stack.append(info.item_type)
        elif isinstance(info, mi.DictType):
            stack.extend((info.key_type, info.value_type))
        elif isinstance(info, mi.TupleType):
            stack.extend(info.item_types)
    return list(found.values())


def _operation(op: Operation, method: str, path: str, schemas: _Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {
        "summary": op.summary,
        # GET /task/{task_id} → get_task_by_task_id
        "operationId": "_".join([method.lower(), *re.findall(r"[a-z]+", path.replace("{", "by_"))]),
        "tags": [op.tag],
    }
    if op.description:
        out["description"] = op.description
    if op.auth == "public":
        out["security"] = []
    elif op.auth == "stream":
        out["security"] = [{"bearer": []}, {"queryToken": []}]
    params = [_path_param(name) for name in re.findall(r"{(\w+)", path)]
    params += [_param(p, schemas) for p in op.params]
    if params:
        out["parameters"] = params
    if op.body is not None:
        media: dict[str, Any] = {"schema": schemas.ref(op.body)}
        if op.body_examples:
            media["examples"] = dict(op.body_examples)
        out["requestBody"] = {"required": True, "content": {"application/json": media}}
    responses: dict[str, Any] = {}
    for answer in op.answers:
        responses[str(answer.status)] = _answer(answer, schemas)
    for status, refusals in _by_status(op.errors).items():
        responses[str(status)] = _error_answer(status, refusals, schemas)
    if op.auth != "public" and not op.websocket:
        responses["401"] = _error_answer(401, [_refusal(errors.Unauthorized)], schemas)
    out["responses"] = dict(sorted(responses.items()))
    if op.websocket:
        out["x-websocket-messages"] = {"$ref": REF.format(name="Message")}
        out["x-close-codes"] = {str(code): text for code, text in streams.CLOSE_CODES.items()}
        out["description"] += "\n\nClose codes:\n\n" + "\n".join(
            f"- `{code}`: {text}" for code, text in streams.CLOSE_CODES.items()
        )
    return out


def _path_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": PATH_PARAMS.get(name, ""),
        "schema": {"type": "string", "minLength": 1},
    }


def _param(param: Param, schemas: _Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": param.name,
        "in": param.where,
        "required": param.required or param.where == "path",
        "description": param.description,
        "schema": schemas.ref(param.type),
    }
    if param.example is not None:
        out["example"] = param.example
    return out


def _answer(answer: Answer, schemas: _Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {"description": answer.description}
    if answer.headers:
        out["headers"] = {
            name: {"required": True, "description": text, "schema": {"type": "string"}}
            for name, text in answer.headers.items()
        }
    if answer.body == "sse":
        out["content"] = {
            answer.media_type: {
                "schema": {"$ref": REF.format(name="StreamEvent")},
                "example": SSE_EXAMPLE,
            }
        }
    elif answer.body is not None:
        out["content"] = {answer.media_type: {"schema": schemas.ref(answer.body)}}
    return out


def _refusal(error: type[errors.ResimplyError] | Refusal) -> Refusal:
    if isinstance(error, Refusal):
        return error
    return Refusal(error.http_status, error.code, error().message)


def _by_status(
    errs: Iterable[type[errors.ResimplyError] | Refusal],
) -> dict[int, list[type[errors.ResimplyError] | Refusal]]:
    out: dict[int, list[type[errors.ResimplyError] | Refusal]] = {}
    for error in errs:
        status = error.status if isinstance(error, Refusal) else error.http_status
        out.setdefault(status, []).append(error)
    return out


# Errors whose answer carries Retry-After (web/errors.py: error_response).
_RETRY_AFTER = (errors.RateLimited, errors.ServiceUnavailable)


def _error_answer(
    status: int, errs: Sequence[type[errors.ResimplyError] | Refusal], schemas: _Schemas
) -> dict[str, Any]:
    refusals = [_refusal(e) for e in errs]
    codes = sorted({r.code for r in refusals})
    out: dict[str, Any] = {
        "description": "\n".join(f"- `{r.code}`: {r.message}" for r in refusals),
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [schemas.ref(ErrorBody)],
                    "properties": {"error": {"enum": codes}},
                },
                "examples": {
                    r.code: {"value": {"error": r.code, "message": r.message}} for r in refusals
                },
            }
        },
    }
    headers: dict[str, Any] = {}
    if status == 401:
        headers["WWW-Authenticate"] = {
            "required": True,
            "description": 'Bearer realm="resimply"',
            "schema": {"type": "string", "pattern": "^Bearer "},
        }
    retry = [not isinstance(e, Refusal) and issubclass(e, _RETRY_AFTER) for e in errs]
    if any(retry):
        headers["Retry-After"] = {
            "required": all(retry),
            "description": "Seconds to wait before sending the request again.",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    if headers:
        out["headers"] = headers
    return out


def _task_error_codes() -> set[str]:
    """The codes of every `TaskError` (errors.py): what can end a task."""
    found: set[str] = set()
    stack: list[type[errors.ResimplyError]] = [errors.TaskError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls is not errors.TaskError:
            found.add(cls.code)
    return found


def _add_event_ids(components: dict[str, Any]) -> None:
    """`event_id` is not a field of the message structs: it is the Redis stream
    entry id, spliced into the JSON as a message is read (events.py)."""
    for struct in (Progress, Partial, Completion, ErrorMessage):
        schema = components[struct.__name__]
        schema["properties"]["event_id"] = {
            "type": "string",
            "pattern": "^[0-9]+-[0-9]+$",
            "description": "The message's id in the task's stream: resume after it with "
            "`Last-Event-ID` / `?last_event_id=`.",
        }
        schema["required"].append("event_id")


def _add_task_error_codes(components: dict[str, Any]) -> None:
    codes = sorted(_task_error_codes())
    for name in ("ErrorMessage", "TaskErrorInfo"):
        field = components[name]["properties"]["error"]
        field["description"] = "A `TaskErrorCode`: stable, snake_case."
        field["examples"] = codes
    components["ErrorMessage"]["properties"]["status"] = {"enum": ["FAILURE", "CANCELLED"]}


# --- examples: built from the structs, so they are valid by construction ---------

_TASK = "3f1c1a52-6a8e-4f57-9a55-2f0c1d7e8b10"
_RECIPE = Recipe(
    id="9b2d7c1e-0f4a-4c8e-b1d2-6a5f3e8c7d90",
    title="Creamy Pasta Carbonara",
    description="Spaghetti with egg, pecorino and guanciale.",
    language="en",
    servings=2,
    prep_minutes=10,
    cook_minutes=15,
    total_minutes=25,
    ingredients=[
        Ingredient(text="200 g spaghetti", name="spaghetti", quantity=200, unit="g"),
        Ingredient(text="2 egg yolks", name="egg yolks", quantity=2),
    ],
    steps=[Step(text="Boil the pasta in salted water.", minutes=10)],
    tags=["pasta"],
    source=Source(
        platform="tiktok",
        url="https://www.tiktok.com/@chef/video/7301234567890123456",
        video_id="7301234567890123456",
        author="chef",
    ),
    created_at="2026-11-25T10:00:25Z",
)
_PROGRESS = Progress(
    task_id=_TASK,
    step=3,
    stage="media",
    status="Processing video…",
    details="Extracting frames",
    fraction=0.4,
    timestamp=1764064810.0,
)
_PARTIAL = Partial(
    task_id=_TASK,
    title=_RECIPE.title,
    ingredients=_RECIPE.ingredients[:1],
    steps=[],
    timestamp=1764064818.0,
)
_COMPLETION = Completion(
    task_id=_TASK,
    recipe_id=_RECIPE.id or "",
    recipe_name=_RECIPE.title,
    recipe=_RECIPE,
    timestamp=1764064825.0,
    recipe_ids=[_RECIPE.id or ""],
    recipes=[_RECIPE],
)
_ERROR = ErrorMessage(
    task_id=_TASK,
    error="video_not_found",
    message=errors.VideoNotFound.default_message,
    timestamp=1764064805.0,
)
_TASK_VIEW = TaskView(
    task_id=_TASK,
    status=TaskStatus.SUCCESS,
    url="https://www.tiktok.com/@chef/video/7301234567890123456",
    step=5,
    total_steps=5,
    message="Recipe successfully processed and saved",
    created_at="2026-11-25T10:00:00Z",
    updated_at="2026-11-25T10:00:25Z",
    result=TaskResult(
        recipe_id=_RECIPE.id or "",
        recipe_name=_RECIPE.title,
        recipe=_RECIPE,
        usage=None,
        recipe_ids=[_RECIPE.id or ""],
        recipes=[_RECIPE],
    ),
    error=None,
)


def _with_id(message: Any, event_id: str) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(message)
    return data | {"event_id": event_id}


_MESSAGES = {
    "Progress": _with_id(_PROGRESS, "1764064810000-0"),
    "Partial": _with_id(_PARTIAL, "1764064818000-0"),
    "Completion": _with_id(_COMPLETION, "1764064825000-0"),
    "ErrorMessage": _with_id(_ERROR, "1764064805000-0"),
}
SSE_EXAMPLE = f"retry: {streams.SSE_RETRY_MS}\n\n" + "".join(
    streams.sse_frame(m["event_id"], m["type"], json.dumps(m).encode()).decode()
    for m in (_MESSAGES["Progress"], _MESSAGES["Completion"])
)


def _add_examples(components: dict[str, Any]) -> None:
    for name, value in _MESSAGES.items():
        components[name]["examples"] = [value]
    components["Recipe"]["examples"] = [msgspec.to_builtins(_RECIPE)]
    components["TaskView"]["examples"] = [msgspec.to_builtins(_TASK_VIEW)]


def _stream_event() -> dict[str, Any]:
    return {
        "description": "One Server-Sent Event: `id: <event_id>`, `event: <type>`, "
        "`data: <the message as JSON>`, then a blank line.",
        "type": "object",
        "required": ["id", "event", "data"],
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9]+-[0-9]+$"},
            "event": {"enum": ["progress", "completion", "error"]},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": REF.format(name="Message")},
            },
        },
    }


# --- the endpoints ------------------------------------------------------------------


async def openapi_json(request: Request) -> Response:
    # Built once per app, from the routes it serves.
    app_state = request.app.state
    encoded: bytes | None = getattr(app_state, "openapi_json", None)
    if encoded is None:
        encoded = json.dumps(document(request.app.routes), ensure_ascii=False, indent=1).encode()
        app_state.openapi_json = encoded
    return Response(
        encoded,
        media_type="application/json",
        headers={"Cache-Control": "no-cache"},
    )


@functools.cache
def _docs_page() -> str:
    return (STATIC / "docs.html").read_text(encoding="utf-8")


async def docs(_: Request) -> Response:
    return HTMLResponse(_docs_page(), headers={"Cache-Control": "no-cache"})


# The assets /docs loads: only these names are served (no directory listing).
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
}


@functools.cache
def _asset(name: str) -> bytes:
    folder = STATIC if name == "docs.js" else SWAGGER_UI
    return (folder / name).read_bytes()


async def docs_asset(request: Request) -> Response:
    name = request.path_params["asset"]
    media_type = DOCS_ASSETS.get(name)
    if media_type is None:
        raise errors.NotFound("No such file of the /docs page.")
    return Response(
        _asset(name), media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
    )
