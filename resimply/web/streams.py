"""`GET /events/{id}` (Server-Sent Events) and `WS /ws/{id}` as ASGI endpoints, and
what both stream servers ask before a stream opens.

`resimply serve` hands a connection whose first request is a stream to its own
lean protocol (`stream_server.py`); these endpoints serve the stream requests
that arrive on a connection Hypercorn already holds (a browser or a client
reusing a kept-alive connection), and any other ASGI server. Both share the
set-up below (`open_sse`, `open_ws`, the connection slot) and the SSE format.

Both read through the process's `StreamHub`, so a thousand watchers cost one
Redis connection. Both end after the task's terminal message, and both end
early when the process shuts down (SIGTERM): the SSE stream just ends, so
`EventSource` reconnects with `Last-Event-ID`; the WebSocket closes with 1001
(going away) and the client reconnects with `?last_event_id=`.

What a client sends is held to what Redis takes before it goes near the shared
reader: a resume id that is not a stream id is refused (`400` / close 1008). A
user holds at most `streams_per_user` streams per process (`429` / 1008). While
Redis cannot be reached, new streams are refused with `503` + `Retry-After` /
1013, and open ones stay open: the hub resumes them where they were once Redis is
back (an `EventSource` that reconnected would get the 503, which it takes as
final, and stop for good).

A process holds thousands of these connections, nearly all idle, so what one
keeps alive while it waits is the process's memory (issue 6). Hence plain ASGI
endpoints (no `StreamingResponse`, whose anyio task group costs a task and
cancel scopes per response; no `WebSocket` wrapper), served by `StreamRoutes`
ahead of Starlette's exception middleware and router, whose suspended frames
and per-request closures would otherwise live as long as the connection. Each
connection runs on the one task the server gives it, plus one small task that
reads `receive()`: reading is the only way a disconnect is noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import NamedTuple

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import metrics
from ..errors import (
    InvalidRequest,
    NotFound,
    RateLimited,
    ResimplyError,
    ServiceUnavailable,
    TooManyConnections,
    Unauthorized,
)
from ..events import (
    Abandoned,
    Closing,
    Lagged,
    Unavailable,
    Unreadable,
    Watcher,
    canonical_id,
    parse_id,
)
from ..tasks import TaskRecord
from .errors import error_response
from .requests import identify
from .state import WebState

log = structlog.get_logger(__name__)

WS_NORMAL = 1000
WS_GOING_AWAY = 1001
WS_POLICY_VIOLATION = 1008  # the client sent what it must not send again as it is
WS_INTERNAL_ERROR = 1011
WS_TRY_AGAIN_LATER = 1013  # transient: the same request may succeed later
WS_UNAUTHORIZED = 4001
WS_FORBIDDEN = 4003
WS_MESSAGE_TOO_BIG = 1009  # the lean path, for a client that sends (streams take no messages)
# What each close code tells a client: /openapi.json and docs/api.md say it from here.
CLOSE_CODES = {
    WS_NORMAL: "The task's terminal message (completion or error) was sent: the stream is complete.",
    WS_GOING_AWAY: "The server is shutting down: reconnect (another process takes over) "
    "with ?last_event_id=<the last event_id received>.",
    WS_POLICY_VIOLATION: "Refused as sent: a malformed last_event_id, or one stream too many "
    "for this user (close one, or poll GET /task/{task_id}). Change the request first.",
    WS_MESSAGE_TOO_BIG: "The client sent a message over 64 KiB: these streams take none.",
    WS_INTERNAL_ERROR: "The task's messages cannot be read (a bug of ours); poll GET /task/{task_id}.",
    WS_TRY_AGAIN_LATER: "Transient: Redis briefly unavailable, the server at its stream limit, "
    "or the client too slow to take its messages. Reconnect in a few seconds with ?last_event_id=.",
    WS_UNAUTHORIZED: "Missing, invalid or expired token (?token= or Authorization: Bearer).",
    WS_FORBIDDEN: "No such task, or a task of another user.",
}
SSE_RETRY_MS = 3000
CLOSE_FRAME_TIMEOUT_S = 1.0
# The owner lookup of a stream set-up, at most: the Redis client's own retries
# would hold a set-up for ~15 s while Redis is away; the client hears 503 sooner.
SETUP_TIMEOUT_S = 5.0
# Retry-After while Redis cannot be reached, and when a user is at the stream limit.
UNAVAILABLE_RETRY_S = 5
USER_LIMIT_RETRY_S = 10
# Where the set-up leaves the user it identified, for `take_slot` (an ASGI scope
# extension key: both stream paths pass the scope to `open_sse` / `open_ws`).
USER_SCOPE_KEY = "resimply.user_id"

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx-style proxies: pass each event on at once
]
KEEP_ALIVE = b": keep-alive\n\n"


class _TooSlow(Exception):
    """The client did not take a write within the send timeout."""


# --- shared ---------------------------------------------------------------------


def _web_state(scope: Scope) -> WebState:
    state: WebState = scope["state"]["web"]
    return state


def stream_user(scope: Scope) -> str | None:
    """The user that `open_sse` / `open_ws` identified for this stream."""
    user: str | None = scope.get(USER_SCOPE_KEY)
    return user


def take_slot(state: WebState, user_id: str | None = None) -> None:
    """Count one more open stream, in the process and for `user_id` (from
    `stream_user`), or refuse it: released with `release_slot(state, user_id)`."""
    settings = state.settings
    if state.connections >= settings.max_connections:
        metrics.refused("streams_per_process")
        raise TooManyConnections(
            f"This server holds at most {settings.max_connections} live streams; "
            "retry in a few seconds or poll GET /task/{task_id}."
        )
    if user_id is not None:
        held = state.user_streams.get(user_id, 0)
        if held >= settings.streams_per_user:
            # One user's thousand tabs (or a loop) must not take every slot.
            metrics.refused("streams_per_user")
            raise RateLimited(
                f"You have {held} live streams open, the most one user may hold; "
                "close one (each ends after its task's last message) or poll GET /task/{task_id}.",
                retry_after=USER_LIMIT_RETRY_S,
            )
        state.user_streams[user_id] = held + 1
    state.connections += 1


def release_slot(state: WebState, user_id: str | None = None) -> None:
    state.connections -= 1
    if user_id is not None:
        held = state.user_streams.get(user_id, 0) - 1
        if held > 0:
            state.user_streams[user_id] = held
        else:
            state.user_streams.pop(user_id, None)  # no entry per user who ever streamed


def unavailable() -> ServiceUnavailable:
    """What a stream asked for while Redis is away is told (both stream paths)."""
    return ServiceUnavailable(
        "Live updates are briefly unavailable; retry in a few seconds "
        "(with your last event_id) or poll GET /task/{task_id}.",
        retry_after=UNAVAILABLE_RETRY_S,
    )


async def owned_task(conn: HTTPConnection, state: WebState) -> tuple[str, TaskRecord]:
    """The stream's task, if the caller (token in the header or `?token=`) owns it;
    the caller's user id is left in the scope for `take_slot` (`stream_user`).
    Raises `ServiceUnavailable` while Redis cannot be reached."""
    if not state.hub.available:
        raise unavailable()  # at once: the lookup would only wait for its timeout
    identity = await identify(conn, allow_query_token=True)
    task_id: str = conn.path_params["task_id"]
    try:
        async with asyncio.timeout(SETUP_TIMEOUT_S):
            record = await state.tasks.get_owned(task_id, identity.user_id)
    except (TimeoutError, RedisConnectionError, RedisTimeoutError, OSError):
        raise unavailable() from None
    if record is None:
        raise NotFound("No such task.")
    conn.scope[USER_SCOPE_KEY] = identity.user_id
    return task_id, record


def last_event_id(value: str | None) -> str | None:
    """The resume point a client sent, as Redis writes ids; `InvalidRequest` unless
    it is a stream id Redis takes (`events.parse_id`): only then may it become a
    cursor of the process's shared reader."""
    if not value:
        return None
    try:
        return canonical_id(value)
    except ValueError:
        raise InvalidRequest(
            "Last-Event-ID (or ?last_event_id=) must be the event_id of a message you "
            'received, such as "1764064800000-0"; leave it out to start from the first message.'
        ) from None


