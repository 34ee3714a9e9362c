"""One client cannot hurt another through the streams (issue 11): resume ids are
held to the grammar Redis takes; a stream whose read Redis refuses anyway is cut
off alone while every other watcher keeps receiving; one user cannot hold more
than their share of a process's streams.

Only names that exist before issue 11 are imported at the top, so that each test
here fails on its own (rather than the module failing to import) on older code."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from resimply.events import Closing, StreamHub, valid_event_id
from resimply.keys import Keys
from tests.client import auth
from tests.servers import BIN, Service, wait_for

# Forms Python's int() reads (or that the old split-and-int() let through) and
# Redis refuses, or that Redis reads differently from us: never a resume point.
POISONED = [
    "1_0",  # int() takes underscores
    " 1",  # ... and surrounding whitespace
    "1 ",
    "1\n",
    "+1",  # ... and a sign
    "-1",
    "1--1",
    "١٢٣",  # ... and non-ASCII digits
    "1-٣",
    "99999999999999999999",  # beyond 64 bits
    "1-18446744073709551616",
    "1-2-3",
    "1-",
    "-",
    "",
    "0x10",
    "1.5",
    "$",
    "+",
    "*",
    "0" * 127 + "-1",  # longer than Redis's parse buffer
]
# What Redis writes, and the shorter forms its grammar allows.
VALID = [
    "0" * 126 + "1",  # leading zeros: Redis reads them (the hub's cursor gets "1-0")
    "0-0",
    "1764064800000-0",
    "1764064800000-17",
    "1",
    "18446744073709551615-18446744073709551615",
]


@pytest.mark.parametrize("event_id", POISONED)
def test_a_resume_id_outside_redis_grammar_is_not_an_event_id(event_id: str) -> None:
    assert not valid_event_id(event_id)


@pytest.mark.parametrize("event_id", VALID)
def test_ids_redis_writes_are_event_ids(event_id: str) -> None:
    assert valid_event_id(event_id)


async def test_every_id_we_accept_redis_accepts_too(redis: Redis, key_prefix: str) -> None:
    """The grammar is never wider than the consumer's: each accepted id is taken
    by XREAD and XRANGE on a real Redis (whatever it makes of the rejected ones)."""
    key = f"{key_prefix}grammar"
    await redis.xadd(key, {"d": "x"}, id="5-5")
    for event_id in [*VALID, *POISONED]:
        if not valid_event_id(event_id):
            continue
        await redis.xread({key: event_id}, count=1)
        if event_id != VALID[-1]:  # nothing follows the largest id: the hub skips that XRANGE
            await redis.xrange(key, min=f"({event_id}", max="+")


# --- the hub: a refused read is isolated ---------------------------------------------


async def publish(redis: Redis, keys: Keys, task_id: str, n: int) -> str:
    entry: bytes = await redis.xadd(keys.events(task_id), {"t": "progress", "d": b'{"n":%d}' % n})
    return entry.decode()


async def poison_cursor(hub: StreamHub, redis: Redis, keys: Keys, task_id: str) -> None:
    """A cursor Redis refuses, put straight into the hub (past every check)."""
    hub._streams[keys.events(task_id).encode()].cursor = "1_0"


async def poison_key(hub: StreamHub, redis: Redis, keys: Keys, task_id: str) -> None:
    """The stream's key replaced by a string: Redis answers its XREAD with WRONGTYPE."""
    key = keys.events(task_id)
    await redis.delete(key)
    await redis.set(key, "not a stream")


@pytest.mark.parametrize("poison", [poison_cursor, poison_key], ids=["bad-cursor", "wrong-type"])
async def test_a_stream_redis_refuses_to_read_ends_alone_and_others_keep_flowing(
    redis: Redis, key_prefix: str, poison: Any
) -> None:
    keys = Keys(key_prefix)
    hub = StreamHub(redis, keys, block_ms=30_000)
    await hub.start()
    try:
        first = await publish(redis, keys, "poison", 0)
        async with hub.watch("victim") as victim, hub.watch("poison") as poisoned:
            async with asyncio.timeout(10):
                await poisoned.next()  # the replay
                # The reader starts the stream at 0-0 and reads that entry live too:
                # poison its cursor only once it has moved past it, or the read
                # in flight would overwrite the poison with the entry's id.
                watched = hub._streams[keys.events("poison").encode()]
                while watched.cursor != first:
                    await asyncio.sleep(0.01)
            await poison(hub, redis, keys, "poison")
            await hub._wake()  # the reader rebuilds its XREAD with the poison in it
            # Every message written while the poison sits in the shared read
            # reaches the other watcher (a guard, not a timing: the old hub
            # backed off and retried the same refused read forever).
            written = [await publish(redis, keys, "victim", n) for n in range(20)]
            async with asyncio.timeout(10):
                got = [(await victim.next()).event_id for _ in written]
            assert got == written
            # The refused stream's watcher alone was ended, with its own reason.
            with pytest.raises(Closing) as ended:
                async with asyncio.timeout(10):
                    await poisoned.next()
            assert type(ended.value).__name__ == "Unreadable"
            assert hub.refused_reads == 1
            # The reader never took the refusal for an outage: it never backed off.
            assert hub.outages == 0
            # ... and it goes on following the victim live.
            last = await publish(redis, keys, "victim", 99)
            async with asyncio.timeout(10):
                assert (await victim.next()).event_id == last
    finally:
        await hub.stop()


