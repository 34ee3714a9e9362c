"""LeanCommands (the web tier's per-request Redis commands) on a real Redis:
the same replies, errors and connection handling as redis-py's `execute_command`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ResponseError

from resimply.redis_lean import LeanCommands


@pytest.fixture
async def other(redis_url: str) -> AsyncIterator[Redis]:
    """A second client, for what the one under test must not do itself."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_replies_and_errors_are_redis_pys(redis: Redis, key_prefix: str) -> None:
    lean = LeanCommands(redis)
    key = f"{key_prefix}h"
    await redis.hset(key, mapping={"a": "1", "b": "2"})
    assert await lean.execute("HGETALL", key) == {b"a": b"1", b"b": b"2"}
    assert await lean.execute("HGETALL", f"{key_prefix}missing") == {}
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await lean.execute("LPUSH", key, "x")
    assert await lean.execute("PING") is True  # the connection is still usable


async def test_a_connection_the_server_closed_is_replaced(
    redis: Redis, other: Redis, key_prefix: str
) -> None:
    lean = LeanCommands(redis)
    connection_id = await lean.execute("CLIENT", "ID")
    assert await other.client_kill_filter(_id=connection_id) == 1  # as a Redis restart does
    await asyncio.sleep(0.1)  # the event loop reads the server's goodbye
    assert await lean.execute("PING") is True
    assert await lean.execute("CLIENT", "ID") != connection_id


async def test_a_cancelled_command_leaves_no_reply_for_the_next(
    redis: Redis, other: Redis, key_prefix: str
) -> None:
    lean = LeanCommands(redis)
    key = f"{key_prefix}list"
    waiting = asyncio.create_task(lean.execute("BLPOP", key, 5))
    await asyncio.sleep(0.1)
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    await other.rpush(key, "late")  # too late for the cancelled BLPOP
    await asyncio.sleep(0.1)
    assert await lean.execute("ECHO", "mine") == b"mine"


async def test_other_pools_are_left_to_redis_py(redis_url: str, key_prefix: str) -> None:
    client = Redis(connection_pool=BlockingConnectionPool.from_url(redis_url, max_connections=1))
    try:
        lean = LeanCommands(client)
        assert await asyncio.gather(*(lean.execute("ECHO", str(n)) for n in range(3))) == [
            b"0",
            b"1",
            b"2",
        ]
    finally:
        await client.aclose()
