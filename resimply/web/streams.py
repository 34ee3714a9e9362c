"""`GET /events/{id}` (Server-Sent Events) and `WS /ws/{id}`: replay, then live.

Both read through the process's `StreamHub`, so a thousand watchers cost one
Redis connection. Both end after the task's terminal message, and both end
early when the process shuts down (SIGTERM): the SSE stream just ends, so
`EventSource` reconnects with `Last-Event-ID`; the WebSocket closes with 1001
(going away) and the client reconnects with `?last_event_id=`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import structlog
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..errors import InvalidRequest, NotFound, ResimplyError, TooManyConnections, Unauthorized
from ..events import Closing, Lagged, valid_event_id
from .requests import identify, web_state
from .state import WebState

log = structlog.get_logger(__name__)

WS_UNAUTHORIZED = 4001
WS_FORBIDDEN = 4003
WS_GOING_AWAY = 1001
WS_TRY_AGAIN_LATER = 1013
SSE_RETRY_MS = 3000


def _ensure_capacity(state: WebState) -> None:
    if state.connections >= state.settings.max_connections:
        raise TooManyConnections(
            f"This server holds at most {state.settings.max_connections} live streams; "
            "retry in a few seconds or poll GET /task/{task_id}."
        )


@contextlib.contextmanager
def _connection_slot(state: WebState) -> Iterator[None]:
    _ensure_capacity(state)
    state.connections += 1
    try:
        yield
    finally:
        state.connections -= 1


class _EventStream(StreamingResponse):
    """A StreamingResponse whose every write must reach the socket within a time
    limit: a client that stops reading is cut off (it resumes with Last-Event-ID)
    instead of holding a slot, and its backlog, forever."""

    def __init__(self, frames: AsyncIterator[bytes], send_timeout_s: float) -> None:
        super().__init__(
            frames,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._send_timeout_s = send_timeout_s

    async def stream_response(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        try:
            async for chunk in self.body_iterator:
                async with asyncio.timeout(self._send_timeout_s):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except TimeoutError:
            # Returning without the final body makes the server drop the connection.
            log.info("sse_client_too_slow")
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _last_event_id(value: str | None) -> str | None:
    if not value:
        return None
    if not valid_event_id(value):
        raise InvalidRequest("Last-Event-ID must be an event_id from an earlier message.")
    return value


async def sse(request: Request) -> Response:
    state = web_state(request)
    identity = await identify(request, allow_query_token=True)
    task_id = request.path_params["task_id"]
    record = await state.tasks.get_owned(task_id, identity.user_id)
    if record is None:
        raise NotFound("No such task.")
    after = _last_event_id(
        request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    )
    if after is not None and after == record.terminal_event_id:
        # The client saw the end already: 204 makes EventSource stop reconnecting.
        return Response(status_code=204)
    _ensure_capacity(state)  # refuse with a JSON 503 now, before the stream starts

    async def frames() -> AsyncIterator[bytes]:
        try:
            yield b"retry: %d\n\n" % SSE_RETRY_MS
            with _connection_slot(state):
                async for frame in _sse_frames(state, task_id, after):
                    yield frame
        except Lagged:
            # Ending the stream makes EventSource reconnect with Last-Event-ID.
            log.info("sse_watcher_lagged", task_id=task_id)
        except Closing:
            # Shutting down: the same, and the reconnect reaches another process.
            log.info("sse_stream_closed_on_shutdown", task_id=task_id)
        except TooManyConnections:
            pass

    return _EventStream(frames(), state.settings.stream_send_timeout_s)


async def _sse_frames(state: WebState, task_id: str, after: str | None) -> AsyncIterator[bytes]:
    async with state.hub.watch(task_id, after) as watcher:
        while True:
            try:
                async with asyncio.timeout(state.settings.sse_heartbeat_s):
                    event = await watcher.next()
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            yield b"id: %s\nevent: %s\ndata: %s\n\n" % (
                event.event_id.encode(),
                event.type.encode(),
                event.data,
            )
            if event.terminal:
                return


async def websocket(ws: WebSocket) -> None:
    state = web_state(ws)
    # Accept first: a close code only reaches the client on an open connection.
    await ws.accept()
    try:
        identity = await identify(ws, allow_query_token=True)
    except Unauthorized as exc:
        await ws.close(WS_UNAUTHORIZED, exc.message[:120])
        return
    task_id = ws.path_params["task_id"]
    if await state.tasks.get_owned(task_id, identity.user_id) is None:
        await ws.close(WS_FORBIDDEN, "No such task.")
        return
    try:
        after = _last_event_id(ws.query_params.get("last_event_id"))
        with _connection_slot(state):
            await _follow(ws, state, task_id, after)
    except ResimplyError as exc:
        await ws.close(WS_TRY_AGAIN_LATER, exc.message[:120])


async def _follow(ws: WebSocket, state: WebState, task_id: str, after: str | None) -> None:
    async def send_events() -> None:
        async with state.hub.watch(task_id, after) as watcher:
            while True:
                event = await watcher.next()
                try:
                    async with asyncio.timeout(state.settings.stream_send_timeout_s):
                        await ws.send_text(event.data.decode())
                except TimeoutError:
                    raise Lagged from None
                if event.terminal:
                    await ws.close(1000)
                    return

    async def until_disconnect() -> None:
        # Clients have nothing to say; reading is how a disconnect is noticed.
        with contextlib.suppress(WebSocketDisconnect):
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass

    sender = asyncio.create_task(send_events())
    receiver = asyncio.create_task(until_disconnect())
    try:
        done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        if sender in done:
            exc = sender.exception()
            if isinstance(exc, Lagged):
                # A client too slow to take its backlog may not take the close frame either.
                with contextlib.suppress(TimeoutError, OSError):
                    async with asyncio.timeout(1):
                        await ws.close(
                            WS_TRY_AGAIN_LATER, "Too slow; reconnect with last_event_id."
                        )
            elif isinstance(exc, Closing):
                log.info("ws_closed_on_shutdown", task_id=task_id)
                await ws.close(WS_GOING_AWAY, "Server restarting; reconnect with last_event_id.")
            elif exc is not None and not isinstance(exc, WebSocketDisconnect | OSError):
                raise exc
    finally:
        for task in (sender, receiver):
            task.cancel()
        await asyncio.gather(sender, receiver, return_exceptions=True)
