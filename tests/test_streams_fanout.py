"""Fan-out through one web process (issue 6): hundreds of SSE and WebSocket
watchers over many tasks from the process's single Redis reader — every watcher
gets every message of its task, in order, once; a client that stops reading is
cut off without holding back the others; the connection limit refuses clearly;
idle WebSockets are pinged and dead connections are dropped.

Messages are written straight into the tasks' streams (as a worker does), so no
worker runs: the tasks are created through the API and then left in the queue."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest
from redis.asyncio import Redis

from resimply.events import CONCURRENT_SETUPS
from resimply.keys import Keys
from tests.client import auth
from tests.servers import BIN, Service, wait_for

USER = "ffffffff-ffff-4fff-8fff-ffffffffffff"
LIMIT = 420


@pytest.fixture(scope="module")
def web(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = Service(
        redis_url,
        tmp_path_factory.mktemp("fanout"),
        RESIMPLY_MAX_CONNECTIONS=str(LIMIT),
        RESIMPLY_STREAMS_PER_USER=str(2 * LIMIT),  # one user holds every stream here
        RESIMPLY_WS_PING_INTERVAL_S="1",
        RESIMPLY_STREAM_SEND_TIMEOUT_S="2",
        RESIMPLY_RATE_LIMIT_PER_MINUTE="10000",
    )
    svc.spawn(
        [str(BIN / "resimply"), "serve", "--host", "127.0.0.1", "--port", str(svc.port)], "web"
    )
    try:
        wait_for(lambda: httpx.get(f"{svc.base_url}/health").status_code == 200, what="web")
        svc.user_token = svc.token(USER)  # type: ignore[attr-defined]
        yield svc
    except BaseException:
        print(svc.logs()[-10000:])
        raise
    finally:
        svc.stop()


def streams(svc: Service) -> int:
    return int(httpx.get(f"{svc.base_url}/health", timeout=5).json()["streams"])


def make_tasks(svc: Service, n: int) -> list[str]:
    token = svc.user_token  # type: ignore[attr-defined]
    ids = []
    with httpx.Client(base_url=svc.base_url, headers=auth(token), timeout=10) as client:
        for _ in range(n):
            url = f"http://127.0.0.1:9/{os.urandom(6).hex()}.mp4"
            response = client.post("/scrape/async", json={"url": url})
            assert response.status_code == 202, response.text
            ids.append(response.json()["task_id"])
    return ids


async def publish(redis: Redis, keys: Keys, task_id: str, type_: str, body: dict[str, Any]) -> str:
    data = json.dumps({"type": type_, "task_id": task_id, **body}).encode()
    entry: bytes = await redis.xadd(keys.events(task_id), {"t": type_, "d": data})
    return entry.decode()


async def sse_watch(
    session: aiohttp.ClientSession, svc: Service, task_id: str, token: str
) -> list[str]:
    """The event ids an SSE client reads until the terminal message."""
    ids: list[str] = []
    async with session.get(f"{svc.base_url}/events/{task_id}", params={"token": token}) as resp:
        assert resp.status == 200, await resp.text()
        async for raw in resp.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("id: "):
                ids.append(line[4:])
            elif line.startswith("event: ") and line[7:] == "completion":
                return ids
    return ids


async def ws_watch(
    session: aiohttp.ClientSession, svc: Service, task_id: str, token: str
) -> list[str]:
    ids: list[str] = []
    async with session.ws_connect(
        f"ws://127.0.0.1:{svc.port}/ws/{task_id}", params={"token": token}
    ) as ws:
        async for msg in ws:
            assert msg.type == aiohttp.WSMsgType.TEXT
            ids.append(json.loads(msg.data)["event_id"])
        assert ws.close_code == 1000
    return ids


async def wait_streams(svc: Service, expected: int, timeout: float = 15) -> None:
    await asyncio.to_thread(
        wait_for, lambda: streams(svc) == expected, timeout=timeout, what=f"{expected} streams"
    )


async def test_every_watcher_gets_every_message_in_order_once(web: Service, redis_url: str) -> None:
    tasks, per_task, messages = 40, 8, 15  # 320 watchers, half SSE, half WS
    token: str = web.user_token  # type: ignore[attr-defined]
    task_ids = make_tasks(web, tasks)
    keys = Keys(web.env["RESIMPLY_KEY_PREFIX"])
    redis = Redis.from_url(redis_url)
    clients_before = len(await redis.client_list())
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            watchers = [
                asyncio.create_task((sse_watch if n % 2 else ws_watch)(session, web, t, token))
                for t in task_ids
                for n in range(per_task)
            ]
            await wait_streams(web, tasks * per_task)
            # 320 clients connecting at once left no more Redis connections behind
            # than the set-ups allowed to run at once (lookups and replays share one
            # bound), plus the reader.
            opened = len(await redis.client_list()) - clients_before
            assert opened <= 2 * CONCURRENT_SETUPS + 4, opened
            # Interleave the writes over every task, as concurrent jobs do.
            for n in range(messages):
                await asyncio.gather(
                    *(publish(redis, keys, t, "progress", {"n": n}) for t in task_ids)
                )
            await asyncio.gather(*(publish(redis, keys, t, "completion", {}) for t in task_ids))
            results = await asyncio.wait_for(asyncio.gather(*watchers), timeout=30)
        for index, got in enumerate(results):
            task_id = task_ids[index // per_task]
            expected = [e.decode() for e, _ in await redis.xrange(keys.events(task_id))]
            assert got == expected, (task_id, len(got), len(expected))
            assert len(expected) >= messages + 1
        await wait_streams(web, 0)
    finally:
        await redis.aclose()


async def test_a_client_that_stops_reading_is_cut_off_without_slowing_others(
    web: Service, redis_url: str
) -> None:
    token: str = web.user_token  # type: ignore[attr-defined]
    (task_id,) = make_tasks(web, 1)
    keys = Keys(web.env["RESIMPLY_KEY_PREFIX"])
    redis = Redis.from_url(redis_url)
    # A raw SSE client with a tiny receive buffer that never reads.
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", web.port))
    slow.sendall(f"GET /events/{task_id}?token={token} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            fast = [
                asyncio.create_task(
                    (sse_watch if n % 2 else ws_watch)(session, web, task_id, token)
                )
                for n in range(10)
            ]
            await wait_streams(web, 11)
            pad = "x" * 16_000
            started = time.monotonic()
            for n in range(400):  # ~6 MB: far more than the slow client's socket holds
                await publish(redis, keys, task_id, "progress", {"n": n, "pad": pad})
                if n % 50 == 49:
                    # The fast clients read on this test's event loop: let them, so
                    # that only the client that never reads falls behind the
                    # server's per-watcher buffer.
                    await asyncio.sleep(0.05)
            await publish(redis, keys, task_id, "completion", {})
            results = await asyncio.wait_for(asyncio.gather(*fast), timeout=30)
            took = time.monotonic() - started
        expected = [e.decode() for e, _ in await redis.xrange(keys.events(task_id))]
        assert all(got == expected for got in results)
        assert took < 10, took
        # The slow client was dropped: no stream remains open on the server.
        await wait_streams(web, 0, timeout=10)
        slow.settimeout(10)
        received = b""
        while chunk := slow.recv(1 << 16):
            received += chunk
        assert b"event: completion" not in received  # it was cut off, not served to the end
    finally:
        slow.close()
        await redis.aclose()


async def test_connections_beyond_the_limit_are_refused_clearly(web: Service) -> None:
    token: str = web.user_token  # type: ignore[attr-defined]
    task_ids = make_tasks(web, 10)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        holders = [
            asyncio.create_task(ws_watch(session, web, task_ids[n % 10], token))
            for n in range(LIMIT)
        ]
        try:
            await wait_streams(web, LIMIT)
            async with session.get(
                f"{web.base_url}/events/{task_ids[0]}", params={"token": token}
            ) as resp:
                assert resp.status == 503
                assert (await resp.json())["error"] == "too_many_connections"
            async with session.ws_connect(
                f"ws://127.0.0.1:{web.port}/ws/{task_ids[0]}", params={"token": token}
            ) as ws:
                msg = await ws.receive(timeout=5)
                assert msg.type == aiohttp.WSMsgType.CLOSE
                assert ws.close_code == 1013
        finally:
            for holder in holders:
                holder.cancel()
            await asyncio.gather(*holders, return_exceptions=True)
    await wait_streams(web, 0)


async def test_idle_websockets_are_pinged_and_dead_connections_dropped(web: Service) -> None:
    token: str = web.user_token  # type: ignore[attr-defined]
    (task_id,) = make_tasks(web, 1)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"ws://127.0.0.1:{web.port}/ws/{task_id}", params={"token": token}, autoping=False
        ) as ws,
    ):
        msg = await ws.receive(timeout=5)  # the ping interval is 1 s here
        assert msg.type == aiohttp.WSMsgType.PING
        await ws.pong(msg.data)

    # Clients whose process dies (SIGKILL) are noticed and their streams dropped.
    script = f"""
import asyncio, aiohttp, sys
async def main():
    s = aiohttp.ClientSession()
    keep = []
    for n in range(20):
        if n % 2:
            keep.append(await s.ws_connect("ws://127.0.0.1:{web.port}/ws/{task_id}?token={token}"))
        else:
            keep.append(await s.get("{web.base_url}/events/{task_id}?token={token}"))
    print("open", flush=True)
    await asyncio.sleep(600)
asyncio.run(main())
"""
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"open"
        await wait_streams(web, 20)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        await wait_streams(web, 0, timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
