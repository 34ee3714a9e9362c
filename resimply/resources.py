"""Opens and closes what a process shares: Redis, the task store, providers."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from .jobs import JobQueue
from .keys import Keys
from .settings import Settings
from .tasks import TaskStore


def redis_retry() -> Retry:
    """Ride out a Redis restart: commands that meet a dropped or refused
    connection reconnect and try again for about 15 s (0.1 s doubling to 1 s)."""
    return Retry(ExponentialBackoff(cap=1.0, base=0.1), retries=18)


def open_redis(settings: Settings) -> Redis:
    # Bytes in and out: stream payloads are passed on to clients without decoding.
    client: Redis = Redis.from_url(
        settings.redis_url,
        decode_responses=False,
        socket_connect_timeout=5,
        health_check_interval=30,
        retry=redis_retry(),
    )
    return client


def task_store(redis: Redis, settings: Settings, *, jobs: JobQueue | None = None) -> TaskStore:
    return TaskStore(
        redis,
        Keys(settings.key_prefix),
        ttl_s=settings.task_ttl_s,
        stream_maxlen=settings.stream_maxlen,
        # A task cannot outlive its job timeout by much; past that a second
        # submission of the same video starts afresh.
        dedupe_ttl_s=settings.job_timeout_s + 120,
        jobs=jobs,
    )
