"""The one door from the web tier to the workers: enqueue and abort (arq)."""

from __future__ import annotations

from arq.connections import ArqRedis
from arq.constants import abort_jobs_ss
from arq.utils import timestamp_ms
from redis.asyncio import Redis

from .keys import Keys

JOB_NAME = "process_task"


class JobQueue:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        # ArqRedis is a redis.asyncio.Redis: share the process's connection pool.
        self._arq = ArqRedis(connection_pool=redis.connection_pool)
        self._queue = keys.queue

    async def enqueue(self, task_id: str) -> None:
        """Queue the task's job; the job id is the task id, so this is idempotent."""
        await self._arq.enqueue_job(JOB_NAME, task_id, _job_id=task_id, _queue_name=self._queue)

    async def abort(self, task_id: str) -> None:
        """Ask whichever worker runs the job to cancel it (arq's abort protocol:
        workers poll this sorted set and cancel the job's asyncio task)."""
        await self._arq.zadd(abort_jobs_ss, {task_id: timestamp_ms()})