def wants_partial(value: str | None) -> bool:
    """`?partial=1`: the client takes `partial` messages too (`events.OPT_IN_TYPES`).
    Opt-in, so a client that knows only the seed's message types never gets one."""
    if value is None or value in ("0", "false"):
        return False
    if value in ("1", "true"):
        return True
    raise InvalidRequest(
        "?partial= must be 1 (also send the recipe as it is read, as `partial` messages) "
        "or 0; leave it out for the usual messages only."
    )


class StreamRequest(NamedTuple):
    """What a stream request asks for, once checked."""

    task_id: str
    after: str | None  # resume after this event id
    partial: bool  # `?partial=1`


async def _send_within(send: Send, message: Message, timeout_s: float) -> None:
    """A write the client must take within `timeout_s`: one that stops reading is
    cut off (it resumes with its last event id) instead of holding a slot, and its
    backlog, forever."""
    try:
        async with asyncio.timeout(timeout_s):
            await send(message)
    except TimeoutError:
        metrics.CUT_OFF_SLOW.inc()
        raise _TooSlow from None


async def _until_disconnect(receive: Receive, disconnect: str, watcher: Watcher) -> None:
    # Clients have nothing to say; reading is how a disconnect is noticed.
    while (await receive())["type"] != disconnect:
        pass
    watcher.abandon()


