"""`GET /events/{id}` (Server-Sent Events) and `WS /ws/{id}` on plain asyncio protocols.

A web process holds thousands of these connections, nearly all idle, so what one
keeps alive while it waits is the process's memory (issue 6). Served through
Hypercorn and ASGI, an idle stream held four tasks, seven deques, an app queue
and h11/wsproto state: ≈ 24 KB before any of our code. Here a connection is one
protocol object with slots, its transport and its `Watcher`, and no task at all
once it is open: the hub's reader pushes events into it (`Watcher.listener`), and
one sweep per process sends keep-alives and pings and drops dead or stuck peers.

The front door (`server.py`) hands a connection here when its request line is a
GET of a stream path; the request head is parsed with h11, the caller and the
task are checked as for every other endpoint (`streams.py`), on a set-up task
that ends once the watch is open.

Behaviour, as API.md and the README give it: replay then live, in order, once;
the end after the terminal message (SSE: the stream ends; WS: close 1000); a
client that cannot take its messages for `stream_send_timeout_s`, or falls
`watcher_queue_size` messages behind, is cut off (WS 1013; SSE: dropped) and
resumes with its last event id; shutdown ends every stream at once (WS 1001; SSE:
the stream ends, `EventSource` reconnects elsewhere).

The wire is python-hyper's sans-I/O libraries, the two Hypercorn speaks through:
h11 reads the request head (HTTP/1.0, bare-LF line endings and its refusals, as
on the Hypercorn path; an HTTP/1.0 client's event stream is close-delimited,
not chunked), and wsproto reads and writes the WebSocket frames (RFC 6455:
masking, reserved bits and opcodes, fragments, UTF-8, close codes). The opening
handshake is checked here, against the parsed head, as wsproto's own handshake
would; the 101 is written here and the connection gets a bare
`wsproto.Connection` (≈ 1.7 KB) instead of an `H11Handshake`, which would parse
the head a second time and keep an h11 connection per socket.

Flow control: while the client's socket does not take our writes (the transport
paused writing) reading is paused too, so a client that floods pings and never
reads is held back by TCP itself, not by our memory; pings answered meanwhile
are coalesced into one pong for the latest (RFC 6455 §5.5.3). Such a client is
cut off after `stream_send_timeout_s`, as is any client that stops reading.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import http
import time
import uuid
from collections.abc import Sequence
from typing import Any

import h11
import msgspec
import structlog
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import CloseConnection, Message, Ping, Pong, TextMessage
from wsproto.frame_protocol import CloseReason
from wsproto.handshake import WEBSOCKET_VERSION
from wsproto.utilities import generate_accept_token

from .. import metrics
from ..errors import ResimplyError
from ..events import Abandoned, Closing, Event, Lagged, Unavailable, Unreadable, Watch, Watcher
from ..logs import redact_text
from . import streams
from .access_log import log_request
from .errors import error_response
from .state import WebState
from .streams import (
    CLOSE_FRAME_TIMEOUT_S,
    WS_GOING_AWAY,
    WS_INTERNAL_ERROR,
    WS_NORMAL,
    WS_TRY_AGAIN_LATER,
)

log = structlog.get_logger(__name__)

MAX_HEAD_BYTES = 16 * 1024
HEAD_TIMEOUT_S = 10.0  # the request head must arrive within this (Caddy allows 10 s too)
# Our WebSocket clients have nothing to say: a message longer than this is not
# one of theirs (close 1009). wsproto hands data over as it arrives, never whole,
# so what a client sends costs no memory either way.
MAX_CLIENT_MESSAGE = 64 * 1024
PING_PAYLOAD = b"resimply"
# CLOSE_FRAME_TIMEOUT_S (from streams.py, as on the ASGI path): after our close
# frame, how long the client has to answer with its own close (or EOF).


class StreamServer:
    """This process's open stream connections, and the one sweep that keeps them honest."""

    def __init__(self, state: WebState) -> None:
        self.state = state
        self.connections: set[StreamConnection] = set()
        settings = state.settings
        self.heartbeat_s = settings.sse_heartbeat_s
        self.ping_interval_s = settings.ws_ping_interval_s
        self.send_timeout_s = settings.stream_send_timeout_s
        # Fine enough for the shortest of the three periods, coarse enough that a
        # sweep over thousands of connections is rare (a few ms each).
        shortest = min(self.heartbeat_s, self.ping_interval_s, self.send_timeout_s)
        self.sweep_every_s = min(2.5, max(0.25, shortest / 4))
        self._sweeper: asyncio.Task[None] | None = None
        self._none_open = asyncio.Event()
        self._none_open.set()

    def opened(self, connection: StreamConnection) -> None:
        self.connections.add(connection)
        self._none_open.clear()

    def closed(self, connection: StreamConnection) -> None:
        self.connections.discard(connection)
        if not self.connections:
            self._none_open.set()

    async def all_closed(self) -> None:
        await self._none_open.wait()

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="stream-sweeper")

    async def stop(self) -> None:
        """Drop what is still open (streams have ended on `hub.close()` already)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        for connection in list(self.connections):
            connection.abort()

    def connection(self) -> StreamConnection:
        return StreamConnection(self)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_every_s)
            now = time.monotonic()
            for connection in list(self.connections):
                try:
                    connection.sweep(now)
                except Exception:  # one broken connection must not stop the sweep
                    log.exception("stream_sweep_failed")
                    connection.abort()


# Phases of a connection.
HEAD, SETUP, OPEN, ENDING, DONE = range(5)


class StreamConnection(asyncio.Protocol):
    """One SSE or WebSocket client, from its request head to its last byte."""

    __slots__ = (
        "_chunked",
        "_ended_at",
        "_h11",
        "_is_ws",
        "_last_read",
        "_last_write",
        "_path",
        "_paused_since",
        "_phase",
        "_ping_sent",
        "_pong",
        "_query",
        "_received",
        "_server",
        "_setup",
        "_slot",
        "_started",
        "_status",
        "_transport",
        "_user",
        "_watch",
        "_watcher",
        "_ws",
    )

    def __init__(self, server: StreamServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._user: str | None = None  # whose stream the slot counts for (streams.take_slot)
        self._h11: h11.Connection | None = None  # while the head is read
        self._ws: Connection | None = None  # from the 101 until the client broke the protocol
        # Bytes of the client's current message: the head, then a WebSocket message.
        self._received = 0
        self._phase = HEAD
        self._is_ws = False
        self._chunked = True  # SSE body framing: not for an HTTP/1.0 client
        self._setup: asyncio.Task[None] | None = None
        self._watch: Watch | None = None
        self._watcher: Watcher | None = None
        self._slot = False
        self._paused_since: float | None = None
        self._pong: bytes | None = None  # the latest ping's payload, while writes are paused
        self._ping_sent: float | None = None
        self._started = self._last_read = self._last_write = time.monotonic()
        self._ended_at: float | None = None
        self._path = ""
        self._query: str | None = None  # redacted at once: the token is not kept
        self._status: int | str | None = None

    # --- asyncio.Protocol --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server.opened(self)

    def data_received(self, data: bytes) -> None:
        self._last_read = time.monotonic()
        self._ping_sent = None  # anything from the client proves it is there
        if self._phase == HEAD:
            self._read_head(data)
        elif self._ws is not None and self._ws.state is not ConnectionState.CLOSED:
            self._ws.receive_data(data)
            self._read_frames()
        # An SSE client has nothing more to say: whatever it sends is dropped.

    def eof_received(self) -> bool | None:
        return False  # the client is done: close our side too

    def pause_writing(self) -> None:
        # The client does not take what we write: stop reading what it sends, so
        # that what it sends cannot make us write more (pongs) without bound.
        self._paused_since = time.monotonic()
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._paused_since = None
        if self._transport is not None:
            self._transport.resume_reading()
        if self._pong is not None:
            payload, self._pong = self._pong, None
            self._send_ws(Pong(payload=payload))
        self._deliver()

    def connection_lost(self, exc: Exception | None) -> None:
        phase, self._phase = self._phase, DONE
        self._server.closed(self)
        if self._setup is not None:
            self._setup.cancel()
            self._setup = None
        self._release()
        if phase != HEAD:  # a head never read is not a request
            self._log_access()

    # --- the request head ----------------------------------------------------------

    def _read_head(self, data: bytes) -> None:
        parser = self._h11
        if parser is None:
            parser = self._h11 = h11.Connection(
                h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES
            )
        self._received += len(data)
        parser.receive_data(data)
        try:
            request = parser.next_event()
        except h11.RemoteProtocolError as exc:
            self._h11 = None
            if exc.error_status_hint == 431:
                self._refuse_too_large()
            else:
                self._refuse(400, "invalid_request", "The request is not valid HTTP/1.1.")
            return
        if request is h11.NEED_DATA:
            return
        self._h11 = None
        trailing = parser.trailing_data[0]  # WebSocket frames sent with the head, if any
        if not isinstance(request, h11.Request):
            self._refuse(400, "invalid_request", "The request is not valid HTTP/1.1.")
        elif self._received - len(trailing) > MAX_HEAD_BYTES:
            # h11 bounds a head that arrives in pieces; this, one that came whole.
            self._refuse_too_large()
        else:
            self._received = 0
            self._route(request, trailing)

    def _route(self, request: h11.Request, trailing: bytes) -> None:
        target = request.target.decode("latin-1")
        path, _, query = target.partition("?")
        self._path, self._query = path, (redact_text(query) if query else None)
        headers = [(name, value) for name, value in request.headers]
        kind, _, task_id = path[1:].partition("/")
        # The front door sends only GETs of these paths; the task id is one segment.
        if kind not in ("events", "ws", "wss") or not task_id or "/" in task_id:
            self._refuse(
                404, "not_found", "No such endpoint; see /docs (or /openapi.json) for the API."
            )
            return
        self._phase = SETUP
        scope = {
            "type": "http",
            "path": path,
            "query_string": query.encode("latin-1"),
            "headers": headers,
            "path_params": {"task_id": task_id},
            "state": {"web": self._server.state},
        }
        if kind == "events":
            # h11's rule, as Hypercorn answers: an HTTP/1.0 client cannot read
            # chunked encoding, so its body ends when the connection does.
            self._chunked = request.http_version == b"1.1"
            self._setup = asyncio.create_task(self._set_up(scope))
            return
        try:
            key = _websocket_key(request)
        except _BadHandshake as exc:
            self._refuse(exc.status, exc.code, exc.message, exc.headers)
            return
        self._is_ws = True
        scope["type"] = "websocket"
        self._write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % generate_accept_token(key)
        )
        self._status = 101
        self._ws = Connection(ConnectionType.SERVER)
        self._setup = asyncio.create_task(self._set_up(scope))
        if trailing:
            self._ws.receive_data(trailing)
            self._read_frames()

    # --- set-up (the connection's only task, gone once the watch is open) -----------

    async def _set_up(self, scope: dict[str, Any]) -> None:
        try:
            opened = await (self._open_ws(scope) if self._is_ws else self._open_sse(scope))
            if opened is not None:
                await self._start_watch(opened)
        finally:
            self._setup = None

    async def _open_sse(self, scope: dict[str, Any]) -> streams.StreamRequest | None:
        state = self._server.state
        try:
            async with state.hub.setups:
                opened = await streams.open_sse(scope, state)
            if opened is None:
                # The client saw the end already: 204 makes EventSource stop reconnecting.
                self._respond(204, [], b"")
                return None
            self._user = streams.stream_user(scope)
            streams.take_slot(state, self._user)
            self._slot = True
            metrics.stream_open("ws" if self._is_ws else "sse", 1)
        except ResimplyError as exc:
            self._respond_error(exc)
            return None
        except Exception:
            log.exception("stream_setup_failed")
            self._respond_error(ResimplyError("Could not open the stream; retry shortly."))
            return None
        self._write(
            b"HTTP/1.1 200 OK\r\n"
            + b"".join(b"%s: %s\r\n" % pair for pair in streams.SSE_HEADERS)
            + b"date: %s\r\n" % _date()
            + (b"transfer-encoding: chunked\r\n" if self._chunked else b"")
            + b"connection: close\r\n\r\n"
        )
        self._status = 200
        self._write_chunk(b"retry: %d\n\n" % streams.SSE_RETRY_MS)
        return opened

    async def _open_ws(self, scope: dict[str, Any]) -> streams.StreamRequest | None:
        state = self._server.state
        try:
            async with state.hub.setups:
                opened = await streams.open_ws(scope, state)
            self._user = streams.stream_user(scope)
            streams.take_slot(state, self._user)
            self._slot = True
            metrics.stream_open("ws" if self._is_ws else "sse", 1)
        except ResimplyError as exc:
            self._end_ws(streams.ws_close_code(exc), exc.message)
            return None
        except Exception:
            log.exception("stream_setup_failed")
            self._end_ws(WS_TRY_AGAIN_LATER, "Could not open the stream; retry shortly.")
            return None
        return opened

    async def _start_watch(self, opened: streams.StreamRequest) -> None:
        if self._phase != SETUP:  # the client closed or broke the protocol meanwhile
            self._release()
            return
        task_id = opened.task_id
        watch = self._watch = self._server.state.hub.watch(
            task_id, opened.after, partial=opened.partial
        )
        try:
            watcher = await watch.open()
        except Closing as exc:
            self._end(exc)
            return
        except Exception:
            log.exception("stream_watch_failed", task_id=task_id)
            self._end(Closing())
            return
        if self._phase != SETUP:  # the client left (or closed) while the replay was read
            self._release()
            return
        self._watcher = watcher
        self._phase = OPEN
        watcher.listener = self._deliver
        self._deliver()

    # --- delivery --------------------------------------------------------------------

    def _deliver(self) -> None:
        """Write what the watcher holds, as far as the client's socket takes it."""
        watcher = self._watcher
        if self._phase != OPEN or watcher is None:
            return
        try:
            while self._paused_since is None and (event := watcher.poll()) is not None:
                self._send_event(event)
                if event.terminal:
                    self._end(None)
                    return
        except (Lagged, Closing) as exc:
            self._end(exc)
        except Abandoned:
            pass

    def _send_event(self, event: Event) -> None:
        if self._is_ws:
            self._send_ws(TextMessage(data=event.data.decode()))
        else:
            self._write_chunk(streams.sse_frame(event.event_id, event.type, event.data))

    def _end(self, reason: Exception | None) -> None:
        """End the stream: after the terminal message (None), or cut off / shutting down."""
        self._release()
        if self._is_ws:
            if reason is None:
                self._end_ws(WS_NORMAL)
            elif isinstance(reason, Unavailable):  # as the ASGI path (streams._stream_ws)
                self._end_ws(WS_TRY_AGAIN_LATER, streams.unavailable().message)
            elif isinstance(reason, Unreadable):
                self._end_ws(WS_INTERNAL_ERROR, "This task's messages cannot be read.")
            elif isinstance(reason, Closing):
                self._end_ws(WS_GOING_AWAY, "Server restarting; reconnect with last_event_id.")
            else:
                self._end_ws(WS_TRY_AGAIN_LATER, "Too slow; reconnect with last_event_id.")
            return
        if isinstance(reason, Lagged):
            log.info("sse_watcher_lagged", path=self._path)
        elif isinstance(reason, Closing):
            log.info("sse_stream_closed_on_shutdown", path=self._path)
        # Ending the stream makes EventSource reconnect with Last-Event-ID.
        if self._chunked:
            self._write(b"0\r\n\r\n")
        self._ending()
        self._close()

    def _end_ws(self, code: int, reason: str = "") -> None:
        """Our close frame; the client's own close (or EOF) or a timeout ends the TCP side."""
        if self._phase in (ENDING, DONE):
            return
        self._release()
        self._send_ws(CloseConnection(code=code, reason=reason or None))
        self._status = f"ws-close-{code}"
        self._ending()

    def _ending(self) -> None:
        """Our last bytes are written: the sweep drops the connection should the
        client not take them (or, for a WebSocket, not answer our close) in time."""
        self._phase = ENDING
        self._ended_at = time.monotonic()

    def _release(self) -> None:
        """Give back the watch and the connection slot (once)."""
        if self._watch is not None:
            self._watch.end()
            self._watch = None
        if self._watcher is not None:
            self._watcher.listener = None
            self._watcher = None
        if self._slot:
            self._slot = False
            streams.release_slot(self._server.state, self._user)
            metrics.stream_open("ws" if self._is_ws else "sse", -1)

    # --- what the WebSocket client sends ---------------------------------------------

    def _read_frames(self) -> None:
        ws = self._ws
        assert ws is not None
        for event in ws.events():
            if isinstance(event, Message):
                size = self._received + len(event.data)
                if size > MAX_CLIENT_MESSAGE:
                    self._fail(CloseReason.MESSAGE_TOO_BIG, "This stream takes no messages.")
                    return
                self._received = 0 if event.message_finished else size
            elif isinstance(event, Ping):
                if self._paused_since is not None:
                    self._pong = event.payload  # answered on resume_writing, once
                else:
                    self._send_ws(event.response())
            elif isinstance(event, CloseConnection):
                self._closing(event)
                return
            # A pong needs no answer: that it came is noted in data_received.

    def _closing(self, event: CloseConnection) -> None:
        """The client's close frame, or wsproto's word that the client broke the protocol."""
        assert self._ws is not None
        state = self._ws.state
        if state is ConnectionState.REMOTE_CLOSING:
            # The client closes first: answer with its code (RFC 6455 §5.5.1; none
            # for none), then end the TCP side, as the server should (§7.1.1).
            if self._phase not in (ENDING, DONE):
                self._release()
                self._send_ws(CloseConnection(code=event.code))
                self._status = f"ws-close-{event.code}"
                self._ending()
            self._close()
        elif state is ConnectionState.CLOSED:  # the answer to our close
            self._close()
        elif state is ConnectionState.OPEN:  # a protocol error: 1002, 1007
            self._fail(event.code, event.reason or "")
        else:  # a protocol error after our close: nothing more to say
            self._ws = None
            self._close()

    def _fail(self, code: int, reason: str) -> None:
        """_Fail the WebSocket Connection_ (RFC 6455 §7.1.7): our close frame with
        `code`, then nothing the client sends is read any more. Our side of the
        TCP connection ends after the frame (FIN, not RST: closing with the
        client's bytes unread would reset the connection and could lose the
        frame); the whole connection when the client closes its side, or at
        the sweep's close timeout."""
        log.info("ws_protocol_error", path=self._path, code=int(code), reason=reason)
        self._end_ws(code, reason)
        self._ws = None
        transport = self._transport
        if transport is not None and not transport.is_closing() and transport.can_write_eof():
            transport.write_eof()

    # --- the sweep: keep-alives, pings, dead and stuck peers ---------------------------

    def sweep(self, now: float) -> None:
        server = self._server
        if self._phase == HEAD:
            if now - self._started > HEAD_TIMEOUT_S:
                self.abort()
        elif self._phase == ENDING:
            if self._ended_at is not None and now - self._ended_at > CLOSE_FRAME_TIMEOUT_S:
                self.abort()
        elif self._paused_since is not None:
            if now - self._paused_since > server.send_timeout_s:
                log.info("stream_client_too_slow", path=self._path)
                metrics.CUT_OFF_SLOW.inc()
                self._status = "cut-off"
                self.abort()  # it cannot take a close frame either; it resumes
        elif self._phase == OPEN:
            if self._is_ws:
                self._ping(now)
            elif now - self._last_write >= server.heartbeat_s:
                self._write_chunk(streams.KEEP_ALIVE)

    def _ping(self, now: float) -> None:
        """Ping a client we have not heard from for a ping interval; drop it if
        another interval passes without a word (a pong, or anything else)."""
        interval = self._server.ping_interval_s
        if self._ping_sent is not None:
            if now - self._ping_sent > interval:
                log.info("ws_peer_dead", path=self._path)
                self.abort()
        elif now - self._last_read >= interval:
            self._ping_sent = now
            self._send_ws(Ping(payload=PING_PAYLOAD))

    # --- writing -----------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            self._last_write = time.monotonic()
            transport.write(data)

    def _send_ws(self, event: CloseConnection | Ping | Pong | TextMessage) -> None:
        """One frame, if the WebSocket's state allows it (nothing after our close)."""
        ws = self._ws
        if ws is None or ws.state not in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            return
        if ws.state is ConnectionState.REMOTE_CLOSING and not isinstance(event, CloseConnection):
            return
        self._write(ws.send(event))

    def _write_chunk(self, data: bytes) -> None:
        self._write(b"%x\r\n%s\r\n" % (len(data), data) if self._chunked else data)

    def _respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """A whole response (an error, or the 204), then the connection is closed."""
        reason = http.HTTPStatus(status).phrase.encode()
        lines = [b"HTTP/1.1 %d %s\r\ndate: %s\r\n" % (status, reason, _date())]
        lines += [b"%s: %s\r\n" % pair for pair in headers]
        lines.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self._write(b"".join(lines) + body)
        self._status = status
        self._ending()
        self._close()

    def _respond_error(self, error: ResimplyError) -> None:
        """The REST API's answer to `error` (`errors.error_response`), on this wire."""
        response = error_response(error)
        headers = [pair for pair in response.raw_headers if pair[0] != b"content-length"]
        self._respond(response.status_code, headers, bytes(response.body))

    def _refuse(
        self, status: int, code: str, message: str, headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        self._phase = SETUP  # a request was read: it is logged
        body = msgspec.json.encode({"error": code, "message": message})
        self._respond(status, [(b"content-type", b"application/json"), *headers], body)

    def _refuse_too_large(self) -> None:
        self._refuse(
            431, "request_too_large", f"The request head may be at most {MAX_HEAD_BYTES} bytes."
        )

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()  # after what is buffered is written

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def _log_access(self) -> None:
        log_request(
            method="WS" if self._is_ws else "GET",
            path=self._path,
            query=self._query,
            status=self._status,
            started=self._started,
            request_id=uuid.uuid4().hex[:12],
        )


class _BadHandshake(Exception):
    """Not a WebSocket opening handshake this server takes: the HTTP answer."""

    def __init__(
        self, status: int, code: str, message: str, headers: list[tuple[bytes, bytes]]
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


# Every refused handshake says which version this server speaks (RFC 6455 §4.4).
_VERSION = (b"sec-websocket-version", WEBSOCKET_VERSION)


def _websocket_key(request: h11.Request) -> bytes:
    """The client's key, if `request` is a valid opening handshake (RFC 6455 §4.2.1,
    checked as wsproto's `H11Handshake` does); else raises `_BadHandshake`."""
    fields: dict[bytes, list[bytes]] = {}
    for name, value in request.headers:  # h11 gives lower-case names, trimmed values
        fields.setdefault(name, []).append(value)

    def tokens(name: bytes) -> set[bytes]:
        return {t.strip().lower() for value in fields.get(name, ()) for t in value.split(b",")}

    if b"websocket" not in tokens(b"upgrade") or b"upgrade" not in tokens(b"connection"):
        raise _BadHandshake(
            426,
            "upgrade_required",
            streams.WEBSOCKET_ONLY,
            [(b"upgrade", b"websocket"), _VERSION],
        )
    if request.http_version != b"1.1":
        raise _BadHandshake(
            400, "invalid_request", "A WebSocket handshake is an HTTP/1.1 request.", [_VERSION]
        )
    versions = fields.get(b"sec-websocket-version", [])
    if versions != [WEBSOCKET_VERSION]:
        # §4.2.2: a version we do not speak → 426 naming ours; none at all → 400.
        raise _BadHandshake(
            426 if versions else 400,
            "upgrade_required" if versions else "invalid_request",
            "This server speaks WebSocket version 13 (RFC 6455).",
            [(b"upgrade", b"websocket"), _VERSION] if versions else [_VERSION],
        )
    keys = fields.get(b"sec-websocket-key", [])
    if len(keys) != 1 or not _valid_key(keys[0]):
        raise _BadHandshake(
            400,
            "invalid_request",
            "Sec-WebSocket-Key must be the base64 encoding of 16 random bytes.",
            [_VERSION],
        )
    return keys[0]


def _valid_key(key: bytes) -> bool:
    """A base64 encoding of 16 bytes, as §4.1 requires (wsproto does not check)."""
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except binascii.Error:
        return False


def _date() -> bytes:
    return email.utils.formatdate(usegmt=True).encode()
