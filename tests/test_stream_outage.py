"""Streams ride out a Redis outage (issue 11): a real redis-server is stopped under
open SSE and WebSocket streams on both stream paths, then started again.

Open streams stay open and, once Redis is back, deliver everything written since,
in order, nothing lost (ending them would send each `EventSource` back during the
outage, into a 503 that it takes as final). A stream asked for meanwhile is
refused the way a client can act on: `503 service_unavailable` + `Retry-After`,
WebSocket close 1013. The web process logs the outage once and its end once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from redis.asyncio import Redis

from resimply.keys import Keys
from tests.client import auth
from tests.servers import BIN, RedisServer, Service, wait_for

USER = "c3c3c3c3-c3c3-4c3c-8c3c-c3c3c3c3c3c3"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", aof=True)
    server.dir.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def serve(server: RedisServer, tmp: Path, *, lean: bool) -> Service:
    svc = Service(
        server.url,
        tmp,
        RESIMPLY_LEAN_STREAMS="1" if lean else "0",
        RESIMPLY_SSE_HEARTBEAT_S="2",
    )
    svc.spawn(
        [str(BIN / "resimply"), "serve", "--host", "127.0.0.1", "--port", str(svc.port)], "web"
    )
    wait_for(lambda: httpx.get(f"{svc.base_url}/health").status_code == 200, what="web")
    return svc


def make_task(svc: Service, token: str) -> str:
    url = f"http://127.0.0.1:9/{os.urandom(6).hex()}.mp4"
    response = httpx.post(
        f"{svc.base_url}/scrape/async", json={"url": url}, headers=auth(token), timeout=10
    )
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


async def publish(redis: Redis, svc: Service, task_id: str, type_: str) -> str:
    keys = Keys(svc.env["RESIMPLY_KEY_PREFIX"])
    data = json.dumps({"type": type_, "task_id": task_id}).encode()
    entry: bytes = await redis.xadd(keys.events(task_id), {"t": type_, "d": data})
    return entry.decode()


async def sse_ids(session: aiohttp.ClientSession, url: str, seen: asyncio.Queue[str]) -> list[str]:
    ids: list[str] = []
    async with session.get(url) as response:
        assert response.status == 200, await response.text()
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("id: "):
                ids.append(line[4:])
                seen.put_nowait(line[4:])
            elif line == "event: completion":
                return ids
    return ids  # ended early: the comparison with the stream shows what was missed


async def ws_ids(
    session: aiohttp.ClientSession, url: str, seen: asyncio.Queue[str]
) -> tuple[list[str], int | None]:
    ids: list[str] = []
    async with session.ws_connect(url) as ws:
        async for message in ws:
            ids.append(json.loads(message.data)["event_id"])
            seen.put_nowait(ids[-1])
    return ids, ws.close_code


async def refused(session: aiohttp.ClientSession, svc: Service, task_id: str, token: str) -> None:
    """A new SSE stream and a new WebSocket, asked for while Redis is away."""
    async with session.get(f"{svc.base_url}/events/{task_id}", params={"token": token}) as sse:
        assert sse.status == 503, await sse.text()
        assert (await sse.json())["error"] == "service_unavailable"
        assert int(sse.headers["Retry-After"]) > 0
    async with session.ws_connect(
        f"ws://127.0.0.1:{svc.port}/ws/{task_id}", params={"token": token}
    ) as ws:
        message = await ws.receive(timeout=30)
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1013  # try again later: the same request will work then


def log_count(svc: Service, event: str) -> int:
    return sum(1 for line in svc.logs().splitlines() if f'"event": "{event}"' in line)


async def test_open_streams_ride_out_a_redis_outage_and_new_ones_are_told_to_retry(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    webs: list[Service] = []
    try:
        for path in ("lean", "asgi"):
            (tmp_path / path).mkdir()
            webs.append(serve(redis_server, tmp_path / path, lean=path == "lean"))
        tokens = [web.token(USER) for web in webs]
        tasks = [make_task(web, t) for web, t in zip(webs, tokens, strict=True)]
        redis = Redis.from_url(redis_server.url)
        seen: asyncio.Queue[str] = asyncio.Queue()
        timeout = aiohttp.ClientTimeout(total=120, sock_read=60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            readers: list[asyncio.Task[Any]] = []
            for web, task_id, tok in zip(webs, tasks, tokens, strict=True):
                query = f"{task_id}?token={tok}"
                readers.append(
                    asyncio.create_task(sse_ids(session, f"{web.base_url}/events/{query}", seen))
                )
                readers.append(
                    asyncio.create_task(
                        ws_ids(session, f"ws://127.0.0.1:{web.port}/ws/{query}", seen)
                    )
                )
            for web, task_id in zip(webs, tasks, strict=True):
                await publish(redis, web, task_id, "progress")
            async with asyncio.timeout(30):
                for _ in readers:
                    await seen.get()  # every stream is open and live
            await redis.aclose()

            redis_server.stop()
            # Straight away (the hub has not noticed yet: the set-up's own lookup fails).
            for web, task_id, tok in zip(webs, tasks, tokens, strict=True):
                await refused(session, web, task_id, tok)
            # Once the hub's reader has given up its retries, it says so once...
            for web in webs:
                await asyncio.to_thread(
                    wait_for,
                    lambda web=web: log_count(web, "stream_reader_unavailable") == 1,
                    timeout=60,
                    what="the outage warning",
                )
                await refused(session, web, tasks[webs.index(web)], tokens[webs.index(web)])
            assert not any(reader.done() for reader in readers)  # ... and no stream ended

            redis_server.start()
            redis = Redis.from_url(redis_server.url)
            for web, task_id in zip(webs, tasks, strict=True):
                await publish(redis, web, task_id, "progress")
                await publish(redis, web, task_id, "completion")
            async with asyncio.timeout(60):
                results = await asyncio.gather(*readers)
            keys = [Keys(web.env["RESIMPLY_KEY_PREFIX"]) for web in webs]
            for n, (web_keys, task_id) in enumerate(zip(keys, tasks, strict=True)):
                written = [e.decode() for e, _ in await redis.xrange(web_keys.events(task_id))]
                assert len(written) == 3
                sse, (ws, code) = results[2 * n], results[2 * n + 1]
                assert sse == written
                assert ws == written
                assert code == 1000
            await redis.aclose()
        for web in webs:
            await asyncio.to_thread(
                wait_for, lambda web=web: log_count(web, "stream_reader_recovered") == 1
            )
            assert log_count(web, "stream_reader_unavailable") == 1
            assert "Traceback" not in web.logs()
    except BaseException:
        for web in webs:
            print(web.logs()[-8000:])
        raise
    finally:
        for web in webs:
            web.stop()


async def test_the_hub_notices_a_hung_redis_and_resumes_when_it_answers_again(
    redis_server: RedisServer, key_prefix: str
) -> None:
    """A Redis that stops answering without closing anything (SIGSTOP: a hung host,
    a partition) — the reader's blocking XREAD has no read timeout of its own. The
    hub counts it as an outage once the read is overdue, refuses new watches, keeps
    the open ones, and delivers to them once Redis answers again."""
    from resimply.events import StreamHub, Unavailable
    from resimply.resources import open_redis
    from resimply.settings import Settings

    client = open_redis(Settings.from_env({"REDIS_URL": redis_server.url}))
    writer = Redis.from_url(redis_server.url)
    keys = Keys(key_prefix)
    hub = StreamHub(client, keys, block_ms=1000)
    await hub.start()
    assert redis_server.proc is not None
    try:
        async with hub.watch("t") as watcher:
            first: bytes = await writer.xadd(keys.events("t"), {"t": "progress", "d": b"{}"})
            async with asyncio.timeout(10):
                assert (await watcher.next()).event_id == first.decode()
            os.kill(redis_server.proc.pid, signal.SIGSTOP)
            try:
                await asyncio.to_thread(wait_for, lambda: not hub.available, what="outage")
                with pytest.raises(Unavailable):
                    async with hub.watch("new"):
                        pass
            finally:
                os.kill(redis_server.proc.pid, signal.SIGCONT)
            second: bytes = await writer.xadd(keys.events("t"), {"t": "progress", "d": b"{}"})
            async with asyncio.timeout(30):
                assert (await watcher.next()).event_id == second.decode()
            assert hub.available
            assert hub.outages == 1
    finally:
        await hub.stop()
        await writer.aclose()
        await client.aclose()
