"""Opens and closes what a process shares: Redis, the task store, providers."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .jobs import JobQueue
from .keys import Keys
from .outages import PATIENT_ERRORS, PatientRetry
from .redis_ha import connect
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


# A REST request's Redis command gets this long before the request is answered
# 503 (web/errors.py): long enough for any of our commands, short enough that a
# stopped (SIGSTOP, hung) Redis does not hold clients for minutes.
REQUEST_TIMEOUT_S = 5.0


def open_redis(settings: Settings) -> Redis:
    """The web tier's client for the stream hub (its blocking XREAD needs no
    read timeout), and the base of the others. Each of these clients finds Redis
    through `redis_ha.connect`: REDIS_URL, or the master Sentinel names."""
    # Bytes in and out: stream payloads are passed on to clients without decoding.
    client: Redis = connect(
        settings,
        decode_responses=False,
        socket_connect_timeout=5,
        health_check_interval=30,
        retry=redis_retry(),
        retry_on_error=list(RETRY_ON_ERROR),
    )
    return client


def open_request_redis(settings: Settings) -> Redis:
    """The REST handlers' client: a connection dropped mid-command is retried
    (a restart, a failover), but a Redis that is away, hung or full fails the
    command within a few seconds, and the request is answered 503 + Retry-After."""
    client: Redis = connect(
        settings,
        decode_responses=False,
        socket_connect_timeout=2,
        socket_timeout=REQUEST_TIMEOUT_S,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.1), retries=2),
        retry_on_error=[RedisConnectionError],
    )
    return client


def open_worker_redis(settings: Settings, client: str = "worker") -> Redis:
    """A worker's client: every command waits Redis out (outages.PatientRetry) —
    down, restarting, or full — so a running job pauses instead of failing. The
    read timeout only notices a connection that died silently; the command is
    then sent again on a new one."""
    redis: Redis = connect(
        settings,
        decode_responses=False,
        socket_connect_timeout=5,
        socket_timeout=30,
        health_check_interval=30,
        retry=PatientRetry(client),
        retry_on_error=list(PATIENT_ERRORS),
    )
    return redis


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
        # Only a replica that can take over (Sentinel) makes waiting for one worth it.
        accept_replicas=settings.accept_replicas if settings.redis_sentinels else 0,
        accept_wait_ms=settings.accept_wait_ms,
    )
