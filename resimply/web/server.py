"""`resimply serve`'s listener: stream connections to our lean protocol, the rest to Hypercorn.

Every accepted connection starts at a `FrontDoor`, which reads only as far as
the start of the request line. A GET of `/events/`, `/ws/` or `/wss/` stays
with `stream_server.StreamConnection` (a few KB per idle client instead of
Hypercorn's ≈ 24 KB: issue 6); anything else is handed, bytes read so far
included, to Hypercorn's own connection handler — exactly what Hypercorn's
`serve()` would have done with it, so the REST API, the page, keep-alive and
Hypercorn's limits are untouched.

This replaces `hypercorn.asyncio.serve` (whose accept loop offers no hook) with
the same steps: the app's lifespan, one `WorkerContext`, a `TCPServer` per
connection, graceful shutdown. It uses Hypercorn's `TCPServer`, `Lifespan` and
`WorkerContext` classes, which are stable but not public API: pyproject.toml
pins Hypercorn's minor version (0.18), and tests/test_stream_server.py and
tests/test_e2e.py cover both paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from hypercorn.asyncio.lifespan import Lifespan
from hypercorn.asyncio.statsd import StatsdLogger
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.utils import wrap_app

from ..settings import Settings
from . import hypercorn_ws
from .state import WebState
from .stream_server import MAX_CLIENT_MESSAGE, StreamServer

log = structlog.get_logger(__name__)

STREAM_PREFIXES = (b"GET /events/", b"GET /ws/", b"GET /wss/")
_DECIDED_AT = max(len(p) for p in STREAM_PREFIXES)
FIRST_BYTES_TIMEOUT_S = 10.0
# Hypercorn reads in 64 KiB steps; the reader may hold that much before pausing.
READER_LIMIT = 2**16


class _Doors:
    """What every front door needs: where stream and other connections go."""

    def __init__(
        self, streams: StreamServer, other: Callable[..., Awaitable[None]], *, lean: bool
    ) -> None:
        self.streams = streams
        self.other = other
        self.lean = lean  # RESIMPLY_LEAN_STREAMS
        self.loop = asyncio.get_running_loop()


class FrontDoor(asyncio.Protocol):
    """A connection until its first bytes say where it belongs."""

    __slots__ = ("_doors", "_head", "_timer", "_transport")

    def __init__(self, doors: _Doors) -> None:
        self._doors = doors
        self._head = b""
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._timer = self._doors.loop.call_later(FIRST_BYTES_TIMEOUT_S, transport.abort)

    def data_received(self, data: bytes) -> None:
        self._head += data
        if len(self._head) < _DECIDED_AT and b"\n" not in self._head:
            return  # rare: the request line arrives in pieces
        if self._timer is not None:
            self._timer.cancel()
        transport, head = self._transport, self._head
        assert transport is not None
        self._transport = None
        if self._doors.lean and head.startswith(STREAM_PREFIXES):
            protocol: asyncio.Protocol = self._doors.streams.connection()
        else:
            protocol = asyncio.StreamReaderProtocol(
                asyncio.StreamReader(limit=READER_LIMIT, loop=self._doors.loop),
                self._doors.other,
                loop=self._doors.loop,
            )
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(head)

    def eof_received(self) -> bool | None:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()


def hypercorn_config(settings: Settings, host: str, port: int) -> Config:
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None  # our AccessLog middleware logs, with tokens redacted
    config.errorlog = logging.getLogger("hypercorn.error")  # once, via our logging set-up
    # Pings for the WebSockets Hypercorn serves (the ASGI fallback in `streams.py`);
    # the lean stream connections are pinged by `StreamServer`'s sweep.
    config.websocket_ping_interval = settings.ws_ping_interval_s
    # Hypercorn buffers a client's message whole before the app sees it (16 MiB by
    # default, per connection); a stream takes no messages: the lean path's limit.
    config.websocket_max_message_size = MAX_CLIENT_MESSAGE  # and `hypercorn_ws` holds no more
    # On SIGTERM, open SSE / WebSocket streams end at once (see `stopping` in
    # create_app); what is left is in-flight REST requests, which are quick, and
    # Hypercorn's ping timer of each closed WebSocket, which would otherwise keep
    # the process up for a ping interval. compose.yaml allows 15 s.
    config.graceful_timeout = 5
    config.keep_alive_timeout = 75  # longer than typical proxy idle timeouts
    return config


async def serve(
    app: Any, config: Config, *, shutdown_trigger: Callable[[], Awaitable[Any]]
) -> None:
    """Serve `app` (ASGI) on `config.bind` until `shutdown_trigger` returns."""
    config.set_statsd_logger_class(StatsdLogger)
    hypercorn_ws.install()
    loop = asyncio.get_running_loop()
    wrapped = wrap_app(app, config.wsgi_max_body_size, None)
    lifespan_state: dict[str, Any] = {}
    lifespan = Lifespan(wrapped, config, loop, lifespan_state)
    lifespan_task = loop.create_task(lifespan.handle_lifespan())
    await lifespan.wait_for_startup()
    if lifespan_task.done() and (error := lifespan_task.exception()) is not None:
        raise error

    state: WebState = lifespan_state["web"]
    streams = StreamServer(state)
    streams.start()
    context = WorkerContext(None)
    connections: set[asyncio.Task[Any]] = set()

    async def hypercorn_connection(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        connections.add(task)
        task.add_done_callback(connections.discard)
        await TCPServer(wrapped, loop, config, context, lifespan_state, reader, writer)

    doors = _Doors(streams, hypercorn_connection, lean=state.settings.lean_streams)
    sockets = config.create_sockets()
    listeners = [
        await loop.create_server(lambda: FrontDoor(doors), sock=sock, backlog=config.backlog)
        for sock in sockets.insecure_sockets
    ]
    for listener in listeners:
        for sock in listener.sockets:
            log.info("listening", address=str(sock.getsockname()))
    try:
        await shutdown_trigger()
    finally:
        # Hypercorn's connections end their keep-alive waits on `terminated`;
        # streams have ended on the app's `stopping` (`hub.close()`).
        await context.terminated.set()
        for listener in listeners:
            listener.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(config.graceful_timeout):
                if connections:
                    await asyncio.wait(list(connections))
                await streams.all_closed()
        await streams.stop()
        for task in list(connections):
            task.cancel()
        await lifespan.wait_for_shutdown()
        lifespan_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lifespan_task
