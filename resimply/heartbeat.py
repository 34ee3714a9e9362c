"""Worker liveness, as `/health` counts it: a heartbeat per worker in a sorted set.

The same transaction renews the leases of the jobs the worker runs (`lease.py`):
a worker whose heartbeat stops loses its jobs to other workers within a lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from redis.asyncio import Redis

from .keys import Keys
from .lease import Leases

log = structlog.get_logger(__name__)

INTERVAL_S = 5.0
# A worker missing three beats is counted as gone.
STALE_AFTER_S = 3 * INTERVAL_S


class Heartbeat:
    def __init__(
        self, redis: Redis, keys: Keys, worker_id: str, *, leases: Leases | None = None
    ) -> None:
        self._redis = redis
        self._key = keys.workers
        self._worker_id = worker_id
        self._leases = leases
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._beat()
        self._task = asyncio.create_task(self._run(), name="worker-heartbeat")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self._redis.zrem(self._key, self._worker_id)

    async def _beat(self) -> None:
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self._key, {self._worker_id: now})
            pipe.zremrangebyscore(self._key, "-inf", now - STALE_AFTER_S)
            pipe.expire(self._key, int(STALE_AFTER_S * 4))
            jobs = self._leases.renew(pipe) if self._leases else []
            replies = await pipe.execute()
        if self._leases:
            self._leases.renewed(jobs, replies[3:])

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_beat = loop.time()
        while True:
            # Beats keep their schedule, and none outlasts an interval: the
            # client's own retries could hold one for over a minute against an
            # unreachable Redis, and a lease must be renewed within one interval
            # of Redis coming back (lease.py).
            next_beat += INTERVAL_S
            await asyncio.sleep(max(0.0, next_beat - loop.time()))
            try:
                async with asyncio.timeout(INTERVAL_S):
                    await self._beat()
            except Exception as exc:  # Redis briefly away: keep beating later.
                log.warning("heartbeat_failed", error=type(exc).__name__)
            next_beat = max(next_beat, loop.time())


async def live_workers(redis: Redis, keys: Keys) -> int:
    return int(await redis.zcount(keys.workers, time.time() - STALE_AFTER_S, "+inf"))
