"""`partial` messages on the task streams: opt-in with `?partial=1` (issue 15 item 4).

Both transports, on both paths (the lean stream server and, with
RESIMPLY_LEAN_STREAMS=0, Hypercorn's ASGI endpoints), against a real server and
Redis: a client that asked gets the `partial` messages in order with the
others, replayed and live, and on resume; a client that did not ask never sees
one, so one that knows only the seed's types is unchanged."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.test_stream_server import (
    Running,
    connect,
    read_to_eof,
    read_until,
    run_server,
    send,
    server_frames,
    wait_streams,
)
from tests.ws_wire import OP_CLOSE, OP_TEXT, close_code

PARTIAL = {"title": "Carbonara", "ingredients": [{"text": "200 g spaghetti"}], "steps": []}


@pytest.fixture(params=["lean", "asgi"])
async def running(
    request: pytest.FixtureRequest, redis_url: str, tmp_path: Path, key_prefix: str
) -> AsyncIterator[Running]:
    lean = "1" if request.param == "lean" else "0"
    async with run_server(redis_url, tmp_path, key_prefix, RESIMPLY_LEAN_STREAMS=lean) as server:
        yield server


def stream_request(kind: str, task_id: str, token: str, query: str = "") -> bytes:
    path = "events" if kind == "sse" else kind
    head = f"GET /{path}/{task_id}?token={token}{query} HTTP/1.1\r\nHost: x\r\n"
    if kind != "sse":
        head += (
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        )
    return (head + "\r\n").encode()


class Stream:
    def __init__(self, kind: str, sock: socket.socket, head: bytes) -> None:
        self.kind, self.sock, self.head = kind, sock, head


async def open_stream(running: Running, kind: str, task_id: str, query: str = "") -> Stream:
    sock = await connect(running.port)
    await send(sock, stream_request(kind, task_id, running.token, query))
    head = await read_until(sock, b"retry:" if kind == "sse" else b"\r\n\r\n")
    return Stream(kind, sock, head)


def received(kind: str, data: bytes) -> list[tuple[str, str]]:
    """(type, event_id) of every message in what the server sent, in order."""
    if kind == "sse":
        out = []
        for block in data.decode().split("\n\n"):
            fields = dict(
                line.split(": ", 1)
                for line in block.splitlines()
                if line.startswith(("id:", "event:"))
            )
            if "event" in fields:
                out.append((fields["event"], fields["id"]))
        return out
    _, _, frames = data.partition(b"\r\n\r\n")
    messages = [json.loads(p) for op, p in server_frames(frames) if op == OP_TEXT]
    return [(m["type"], m["event_id"]) for m in messages]


async def read_stream(kind: str, stream: Stream) -> list[tuple[str, str]]:
    """The messages, up to the terminal one (Hypercorn keeps an ended SSE
    response's connection open for the next request: no EOF to wait for)."""
    loop = asyncio.get_running_loop()
    data = stream.head
    async with asyncio.timeout(5):
        while not (got := received(kind, data)) or got[-1][0] not in ("completion", "error"):
            chunk = await loop.sock_recv(stream.sock, 65536)
            if not chunk:
                break
            data += chunk
    with contextlib.suppress(OSError):
        stream.sock.close()
    return received(kind, data)


@pytest.mark.parametrize("kind", ["sse", "ws", "wss"])
async def test_only_clients_that_opt_in_get_partial_messages_replayed_and_live(
    running: Running, kind: str
) -> None:
    task_id = await running.task()
    ids = [
        ("progress", await running.publish(task_id, "progress", step=4)),
        ("partial", await running.publish(task_id, "partial", **PARTIAL)),
    ]
    opted = await open_stream(running, kind, task_id, "&partial=1")
    plain = await open_stream(running, kind, task_id)
    explicit_no = await open_stream(running, kind, task_id, "&partial=0")
    await wait_streams(running.state, 3)
    ids += [  # live, after the replay
        ("partial", await running.publish(task_id, "partial", **PARTIAL)),
        ("progress", await running.publish(task_id, "progress", step=5)),
        ("completion", await running.publish(task_id, "completion")),
    ]
    assert await read_stream(kind, opted) == ids
    without = [(t, i) for t, i in ids if t != "partial"]
    assert await read_stream(kind, plain) == without
    assert await read_stream(kind, explicit_no) == without


@pytest.mark.parametrize("kind", ["sse", "ws"])
async def test_a_resume_replays_partials_only_to_a_client_that_opts_in(
    running: Running, kind: str
) -> None:
    task_id = await running.task()
    first = await running.publish(task_id, "progress", step=4)
    partials = [await running.publish(task_id, "partial", **PARTIAL) for _ in range(2)]
    last = await running.publish(task_id, "completion")
    resume = f"&last_event_id={first}"
    opted = await open_stream(running, kind, task_id, resume + "&partial=1")
    assert await read_stream(kind, opted) == [
        ("partial", partials[0]),
        ("partial", partials[1]),
        ("completion", last),
    ]
    # Resuming after the last partial it saw: the rest only.
    opted = await open_stream(running, kind, task_id, f"&last_event_id={partials[0]}&partial=1")
    assert await read_stream(kind, opted) == [("partial", partials[1]), ("completion", last)]
    plain = await open_stream(running, kind, task_id, resume)
    assert await read_stream(kind, plain) == [("completion", last)]


async def test_a_partial_value_other_than_1_or_0_is_refused_with_what_to_send(
    running: Running,
) -> None:
    task_id = await running.task()
    sock = await connect(running.port)
    await send(sock, stream_request("sse", task_id, running.token, "&partial=yes"))
    head, _, body = (await read_until(sock, b"}")).partition(b"\r\n\r\n")
    sock.close()
    assert head.startswith(b"HTTP/1.1 400 "), head
    error = json.loads(body)
    assert error["error"] == "invalid_request" and "partial" in error["message"]
    sock = await connect(running.port)
    await send(sock, stream_request("ws", task_id, running.token, "&partial=yes"))
    _, _, frames = (await read_to_eof(sock)).partition(b"\r\n\r\n")
    sock.close()
    closes = [payload for opcode, payload in server_frames(frames) if opcode == OP_CLOSE]
    assert closes and close_code(closes[0]) == 1008
    payload = closes[0]
    assert b"partial" in payload
