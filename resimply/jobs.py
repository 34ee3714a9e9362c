"""The one door from the web tier to the workers: arq jobs, enqueued atomically
with their task, and aborted on cancellation.

A task and its job are written by one Redis script (`tasks.TaskStore.create`),
so a web process dying between the two can never leave a task that no worker
will run. The job is arq's own format (`arq.jobs.serialize_job`), serialised as
JSON so that the script can write it and workers read it back.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec
from arq.connections import ArqRedis
from arq.constants import abort_jobs_ss, expires_extra_ms, job_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.asyncio import Redis

from .keys import Keys

JOB_NAME = "process_task"


def job_serializer(data: dict[str, Any]) -> bytes:
    return msgspec.json.encode(data)


def job_deserializer(raw: bytes) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.json.decode(raw)
    return data


@dataclasses.dataclass(frozen=True)
class JobEntry:
    """What the create script writes for a new task's job."""

    job_key: str
    queue_key: str
    payload: bytes
    score_ms: int
    expires_ms: int


class JobQueue:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        # ArqRedis is a redis.asyncio.Redis: share the process's connection pool.
        self._arq = ArqRedis(connection_pool=redis.connection_pool)
        self._queue = keys.queue

    def entry(self, task_id: str) -> JobEntry:
        """The job for `task_id`: job id = task id, so a task is enqueued once."""
        now_ms = timestamp_ms()
        payload = serialize_job(JOB_NAME, (task_id,), {}, None, now_ms, serializer=job_serializer)
        return JobEntry(job_key_prefix + task_id, self._queue, payload, now_ms, expires_extra_ms)

    async def abort(self, task_id: str) -> None:
        """Ask whichever worker runs the job to cancel it (arq's abort protocol:
        workers poll this sorted set and cancel the job's asyncio task)."""
        await self._arq.zadd(abort_jobs_ss, {task_id: timestamp_ms()})
