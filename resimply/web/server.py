"""`resimply serve`'s listener: stream connections to our lean protocol, the rest to Hypercorn.

Every accepted connection starts at a `FrontDoor`, which reads its request
head (within `RESIMPLY_HEAD_TIMEOUT_S`) and admits it by the per-client limits
of `admission.py`. A GET of `/events/`, `/ws/` or `/wss/` then goes to
`stream_server.StreamConnection` (a few KB per idle client instead of
Hypercorn's ≈ 24 KB: issue 6); anything else is handed, bytes read so far
included, to Hypercorn's own connection handler — exactly what Hypercorn's
`serve()` would have done with it, so the REST API, the page, keep-alive and
Hypercorn's limits are untouched. Later requests on a kept-alive connection are
Hypercorn's alone (its keep-alive timeout bounds an idle or unfinished one).

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
import re
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from hypercorn.asyncio.lifespan import Lifespan
from hypercorn.asyncio.statsd import StatsdLogger
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.utils import wrap_app

from ..errors import RequestTimeout, ResimplyError
from ..settings import Settings
from . import hypercorn_ws
from .admission import CLOSE, Ledger, TrustedProxies, client_key, refusal
from .descriptors import AcceptErrorLog, connection_cap, raise_fd_limit
from .state import WebState
from .stream_server import MAX_CLIENT_MESSAGE, StreamServer

log = structlog.get_logger(__name__)

STREAM_PREFIXES = (b"GET /events/", b"GET /ws/", b"GET /wss/")
# A head larger than this is handed on unfinished: the protocol that takes it
# refuses it (h11's limit, and the stream server's, is 16 KiB too).
MAX_HEAD_BYTES = 16 * 1024
_HEAD_END = re.compile(rb"\n\r?\n")  # CRLF CRLF, or bare LF as h11 accepts
# How long a Hypercorn connection stays open after the client's EOF (see eof_received).
HALF_CLOSED_GRACE_S = 5.0
# Hypercorn reads in 64 KiB steps; the reader may hold that much before pausing.
READER_LIMIT = 2**16


class _Doors:
    """What every front door needs: where connections go, and who may come in."""

    def __init__(
        self,
        streams: StreamServer,
        other: Callable[..., Awaitable[None]],
        *,
        lean: bool,
        ledger: Ledger,
        proxies: TrustedProxies,
        head_timeout_s: float,
    ) -> None:
        self.streams = streams
        self.other = other
        self.lean = lean  # RESIMPLY_LEAN_STREAMS
        self.ledger = ledger
        self.proxies = proxies
        self.head_timeout_s = head_timeout_s
        self.loop = asyncio.get_running_loop()


class FrontDoor(asyncio.Protocol):
    """A connection: its request head is read here, then it is handed on.

    Until the head is complete (within `head_timeout_s`) the connection is an
    unfinished head in the `Ledger`; then a GET of a stream path goes to the
    lean stream protocol, anything else to Hypercorn, with the bytes read so
    far. The door stays the transport's protocol and passes every later call
    on (one call, a few slots), so the ledger learns when the connection ends.
    """

    __slots__ = ("_client", "_doors", "_head", "_inner", "_peer", "_timer", "_transport")

    def __init__(self, doors: _Doors) -> None:
        self._doors = doors
        self._head = b""
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._inner: asyncio.Protocol | None = None
        self._peer = ""  # the peer's IP address
        self._client: str | None = None  # the client this connection counts for

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        doors = self._doors
        peer = transport.get_extra_info("peername")
        self._peer = peer[0] if isinstance(peer, tuple) else ""
        # A trusted proxy speaks for many clients: its heads are not counted per client.
        self._client = None if self._peer in doors.proxies else client_key(self._peer)
        refused = doors.ledger.arrive(self, self._client)
        if refused == CLOSE:
            self._transport = None
            transport.abort()
        elif isinstance(refused, ResimplyError):
            self._refuse(refused)
        else:
            self._timer = doors.loop.call_later(doors.head_timeout_s, self._head_timed_out)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)
            return
        if self._transport is None:
            return  # refused: what it still sends is dropped
        searched = max(0, len(self._head) - 2)
        self._head += data
        if len(self._head) < MAX_HEAD_BYTES and not _head_ends(self._head, searched):
            return  # the head arrives in pieces
        self._head_complete()

    def _head_complete(self) -> None:
        doors, transport, head = self._doors, self._transport, self._head
        assert transport is not None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        doors.ledger.head_done(self)
        is_stream = head.startswith(STREAM_PREFIXES)
        if self._client is None and is_stream:
            # Through a proxy, a stream is one client's for the connection's whole life.
            client = doors.proxies.client_ip(self._peer, head)
            self._client = None if client is None else client_key(client)
        if self._client is not None:
            refused = doors.ledger.attribute(self._client)
            if refused is not None:
                self._client = None
                self._refuse(refused)
                return
        if doors.lean and is_stream:
            inner: asyncio.Protocol = doors.streams.connection()
        else:
            inner = asyncio.StreamReaderProtocol(
                asyncio.StreamReader(limit=READER_LIMIT, loop=doors.loop),
                doors.other,
                loop=doors.loop,
            )
        self._inner, self._head = inner, b""
        inner.connection_made(transport)
        inner.data_received(head)

    def _refuse(self, error: ResimplyError) -> None:
        """Answer with `error` and close (what the client sends on is dropped)."""
        transport, self._transport = self._transport, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._doors.ledger.head_done(self)
        if transport is not None and not transport.is_closing():
            transport.write(refusal(error))
            transport.close()

    def _head_timed_out(self) -> None:
        self._timer = None
        if self._head.strip():
            self._refuse(
                RequestTimeout(
                    f"The request head did not arrive within {self._doors.head_timeout_s:g} "
                    "seconds; send the whole request at once."
                )
            )
        elif self._transport is not None:
            self._transport.abort()  # silent (e.g. a browser's preconnect): just close

    def evict(self) -> None:
        """Close an unfinished head to make room for another connection (`Ledger`)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.abort()

    def eof_received(self) -> bool | None:
        inner = self._inner
        if inner is None:
            return False  # the head never came: close
        keep_open = inner.eof_received()
        if keep_open and isinstance(inner, asyncio.StreamReaderProtocol):
            # Hypercorn takes the client's EOF as the client gone, but keeps the
            # socket until its keep-alive timer ends (75 s): a client opening and
            # closing connections would pile up descriptors. A short grace still
            # lets a client that half-closed after its request read the answer.
            assert self._transport is not None
            self._timer = self._doors.loop.call_later(HALF_CLOSED_GRACE_S, self._transport.close)
        return keep_open

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        ledger = self._doors.ledger
        ledger.leave(self)
        if self._inner is not None:
            if self._client is not None:  # attributed when the head was complete
                ledger.release(self._client)
            self._inner.connection_lost(exc)
            self._inner = None


def _head_ends(head: bytes, searched: int) -> bool:
    """Whether `head` holds a complete request head (`searched`: bytes known not to end it)."""
    return _HEAD_END.search(head, searched) is not None


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
    settings = state.settings
    fd_limit = raise_fd_limit()
    ledger = Ledger(
        cap=connection_cap(fd_limit, config.backlog),
        per_client=settings.max_connections_per_ip,
        partial_per_client=settings.max_partial_heads_per_ip,
    )
    accept_errors = AcceptErrorLog(loop)
    accept_errors.install()
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

    doors = _Doors(
        streams,
        hypercorn_connection,
        lean=settings.lean_streams,
        ledger=ledger,
        proxies=TrustedProxies(settings.trusted_proxies),
        head_timeout_s=settings.head_timeout_s,
    )
    sockets = config.create_sockets()
    listeners = [
        await loop.create_server(lambda: FrontDoor(doors), sock=sock, backlog=config.backlog)
        for sock in sockets.insecure_sockets
    ]
    for listener in listeners:
        for sock in listener.sockets:
            log.info("listening", address=str(sock.getsockname()))
    log.info("connection_limits", fd_limit=fd_limit, cap=ledger.cap, per_ip=ledger.per_client)
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
        accept_errors.uninstall()
