"""Opens and closes what a process shares: Redis, the task store, providers."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .jobs import JobQueue
from .keys import Keys
from .settings import Settings
from .tasks import TaskStore


def redis_retry() -> Retry:
    """Ride out a Redis restart: commands that meet a dropped or refused
    connection reconnect and try again for about 15 s (0.1 s doubling to 1 s)."""
    return Retry(ExponentialBackoff(cap=1.0, base=0.1), retries=18)


# What `redis_retry` retries a command *in flight* on (redis-py re-raises any
# other error, and without this list even these). A command sent again after its
# connection dropped may have run once already: ours are safe to repeat (reads,
# XADDs of progress, and scripts that check before they write).
RETRY_ON_ERROR: list[type[Exception]] = [RedisConnectionError, RedisTimeoutError]


def open_redis(settings: Settings) -> Redis:
    # Bytes in and out: stream payloads are passed on to clients without decoding.
    client: Redis = Redis.from_url(
        settings.redis_url,
        decode_responses=False,
        socket_connect_timeout=5,
        health_check_interval=30,
        retry=redis_retry(),
        retry_on_error=list(RETRY_ON_ERROR),
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