async def test_a_refusal_of_every_read_is_an_outage_not_a_poisoned_stream(
    redis: Redis, key_prefix: str
) -> None:
    """If even the hub's own wake-up stream is refused, no single stream is to blame:
    nobody's watch is ended for it (the reader retries as in an outage)."""
    keys = Keys(key_prefix)
    hub = StreamHub(redis, keys, block_ms=30_000)
    real_xread = redis.xread
    refusing = True

    async def xread(*args: Any, **kwargs: Any) -> Any:
        if refusing:
            raise ResponseError("NOPERM this user has no permissions to run the 'xread' command")
        return await real_xread(*args, **kwargs)

    redis.xread = xread  # type: ignore[method-assign]
    await hub.start()
    try:
        async with hub.watch("a") as watcher:
            await asyncio.to_thread(wait_for, lambda: not hub.available, what="outage")
            refusing = False
            last = await publish(redis, keys, "a", 1)
            async with asyncio.timeout(10):
                assert (await watcher.next()).event_id == last
            assert hub.available
            assert hub.outages == 1
            assert hub.refused_reads == 0
    finally:
        await hub.stop()


async def test_after_an_outage_that_every_watcher_left_new_watches_open_again(
    redis: Redis, key_prefix: str
) -> None:
    """New watches are refused while the reader cannot read; with nobody left
    watching, the reader must still find out that Redis is back."""
    from resimply.events import Unavailable

    keys = Keys(key_prefix)
    hub = StreamHub(redis, keys, block_ms=1000)
    real_xread = redis.xread
    refusing = True

    async def xread(*args: Any, **kwargs: Any) -> Any:
        if refusing:
            raise ConnectionError("Connection refused")
        return await real_xread(*args, **kwargs)

    redis.xread = xread  # type: ignore[method-assign]
    await hub.start()
    try:
        async with hub.watch("a"):
            await asyncio.to_thread(wait_for, lambda: not hub.available, what="outage")
        with pytest.raises(Unavailable):
            async with hub.watch("b"):
                pass
        refusing = False  # Redis is back; nobody is watching anything
        await asyncio.to_thread(wait_for, lambda: hub.available, what="recovery")
        async with hub.watch("b") as watcher:
            last = await publish(redis, keys, "b", 1)
            async with asyncio.timeout(10):
                assert (await watcher.next()).event_id == last
    finally:
        await hub.stop()


async def test_nothing_can_follow_the_largest_id(redis: Redis, key_prefix: str) -> None:
    keys = Keys(key_prefix)
    hub = StreamHub(redis, keys, block_ms=2000)
    await hub.start()
    try:
        await publish(redis, keys, "max", 1)
        async with hub.watch("max", after=VALID[-1]) as watcher:
            assert watcher.poll() is None
    finally:
        await hub.stop()


# --- through a real server: refusals a client can act on -----------------------------

USER = "a1a1a1a1-a1a1-4a1a-8a1a-a1a1a1a1a1a1"
OTHER = "b2b2b2b2-b2b2-4b2b-8b2b-b2b2b2b2b2b2"
PER_USER = 3


def _serve(svc: Service) -> Service:
    svc.spawn(
        [str(BIN / "resimply"), "serve", "--host", "127.0.0.1", "--port", str(svc.port)], "web"
    )
    wait_for(lambda: httpx.get(f"{svc.base_url}/health").status_code == 200, what="web")
    return svc