def _watch_disconnect(receive: Receive, disconnect: str, watcher: Watcher) -> asyncio.Task[None]:
    """The connection's second task: ends the watch when the client goes away.
    The caller cancels it when the stream ends first."""
    return asyncio.create_task(_until_disconnect(receive, disconnect, watcher))


# --- Server-Sent Events -----------------------------------------------------------


class EventStream:
    """`GET /events/{task_id}`: the task's messages as Server-Sent Events."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = _web_state(scope)
        try:
            async with state.hub.setups:
                opened = await open_sse(scope, state)
            if opened is None:
                # The client saw the end already: 204 makes EventSource stop reconnecting.
                await Response(status_code=204)(scope, receive, send)
                return
            user = stream_user(scope)
            take_slot(state, user)  # refuse with a JSON 503 / 429 now, before the stream starts
        except ResimplyError as exc:
            await error_response(exc)(scope, receive, send)
            return
        metrics.stream_open("sse", 1)
        try:
            await _stream_sse(state, opened, scope, receive, send)
        finally:
            release_slot(state, user)
            metrics.stream_open("sse", -1)


async def open_sse(scope: Scope, state: WebState) -> StreamRequest | None:
    """The task and resume point of an SSE request, None if the client has seen the
    end. Its own function, so the request's parsed headers and identity are freed
    before the stream starts."""
    conn = HTTPConnection(scope)
    task_id, record = await owned_task(conn, state)
    after = last_event_id(
        conn.headers.get("last-event-id") or conn.query_params.get("last_event_id")
    )
    end = record.terminal_event_id
    # At or past the end (an id from the future included): nothing will ever follow.
    if after is not None and end is not None and parse_id(after) >= parse_id(end):
        return None
    return StreamRequest(task_id, after, wants_partial(conn.query_params.get("partial")))


def _body(chunk: bytes, *, more: bool = True) -> Message:
    return {"type": "http.response.body", "body": chunk, "more_body": more}


def sse_frame(event_id: str, event_type: str, data: bytes) -> bytes:
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (event_id.encode(), event_type.encode(), data)


async def _stream_sse(
    state: WebState, opened: StreamRequest, scope: Scope, receive: Receive, send: Send
) -> None:
    # The watch (and its replay) opens before the response starts, so that a
    # Redis gone away meanwhile is still a 503 rather than an empty stream.
    task_id = opened.task_id
    watch = state.hub.watch(task_id, opened.after, partial=opened.partial)
    try:
        watcher = await watch.open()
    except Unavailable:
        await error_response(unavailable())(scope, receive, send)
        return
    except Unreadable:
        await error_response(ResimplyError("This task's messages cannot be read."))(
            scope, receive, send
        )
        return
    except Closing:
        watcher = None  # shutting down: the empty stream below sends it elsewhere
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
    await send(_body(b"retry: %d\n\n" % SSE_RETRY_MS))
    try:
        if watcher is None:
            raise Closing
        receiver = _watch_disconnect(receive, "http.disconnect", watcher)
        try:
            settings = state.settings
            await _pump_sse(
                watcher,
                send,
                heartbeat_s=settings.sse_heartbeat_s,
                send_timeout_s=settings.stream_send_timeout_s,
            )
        finally:
            receiver.cancel()
    except Abandoned:
        return  # the client is gone: nobody to end the stream for
    except _TooSlow:
        # Returning without the final body makes the server drop the connection.
        log.info("sse_client_too_slow", task_id=task_id)
        return
    except Lagged:
        # Ending the stream makes EventSource reconnect with Last-Event-ID.
        log.info("sse_watcher_lagged", task_id=task_id)
    except Unreadable:
        pass  # the hub logged it; the reconnect replays from Last-Event-ID
    except Closing:
        # Shutting down: the same, and the reconnect reaches another process.
        log.info("sse_stream_closed_on_shutdown", task_id=task_id)
    finally:
        watch.end()
    await send(_body(b"", more=False))


async def _pump_sse(
    watcher: Watcher, send: Send, *, heartbeat_s: float, send_timeout_s: float
) -> None:
    """Write the watcher's events until the terminal one, and a comment line after
    every `heartbeat_s` of silence (proxies drop connections that look dead)."""
    while True:
        try:
            async with asyncio.timeout(heartbeat_s):
                event = await watcher.next()
        except TimeoutError:
            await _send_within(send, _body(KEEP_ALIVE), send_timeout_s)
            continue
        frame = sse_frame(event.event_id, event.type, event.data)
        await _send_within(send, _body(frame), send_timeout_s)
        if event.terminal:
            return


# --- WebSocket --------------------------------------------------------------------


class EventSocket:
    """`WS /ws/{task_id}`: the task's messages, one JSON text frame each."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = _web_state(scope)
        await receive()  # websocket.connect
        # Accept first: a close code only reaches the client on an open connection.
        await send({"type": "websocket.accept"})
        try:
            async with state.hub.setups:
                opened = await open_ws(scope, state)
            user = stream_user(scope)
            take_slot(state, user)
        except ResimplyError as exc:
            await _close_ws(send, ws_close_code(exc), exc.message)
            return
        metrics.stream_open("ws", 1)
        try:
            await _stream_ws(state, opened, receive, send)
        finally:
            release_slot(state, user)
            metrics.stream_open("ws", -1)


