"""What an idle SSE or WebSocket watcher costs on the ASGI path (issue 6): the
endpoints of `web/streams.py`, which serve streams asked for on a connection
Hypercorn holds, or every stream with RESIMPLY_LEAN_STREAMS=0. (The lean stream
protocol, which serves the rest, is measured in test_stream_server.py.)

The endpoints are driven in-process through ASGI, as the server drives them,
against a real Redis: each idle connection may hold one task of ours beyond the
one the server runs it on, and a bounded amount of memory beyond what a bare
ASGI endpoint that only waits for the client to leave holds. A disconnect
releases the watch and the connection slot. (Delivery, replay, slow clients and
limits are checked end to end in test_streams_fanout.py and test_e2e.py.)"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import tracemalloc
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from redis.asyncio import Redis

from resimply.auth import Identity
from resimply.events import StreamHub
from resimply.keys import Keys
from resimply.web.streams import EventSocket, EventStream

USER = "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee"
CONNECTIONS = 150
# Measured ~3.4 KB (SSE) / ~2.8 KB (WebSocket) per connection: the watcher, the
# endpoint's frames, the task reading `receive()`, the heartbeat timer. The
# earlier endpoints (StreamingResponse with its anyio task group; Starlette's
# WebSocket with a sender and a receiver task) held 14.5 KB / 9.7 KB here.
MAX_BYTES_ABOVE_BARE = 4_500

Message = dict[str, Any]
Endpoint = Callable[[dict[str, Any], Callable[[], Awaitable[Message]], Any], Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class Kind:
    scope_type: str
    path: str
    first: Message  # what `receive()` returns first
    gone: Message  # what it returns when the client leaves
    endpoint: Endpoint
    opened: str  # the message type sent once the stream is open


SSE = Kind(
    "http",
    "/events/",
    {"type": "http.request", "body": b"", "more_body": False},
    {"type": "http.disconnect"},
    EventStream(),
    "http.response.body",
)
WS = Kind(
    "websocket",
    "/ws/",
    {"type": "websocket.connect"},
    {"type": "websocket.disconnect", "code": 1001},
    EventSocket(),
    "websocket.accept",
)


class Client:
    """One connection as an ASGI app sees it."""

    def __init__(self, kind: Kind) -> None:
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.inbox.put_nowait(kind.first)
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        return await self.inbox.get()

    async def send(self, message: Message) -> None:
        self.sent.append(message)


class Owned:
    async def get_owned(self, task_id: str, user_id: str) -> Any:
        return SimpleNamespace(terminal_event_id=None) if user_id == USER else None


class Verifier:
    async def verify(self, token: str | None) -> Identity:
        return Identity(user_id=USER, claims={})


def scope(kind: Kind, task_id: str, hub: StreamHub) -> dict[str, Any]:
    settings = SimpleNamespace(
        max_connections=10_000,
        streams_per_user=10_000,
        sse_heartbeat_s=15.0,
        stream_send_timeout_s=10.0,
    )
    state = SimpleNamespace(
        settings=settings,
        hub=hub,
        tasks=Owned(),
        verifier=Verifier(),
        connections=0,
        user_streams={},
    )
    return {
        "type": kind.scope_type,
        "method": "GET",
        "path": kind.path + task_id,
        "query_string": b"token=t",
        "headers": [],
        "path_params": {"task_id": task_id},
        "state": {"web": state},
    }


async def bare(scope: dict[str, Any], receive: Callable[[], Awaitable[Message]], send: Any) -> None:
    """The least an ASGI endpoint holds for an open connection: wait for the client to leave."""
    while (await receive())["type"] not in ("http.disconnect", "websocket.disconnect"):
        pass


async def open_many(
    kind: Kind, endpoint: Endpoint, hub: StreamHub, n: int
) -> tuple[list[Client], list[asyncio.Task[None]], Any]:
    shared = scope(kind, "t0", hub)  # one state, so the slot count is shared
    clients = [Client(kind) for _ in range(n)]
    runs = [
        asyncio.create_task(
            endpoint({**shared, "path_params": {"task_id": f"t{i % 10}"}}, c.receive, c.send)
        )
        for i, c in enumerate(clients)
    ]
    async with asyncio.timeout(10):
        while endpoint is not bare and hub.watcher_count < n:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # every endpoint is now waiting
    return clients, runs, shared["state"]["web"]


async def close_all(kind: Kind, clients: list[Client], runs: list[asyncio.Task[None]]) -> None:
    for client in clients:
        client.inbox.put_nowait(kind.gone)
    async with asyncio.timeout(10):
        await asyncio.gather(*runs)


async def traced_per_connection(kind: Kind, endpoint: Endpoint, hub: StreamHub) -> float:
    gc.collect()
    before = tracemalloc.take_snapshot()
    clients, runs, _ = await open_many(kind, endpoint, hub, CONNECTIONS)
    gc.collect()
    after = tracemalloc.take_snapshot()
    await close_all(kind, clients, runs)
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return grown / CONNECTIONS


@pytest.fixture
async def hub(redis: Redis, key_prefix: str) -> Any:
    hub = StreamHub(redis, Keys(key_prefix), block_ms=2000)
    await hub.start()
    yield hub
    await hub.stop()


@pytest.mark.parametrize("kind", [SSE, WS], ids=["sse", "ws"])
async def test_an_idle_watcher_runs_one_task_beside_the_servers(kind: Kind, hub: StreamHub) -> None:
    tasks_before = len(asyncio.all_tasks())
    clients, runs, state = await open_many(kind, kind.endpoint, hub, 20)
    # `runs` stand for the server's task per connection; the rest is ours.
    assert len(asyncio.all_tasks()) - tasks_before - len(runs) == len(clients)
    assert state.connections == 20
    assert all(kind.opened in [m["type"] for m in c.sent] for c in clients)
    await close_all(kind, clients, runs)
    assert hub.watcher_count == 0 and state.connections == 0
    await asyncio.sleep(0)  # the cancelled readers finish
    assert len(asyncio.all_tasks()) == tasks_before


@pytest.mark.parametrize("kind", [SSE, WS], ids=["sse", "ws"])
async def test_an_idle_watcher_holds_little_more_than_a_bare_endpoint(
    kind: Kind, hub: StreamHub
) -> None:
    tracemalloc.start()
    try:
        await traced_per_connection(kind, kind.endpoint, hub)  # warm up caches and pools
        floor = await traced_per_connection(kind, bare, hub)
        ours = await traced_per_connection(kind, kind.endpoint, hub)
    finally:
        tracemalloc.stop()
    print(f"{kind.scope_type}: {ours:.0f} B per connection, bare endpoint {floor:.0f} B")
    assert ours - floor < MAX_BYTES_ABOVE_BARE, (ours, floor)
