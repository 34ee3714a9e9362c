"""The lean stream connections of `resimply serve` (issue 6), on the wire.

`resimply.web.server.serve` runs in this test's event loop on a real socket and
a real Redis, so what an open stream costs the process can be counted: tasks
and traced memory per connection. The clients are raw sockets (no task, no
client library), speaking HTTP/1.1 and WebSocket byte by byte — which also
covers what real client libraries never send: heads in pieces, broken frames,
requests that are not streams at all. Delivery at scale, slow clients, limits
and pings are in test_streams_fanout.py; the whole product in test_e2e.py."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import socket
import struct
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from resimply.auth import mint_dev_token
from resimply.keys import Keys
from resimply.settings import Settings
from resimply.web import create_app
from resimply.web.server import hypercorn_config, serve
from resimply.web.state import WebState
from tests import ws_wire
from tests.servers import free_port
from tests.ws_wire import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, client_frame, close_code

USER = "abababab-abab-4bab-8bab-abababababab"
OTHER = "cdcdcdcd-cdcd-4dcd-8dcd-cdcdcdcdcdcd"
CONNECTIONS = 200
# Traced bytes per open, idle stream, the client's socket object included:
# measured ≈ 3.1 KB (SSE) and ≈ 4.7 KB (WebSocket: 1.7 KB of it wsproto's
# `Connection`; 3.0 KB with the hand-written framing it replaced). Through
# Hypercorn's ASGI path the same stream held ≈ 27 KB.
MAX_TRACED_PER_CONNECTION = 6_000


@dataclass
class Running:
    port: int
    settings: Settings
    state: WebState
    stop: asyncio.Event
    token: str
    redis: Redis

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def task(self, user_token: str | None = None) -> str:
        """A task of USER's (left queued: no worker runs here)."""
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as client:
            response = await client.post(
                "/scrape/async",
                json={"url": f"http://127.0.0.1:9/{os.urandom(6).hex()}.mp4"},
                headers={"Authorization": f"Bearer {user_token or self.token}"},
            )
        assert response.status_code == 202, response.text
        task_id: str = response.json()["task_id"]
        return task_id

    async def publish(self, task_id: str, type_: str, **body: object) -> str:
        data = json.dumps({"type": type_, "task_id": task_id, **body}).encode()
        events = Keys(self.settings.key_prefix).events(task_id)
        entry: bytes = await self.redis.xadd(events, {"t": type_, "d": data})
        return entry.decode()


@pytest.fixture
async def running(redis_url: str, tmp_path: Path, key_prefix: str) -> AsyncIterator[Running]:
    async with run_server(redis_url, tmp_path, key_prefix) as server:
        yield server


@contextlib.asynccontextmanager
async def run_server(
    redis_url: str, tmp_path: Path, key_prefix: str, **env: str
) -> AsyncIterator[Running]:
    settings = Settings.from_env(
        {
            "REDIS_URL": redis_url,
            "RESIMPLY_DEV": "1",
            "RESIMPLY_DATA_DIR": str(tmp_path),
            "RESIMPLY_KEY_PREFIX": key_prefix,
            "RESIMPLY_RATE_LIMIT_PER_MINUTE": "10000",
            "RESIMPLY_WS_PING_INTERVAL_S": "1",
            # One user on one address opens hundreds of streams here (the
            # per-user and per-address limits of issue 11 are tested elsewhere).
            "RESIMPLY_STREAMS_PER_USER": "10000",
            "RESIMPLY_MAX_CONNECTIONS_PER_IP": "10000",
            **env,
        }
    )
    port = free_port()
    stop = asyncio.Event()
    app = create_app(settings, stopping=stop)
    # The app's lifespan state holds the process's WebState: keep a reference.
    seen: dict[str, WebState] = {}
    lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def remembering(app: Starlette) -> AsyncIterator[Any]:
        async with lifespan(app) as state:
            seen.update(state)
            yield state

    app.router.lifespan_context = remembering
    server = asyncio.create_task(
        serve(app, hypercorn_config(settings, "127.0.0.1", port), shutdown_trigger=stop.wait)
    )
    redis = Redis.from_url(redis_url)
    try:
        async with asyncio.timeout(10):
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                except OSError:
                    await asyncio.sleep(0.05)
        yield Running(port, settings, seen["web"], stop, mint_dev_token(settings, USER), redis)
    finally:
        stop.set()
        await asyncio.wait_for(server, 15)
        await redis.aclose()


# --- raw clients ---------------------------------------------------------------------