def ws_close_code(exc: ResimplyError) -> int:
    """The close code for a stream refused at set-up: 1013 only where the same
    request may succeed in a moment; 1008 where the client must change it first
    (a resume id Redis would not take, one stream too many for the user)."""
    if isinstance(exc, Unauthorized):
        return WS_UNAUTHORIZED
    if isinstance(exc, NotFound):
        return WS_FORBIDDEN
    if isinstance(exc, (InvalidRequest, RateLimited)):
        return WS_POLICY_VIOLATION
    if isinstance(exc, (ServiceUnavailable, TooManyConnections)):
        return WS_TRY_AGAIN_LATER
    return WS_INTERNAL_ERROR if exc.http_status >= 500 else WS_POLICY_VIOLATION


async def open_ws(scope: Scope, state: WebState) -> StreamRequest:
    """The task and resume point of a WebSocket; like `open_sse`, its own frame."""
    conn = HTTPConnection(scope)
    task_id, _ = await owned_task(conn, state)
    query = conn.query_params
    return StreamRequest(
        task_id, last_event_id(query.get("last_event_id")), wants_partial(query.get("partial"))
    )


async def _close_ws(send: Send, code: int, reason: str = "") -> None:
    # A client too slow to take its backlog may not take the close frame either.
    with contextlib.suppress(TimeoutError, OSError):
        async with asyncio.timeout(CLOSE_FRAME_TIMEOUT_S):
            await send({"type": "websocket.close", "code": code, "reason": reason[:120]})