def _web(redis_url: str, tmp: Any, lean: bool) -> Iterator[Service]:
    svc = Service(
        redis_url,
        tmp,
        RESIMPLY_LEAN_STREAMS="1" if lean else "0",
        RESIMPLY_STREAMS_PER_USER=str(PER_USER),
        RESIMPLY_RATE_LIMIT_PER_MINUTE="10000",
    )
    try:
        yield _serve(svc)
    except BaseException:
        print(svc.logs()[-10000:])
        raise
    finally:
        svc.stop()


@pytest.fixture(scope="module")
def lean_web(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`resimply serve` as deployed: a connection whose first request is a stream
    is served by the lean stream protocol."""
    yield from _web(redis_url, tmp_path_factory.mktemp("lean"), lean=True)


@pytest.fixture(scope="module")
def asgi_web(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The fallback (RESIMPLY_LEAN_STREAMS=0): streams through Hypercorn's ASGI endpoints."""
    yield from _web(redis_url, tmp_path_factory.mktemp("asgi"), lean=False)


def make_task(svc: Service, token: str) -> str:
    url = f"http://127.0.0.1:9/{os.urandom(6).hex()}.mp4"
    response = httpx.post(
        f"{svc.base_url}/scrape/async", json={"url": url}, headers=auth(token), timeout=10
    )
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def streams_open(svc: Service) -> int:
    return int(httpx.get(f"{svc.base_url}/health", timeout=5).json()["streams"])


@pytest.mark.parametrize("path", ["lean_web", "asgi_web"])
@pytest.mark.parametrize("event_id", ["1_0", "+1", "١٢٣", "99999999999999999999", "1-2-3", "-1"])
async def test_a_bad_last_event_id_is_refused_with_what_to_send(
    request: pytest.FixtureRequest, path: str, event_id: str
) -> None:
    web: Service = request.getfixturevalue(path)
    token = web.token(USER)
    task_id = make_task(web, token)
    async with httpx.AsyncClient(base_url=web.base_url, timeout=10) as client:
        for headers, params in [
            ({"Last-Event-ID": event_id.encode()}, {"token": token}),
            ({}, {"token": token, "last_event_id": event_id}),
        ]:
            response = await client.get(f"/events/{task_id}", headers=headers, params=params)
            assert response.status_code == 400, response.text
            body = response.json()
            assert body["error"] == "invalid_request"
            assert "event_id" in body["message"]
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"ws://127.0.0.1:{web.port}/ws/{task_id}",
            params={"token": token, "last_event_id": event_id},
        ) as ws,
    ):
        message = await ws.receive(timeout=10)
        assert message.type == aiohttp.WSMsgType.CLOSE
        # 1008 (policy violation): sending the same again cannot help; 1013 made
        # clients retry forever.
        assert ws.close_code == 1008
        assert "event_id" in message.extra


async def sse_open(session: aiohttp.ClientSession, svc: Service, task_id: str, token: str) -> Any:
    response = await session.get(f"{svc.base_url}/events/{task_id}", params={"token": token})
    return response


@pytest.mark.parametrize("path", ["lean_web", "asgi_web"])
async def test_one_user_cannot_hold_more_than_their_share_of_streams(
    request: pytest.FixtureRequest, path: str
) -> None:
    web: Service = request.getfixturevalue(path)
    token, other = web.token(USER), web.token(OTHER)
    task_id = make_task(web, token)
    other_task = make_task(web, other)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        held = [await sse_open(session, web, task_id, token) for _ in range(PER_USER)]
        assert [r.status for r in held] == [200] * PER_USER
        over = await sse_open(session, web, task_id, token)
        assert over.status == 429
        assert (await over.json())["error"] == "rate_limited"
        assert int(over.headers["Retry-After"]) > 0
        async with session.ws_connect(
            f"ws://127.0.0.1:{web.port}/ws/{task_id}", params={"token": token}
        ) as ws:
            message = await ws.receive(timeout=10)
            assert message.type == aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 1008
            assert "streams" in message.extra
        # Another user is not held back by the first one's streams.
        theirs = await sse_open(session, web, other_task, other)
        assert theirs.status == 200
        theirs.close()
        # A stream given back is a stream the user may open again.
        held.pop().close()
        await asyncio.to_thread(wait_for, lambda: streams_open(web) == PER_USER - 1)
        again = await sse_open(session, web, task_id, token)
        assert again.status == 200
        for response in [*held, again]:
            response.close()
    await asyncio.to_thread(wait_for, lambda: streams_open(web) == 0)
    assert json.loads(httpx.get(f"{web.base_url}/health").text)["streams"] == 0