async def connect(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return sock


async def send(sock: socket.socket, data: bytes) -> None:
    await asyncio.get_running_loop().sock_sendall(sock, data)


async def read_until(sock: socket.socket, marker: bytes, timeout: float = 5) -> bytes:
    """Bytes from the server up to and including `marker` (or to EOF)."""
    loop = asyncio.get_running_loop()
    data = b""
    async with asyncio.timeout(timeout):
        while marker not in data:
            chunk = await loop.sock_recv(sock, 65536)
            if not chunk:
                break
            data += chunk
    return data


async def read_close_frame(sock: socket.socket, timeout: float = 5) -> int | None:
    """Read WebSocket frames until the server's close frame; its code."""
    loop = asyncio.get_running_loop()
    data = b""
    async with asyncio.timeout(timeout):
        while True:
            for opcode, payload in server_frames(data):
                if opcode == OP_CLOSE:
                    return close_code(payload)
            chunk = await loop.sock_recv(sock, 65536)
            assert chunk, "the connection ended without a close frame"
            data += chunk


async def read_to_eof(sock: socket.socket, timeout: float = 5) -> bytes:
    return await read_until(sock, b"\x00never\x00", timeout)


def sse_request(task_id: str, token: str, *, extra: str = "") -> bytes:
    return (f"GET /events/{task_id}?token={token} HTTP/1.1\r\nHost: x\r\n{extra}\r\n").encode()


WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3: "the sample nonce"


def ws_request(task_id: str, token: str, *, path: str = "ws") -> bytes:
    return (
        f"GET /{path}/{task_id}?token={token} HTTP/1.1\r\nHost: x\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of the whole frames a server sent."""
    return ws_wire.server_frames(data)[0]


async def settled(tasks: int) -> None:
    """Wait (a bounded time) for the tasks alive to come back to `tasks`."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            while len(asyncio.all_tasks()) > tasks:
                await asyncio.sleep(0.02)


async def wait_streams(state: WebState, expected: int) -> None:
    async with asyncio.timeout(10):
        while state.connections != expected:
            await asyncio.sleep(0.02)


# --- what an open stream costs --------------------------------------------------------


@pytest.mark.parametrize("kind", ["sse", "ws"])
async def test_an_open_stream_runs_no_task_and_holds_a_few_kilobytes(
    running: Running, kind: str
) -> None:
    tasks = [await running.task() for _ in range(10)]
    tasks_before = len(asyncio.all_tasks())  # the server's own: reader, sweep, …
    request = sse_request if kind == "sse" else ws_request
    warm = [await connect(running.port) for _ in range(20)]  # pools, caches, code paths
    for n, sock in enumerate(warm):
        await send(sock, request(tasks[n % 10], running.token))
    await wait_streams(running.state, len(warm))
    await settled(tasks_before)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        socks = [await connect(running.port) for _ in range(CONNECTIONS)]
        for n, sock in enumerate(socks):
            await send(sock, request(tasks[n % 10], running.token))
        await wait_streams(running.state, len(warm) + CONNECTIONS)
        await settled(tasks_before)  # every set-up task has returned
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    per_connection = sum(s.size_diff for s in after.compare_to(before, "filename")) / CONNECTIONS
    print(f"{kind}: {per_connection:.0f} traced bytes per open stream")
    assert len(asyncio.all_tasks()) == tasks_before  # no task per open stream
    assert per_connection < MAX_TRACED_PER_CONNECTION, per_connection
    for sock in warm + socks:
        sock.close()
    await wait_streams(running.state, 0)  # every close released its watch and slot


# --- the wire -----------------------------------------------------------------------


async def test_sse_replays_then_follows_live_and_ends_after_the_terminal_message(
    running: Running,
) -> None:
    task_id = await running.task()
    first = await running.publish(task_id, "progress", step=1)
    sock = await connect(running.port)
    await send(sock, sse_request(task_id, running.token))
    head = await read_until(sock, first.encode())
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"server: hypercorn" not in head.lower() and b"\r\ndate: " in head.lower()
    assert b"content-type: text/event-stream" in head.lower()
    assert b"transfer-encoding: chunked" in head.lower()
    last = await running.publish(task_id, "completion")
    rest = await read_to_eof(sock)
    assert f"id: {last}\nevent: completion\n".encode() in rest
    assert rest.endswith(b"0\r\n\r\n")  # the chunked body ends, then the connection
    sock.close()


async def test_a_request_head_in_pieces_still_opens_the_stream(running: Running) -> None:
    task_id = await running.task()
    sock = await connect(running.port)
    for byte in ws_request(task_id, running.token):
        await send(sock, bytes([byte]))
        await asyncio.sleep(0)  # separate reads on the server, mostly
    assert (await read_until(sock, b"\r\n\r\n")).startswith(b"HTTP/1.1 101 ")
    await wait_streams(running.state, 1)
    sock.close()
    await wait_streams(running.state, 0)


async def test_websocket_answers_pings_and_closes_as_the_client_asks(running: Running) -> None:
    task_id = await running.task()
    sock = await connect(running.port)
    await send(sock, ws_request(task_id, running.token, path="wss"))
    head = await read_until(sock, b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    # RFC 6455 §1.3's example key and answer
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head
    await wait_streams(running.state, 1)
    await send(sock, client_frame(OP_PING, b"are you there"))
    assert (OP_PONG, b"are you there") in server_frames(await read_until(sock, b"are you there"))
    await send(sock, client_frame(OP_CLOSE, struct.pack("!H", 1000)))
    frames = server_frames(await read_to_eof(sock))
    assert frames[-1][0] == OP_CLOSE
    assert close_code(frames[-1][1]) == 1000
    await wait_streams(running.state, 0)
    sock.close()


async def test_a_silent_websocket_is_pinged_then_dropped(running: Running) -> None:
    task_id = await running.task()
    sock = await connect(running.port)
    await send(sock, ws_request(task_id, running.token))
    await read_until(sock, b"\r\n\r\n")
    await wait_streams(running.state, 1)
    # Ping interval 1 s: a ping, then — never answered — the connection is dropped.
    data = await read_to_eof(sock, timeout=10)
    assert OP_PING in [opcode for opcode, _ in server_frames(data)]
    await wait_streams(running.state, 0)
    sock.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (client_frame(OP_TEXT, b"not masked", masked=False), 1002),
        (client_frame(OP_TEXT, b"x" * 70_000), 1009),
    ],
    ids=["unmasked", "too-big"],
)
async def test_a_broken_websocket_frame_closes_with_its_code(
    running: Running, frame: bytes, code: int
) -> None:
    task_id = await running.task()
    sock = await connect(running.port)
    await send(sock, ws_request(task_id, running.token))
    await read_until(sock, b"\r\n\r\n")
    await wait_streams(running.state, 1)
    await send(sock, frame)
    assert await read_close_frame(sock) == code
    await send(sock, client_frame(OP_CLOSE, struct.pack("!H", code)))
    assert await read_to_eof(sock) == b""
    await wait_streams(running.state, 0)
    sock.close()
    # The server goes on: the next stream opens.
    await test_sse_replays_then_follows_live_and_ends_after_the_terminal_message(running)


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"GET /events/abc HTTP/1.1\r\n\r\n", 400, "invalid_request"),  # no Host
        (b"GET /events/a/b HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not_found"),
        (b"GET /ws/abc HTTP/1.1\r\nHost: x\r\n\r\n", 426, "upgrade_required"),
        (
            b"GET /events/abc HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 20_000 + b"\r\n\r\n",
            431,
            "request_too_large",
        ),
        (b"GET /events/abc HTTP/1.1\r\nHost: x\r\n\r\n", 401, "unauthorized"),
    ],
    ids=["no-host", "bad-path", "ws-without-upgrade", "huge-head", "no-token"],
)
async def test_bad_stream_requests_get_a_clear_json_error(
    running: Running, request_bytes: bytes, status: int, code: str
) -> None:
    sock = await connect(running.port)
    await send(sock, request_bytes)
    response = await read_to_eof(sock)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), head
    assert json.loads(body)["error"] == code
    assert json.loads(body)["message"]
    if status == 401:
        assert b"www-authenticate: Bearer" in head.lower().replace(b"bearer", b"Bearer")
    sock.close()


async def test_another_users_task_is_not_found_on_both_transports(running: Running) -> None:
    task_id = await running.task()
    other = mint_dev_token(running.settings, OTHER)
    sock = await connect(running.port)
    await send(sock, sse_request(task_id, other))
    head, _, body = (await read_to_eof(sock)).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 ") and json.loads(body)["error"] == "not_found"
    sock.close()
    sock = await connect(running.port)
    await send(sock, ws_request(task_id, other))
    _, _, frames = (await read_to_eof(sock)).partition(b"\r\n\r\n")
    (opcode, payload), *_ = server_frames(frames)
    assert opcode == OP_CLOSE and close_code(payload) == 4003
    sock.close()


async def test_a_stream_on_a_kept_alive_connection_is_served_too(running: Running) -> None:
    """A browser may reuse a connection it opened for the page or the REST API:
    the front door has handed that one to Hypercorn, whose ASGI stream endpoint
    serves the stream the same way."""
    task_id = await running.task()
    sock = await connect(running.port)
    await send(sock, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    health = await read_until(sock, b"}")
    assert health.startswith(b"HTTP/1.1 200 ")
    await send(sock, sse_request(task_id, running.token))
    await read_until(sock, b"retry:")
    await wait_streams(running.state, 1)
    last = await running.publish(task_id, "completion")
    assert f"id: {last}\nevent: completion".encode() in await read_until(sock, last.encode())
    sock.close()
    await wait_streams(running.state, 0)


async def test_shutdown_ends_every_stream_at_once(running: Running) -> None:
    task_id = await running.task()
    sse, ws = await connect(running.port), await connect(running.port)
    await send(sse, sse_request(task_id, running.token))
    await send(ws, ws_request(task_id, running.token))
    await read_until(ws, b"\r\n\r\n")
    await wait_streams(running.state, 2)
    running.stop.set()
    assert (await read_to_eof(sse)).endswith(b"0\r\n\r\n")
    await send(ws, client_frame(OP_CLOSE, struct.pack("!H", 1001)))
    frames = server_frames(await read_to_eof(ws))
    assert (OP_CLOSE, struct.pack("!H", 1001)) in [(o, p[:2]) for o, p in frames]
    sse.close()
    ws.close()


async def test_with_lean_streams_off_hypercorn_serves_every_stream(
    redis_url: str, tmp_path: Path, key_prefix: str
) -> None:
    """RESIMPLY_LEAN_STREAMS=0, the fallback: the same stream through Hypercorn's
    ASGI endpoint, which runs tasks for it."""
    async with run_server(redis_url, tmp_path, key_prefix, RESIMPLY_LEAN_STREAMS="0") as server:
        task_id = await server.task()
        tasks_before = len(asyncio.all_tasks())
        sock = await connect(server.port)
        await send(sock, sse_request(task_id, server.token))
        head = await read_until(sock, b"retry:")
        assert b"server: hypercorn" in head.lower()
        await wait_streams(server.state, 1)
        assert len(asyncio.all_tasks()) > tasks_before
        last = await server.publish(task_id, "completion")
        assert f"id: {last}\nevent: completion".encode() in await read_until(sock, last.encode())
        sock.close()
        await wait_streams(server.state, 0)


async def test_a_ping_flood_that_never_reads_is_held_back_then_cut_off(
    redis_url: str, tmp_path: Path, key_prefix: str
) -> None:
    """A client that sends pings and never reads their pongs: once its socket
    stops taking our writes, the server stops reading it (TCP then holds the
    flood back in the client's own buffers) and answers at most the latest
    ping, so the process does not grow; after the send timeout it is cut off."""
    async with run_server(
        redis_url, tmp_path, key_prefix, RESIMPLY_STREAM_SEND_TIMEOUT_S="2"
    ) as server:
        task_id = await server.task()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # takes few pongs
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("127.0.0.1", server.port))
        await send(sock, ws_request(task_id, server.token))
        await read_until(sock, b"\r\n\r\n")
        await wait_streams(server.state, 1)
        flood = client_frame(OP_PING, b"p" * 125, mask=bytes(4)) * (256 * 1024)  # 32 MiB
        gc.collect()
        tracemalloc.start()
        try:
            # Sending stops when TCP's window is full; the cut-off ends it.
            with contextlib.suppress(TimeoutError, OSError):
                async with asyncio.timeout(10):
                    await loop.sock_sendall(sock, flood)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        print(f"ping flood: {peak / 1e6:.1f} MB traced at the peak")
        assert peak < 2_000_000, peak  # before: every pong queued (6.6 MB in this test)
        await wait_streams(server.state, 0)  # cut off: its slot is free
        sock.close()


async def test_a_head_that_never_ends_is_answered_408_after_the_head_timeout(
    redis_url: str, tmp_path: Path, key_prefix: str
) -> None:
    # The front door (server.py) holds a connection until its head is complete,
    # so a stream's head that never ends meets its timeout there.
    async with run_server(redis_url, tmp_path, key_prefix, RESIMPLY_HEAD_TIMEOUT_S="1") as server:
        sock = await connect(server.port)
        await send(sock, b"GET /events/abc HTTP/1.1\r\nHost: x\r\n")  # no blank line, ever
        answer = await read_to_eof(sock, timeout=10)
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b'"request_timeout"' in answer
        sock.close()
