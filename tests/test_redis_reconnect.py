"""Every Redis client (the web tier's two, the worker's and arq's pool) rides out a
connection that Redis drops mid-command — a restart, a failover, `CLIENT KILL`:
the command is sent again on a fresh connection instead of failing. (arq's own
poll has no retry around it: without this a worker polling at the moment of a
Redis restart died; test_shutdown.py restarts Redis under a running service.)"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from arq.connections import create_pool
from redis.asyncio import Redis

from resimply.resources import open_redis, open_request_redis, open_worker_redis
from resimply.settings import Settings
from resimply.worker import _redis_settings


async def web_client(settings: Settings) -> Redis:
    return open_redis(settings)


async def request_client(settings: Settings) -> Redis:
    return open_request_redis(settings)


async def worker_client(settings: Settings) -> Redis:
    return open_worker_redis(settings)


async def worker_pool(settings: Settings) -> Redis:
    pool: Redis = await create_pool(_redis_settings(settings))
    return pool


@pytest.mark.parametrize(
    "make",
    [web_client, request_client, worker_client, worker_pool],
    ids=["web-streams", "web-requests", "worker-pipeline", "worker-arq"],
)
async def test_a_command_in_flight_survives_its_connection_being_killed(
    redis_url: str, redis: Redis, key_prefix: str, make: Callable[[Settings], Any]
) -> None:
    client: Redis = await make(Settings.from_env({"REDIS_URL": redis_url}))
    name = f"{key_prefix}victim"
    try:
        await client.client_setname(name)
        # A blocking read is in flight on the client's connection when it is killed.
        waiting = asyncio.create_task(client.blpop([f"{key_prefix}nothing"], timeout=2))
        await asyncio.sleep(0.3)
        killed = 0
        for info in await redis.client_list():
            if info["name"] == name:
                killed += await redis.client_kill_filter(_id=info["id"])
        assert killed == 1
        # Sent again on a new connection, it blocks its 2 s and answers: nothing there.
        assert await asyncio.wait_for(waiting, 10) is None
    finally:
        await client.aclose()
