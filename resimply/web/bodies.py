"""The JSON bodies the web tier answers with, as msgspec structs.

The handlers encode these (rest.py, page.py), and `openapi.py` turns the same
structs into the JSON Schemas of `/openapi.json`: what is documented is what is
sent. Field order is the order on the wire. Bodies that already have a struct
elsewhere (`TaskView` in tasks.py, `Recipe` in models.py, the stream messages in
messages.py) are documented from there.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from ..models import Recipe
from ..tasks import TaskView

ErrorCode = Annotated[
    str,
    msgspec.Meta(
        pattern="^[a-z][a-z0-9_]*$",
        description="A stable snake_case code: clients branch on it, never on the message.",
    ),
]


class ErrorBody(msgspec.Struct, kw_only=True):
    """Every non-2xx answer (web/errors.py)."""

    error: ErrorCode
    message: Annotated[
        str, msgspec.Meta(min_length=1, description="For people: says what to change.")
    ]


class Health(msgspec.Struct, kw_only=True):
    """`GET /health`. `streams` is there only while Redis answers."""

    status: Literal["healthy", "degraded", "unhealthy"]
    redis_connected: bool
    workers: Annotated[int, msgspec.Meta(ge=0, description="Workers with a recent heartbeat.")]
    services: list[str]
    streams: (
        Annotated[int, msgspec.Meta(ge=0, description="Open SSE / WebSocket streams here.")]
        | msgspec.UnsetType
    ) = msgspec.UNSET
    version: str


class Submitted(msgspec.Struct, kw_only=True):
    """`POST /scrape/async`: the task, and where to follow it."""

    task_id: str
    status: Literal["PENDING"]
    status_url: str
    events_url: str
    ws_url: str


class CancelAccepted(msgspec.Struct, kw_only=True):
    """`DELETE /task/{task_id}`."""

    task_id: str
    status: Literal["CANCELLED"]


class ActiveTasks(msgspec.Struct, kw_only=True):
    """`GET /tasks/active`: unfinished tasks, newest first."""

    tasks: list[TaskView]


class RecipePage(msgspec.Struct, kw_only=True):
    """`GET /recipes`: newest first; `limit` and `offset` as clamped by the server."""

    recipes: list[Recipe]
    limit: Annotated[int, msgspec.Meta(ge=1, le=200)]
    offset: Annotated[int, msgspec.Meta(ge=0)]


class PlatformRoute(msgspec.Struct, kw_only=True):
    platform: Literal["tiktok", "instagram", "youtube"]
    name: str
    scraper: str
    fallback: str | None
    links: str


class Capabilities(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`GET /capabilities` (`providers.routing.Capabilities.to_dict`)."""

    platforms: list[PlatformRoute]
    web_pages: bool
    media_links: bool
    local_files: bool
    hint: Annotated[str, msgspec.Meta(min_length=1)]


class DevToken(msgspec.Struct, kw_only=True):
    token: str
    user_id: str


class DevSample(msgspec.Struct, kw_only=True):
    url: str