async def _stream_ws(state: WebState, opened: StreamRequest, receive: Receive, send: Send) -> None:
    task_id = opened.task_id
    try:
        async with state.hub.watch(task_id, opened.after, partial=opened.partial) as watcher:
            receiver = _watch_disconnect(receive, "websocket.disconnect", watcher)
            try:
                await _pump_ws(watcher, send, state.settings.stream_send_timeout_s)
            finally:
                receiver.cancel()
    except Abandoned:
        return  # the client is gone
    except (Lagged, _TooSlow):
        await _close_ws(send, WS_TRY_AGAIN_LATER, "Too slow; reconnect with last_event_id.")
    except Unavailable:
        await _close_ws(send, WS_TRY_AGAIN_LATER, unavailable().message)
    except Unreadable:
        await _close_ws(send, WS_INTERNAL_ERROR, "This task's messages cannot be read.")
    except Closing:
        log.info("ws_closed_on_shutdown", task_id=task_id)
        await _close_ws(send, WS_GOING_AWAY, "Server restarting; reconnect with last_event_id.")
    else:
        await _close_ws(send, WS_NORMAL)


async def _pump_ws(watcher: Watcher, send: Send, send_timeout_s: float) -> None:
    """Send the watcher's events until the terminal one (the server pings idle sockets)."""
    while True:
        event = await watcher.next()
        message = {"type": "websocket.send", "text": event.data.decode()}
        await _send_within(send, message, send_timeout_s)
        if event.terminal:
            return


# --- routing ----------------------------------------------------------------------


class StreamRoutes:
    """Serves the stream `routes` ahead of the rest of the app (it sits right after
    the access log); everything else goes on to the app, whose router has the same
    routes, so other methods on these paths get its usual 405. This only spares
    every long-lived connection the layers in between."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[Route | WebSocketRoute]) -> None:
        self.app = app
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        for route in self._routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope.update(child_scope)
                await route.app(scope, receive, send)
                return
        if scope["type"] == "http" and scope["method"] == "GET" and self._is_websocket(scope):
            # A plain GET of a WebSocket path: the same 426 the lean path answers,
            # whichever connection it came on (the router alone would say 404).
            await upgrade_required()(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _is_websocket(self, scope: Scope) -> bool:
        return any(
            isinstance(route, WebSocketRoute) and route.path_regex.match(scope["path"])
            for route in self._routes
        )


WEBSOCKET_ONLY = (
    "This is a WebSocket endpoint: connect with a WebSocket client "
    "(or use GET /events/{task_id} for Server-Sent Events)."
)


def upgrade_required() -> Response:
    """426 for an HTTP request to a WebSocket endpoint (RFC 6455 §4.4: name our version)."""
    return JSONResponse(
        {"error": "upgrade_required", "message": WEBSOCKET_ONLY},
        status_code=426,
        headers={"Upgrade": "websocket", "Sec-WebSocket-Version": "13"},
    )


ROUTES: Sequence[Route | WebSocketRoute] = (
    Route("/events/{task_id}", EventStream(), methods=["GET"]),
    WebSocketRoute("/ws/{task_id}", EventSocket()),
    WebSocketRoute("/wss/{task_id}", EventSocket()),
)
