"""Where a process finds its Redis: `REDIS_URL`, or the master that Redis
Sentinel names (`REDIS_SENTINELS` + `REDIS_SENTINEL_MASTER`).

With sentinels, every client this module builds asks them for the master's
address each time it opens a connection (redis-py's `SentinelConnectionPool`), so
after a failover new connections go to the promoted replica. The connections open
at the time of a failover are ended in three ways, all of which the clients'
retries (resources.py, outages.PatientRetry) already ride out:

- a killed master: the connection drops or is refused (ConnectionError);
- a hung master: the sentinels' `+switch-master` announcement, on which
  sentinel_watch.py disconnects every pool built here (ConnectionError); failing
  that, the command times out (TimeoutError; the stream hub's watchdog for its
  blocking XREAD, events.READ_GRACE_S);
- the old master back as a replica: Sentinel makes it one and kills its client
  connections; a write that still reaches it is answered READONLY, which
  redis-py's sentinel connection turns into a ConnectionError after dropping the
  connection — so the retry asks the sentinels again instead of waiting for the
  replica to take writes, which it never will.

Until the sentinels agree that the master is down (`down-after-milliseconds`,
then an election), they keep naming the old one: commands wait (workers) or are
answered 503 (web), exactly as during a single Redis's outage.

REDIS_URL keeps giving the password, user, database and TLS (`rediss://`) of the
data nodes; its host and port are not used. Sentinels are asked with their own
short timeouts and `REDIS_SENTINEL_PASSWORD` (Sentinel's `requirepass`).
"""

from __future__ import annotations

from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.connection import SSLConnection, parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import (
    Sentinel,
    SentinelConnectionPool,
    SentinelManagedConnection,
    SentinelManagedSSLConnection,
)
from redis.backoff import NoBackoff

from . import sentinel_watch
from .settings import Settings

R = TypeVar("R", bound=Redis)

# One sentinel's answer to SENTINEL MASTERS, at most; a sentinel that does not
# answer in time is skipped for the next one.
SENTINEL_TIMEOUT_S = 2.0


class FailoverConnection(SentinelManagedConnection):
    """A sentinel-managed connection that tries each address the sentinels give
    once. redis-py wraps the connect to that address in the client's retry as
    well: with a worker's retry (forever) a connection would keep knocking at a
    dead master and never ask the sentinels again. Retrying is left to the retry
    around the whole connect, which asks the sentinels before each attempt."""

    async def connect_to(self, address: tuple[str, int]) -> None:
        patient, self.retry = self.retry, Retry(NoBackoff(), 0)
        try:
            await super().connect_to(address)  # type: ignore[no-untyped-call]
        finally:
            self.retry = patient


class FailoverSSLConnection(FailoverConnection, SentinelManagedSSLConnection):
    pass


def connect(settings: Settings, *, redis_class: type[R] = Redis, **options: Any) -> R:  # type: ignore[assignment]
    """A client of `redis_class` with `options` (timeouts, retry): on REDIS_URL,
    or on the master the sentinels name when REDIS_SENTINELS is set."""
    if not settings.redis_sentinels:
        client: R = redis_class.from_url(settings.redis_url, **options)
        return client
    return redis_class.from_pool(sentinel_pool(settings, **options))  # type: ignore[return-value]


def sentinel_pool(settings: Settings, **options: Any) -> SentinelConnectionPool:
    """The `SentinelConnectionPool` of the configured master, built with `options`."""
    node = {
        key: value
        for key, value in parse_url(settings.redis_url).items()
        if key in ("db", "username", "password")
    }
    tls = parse_url(settings.redis_url).get("connection_class") is SSLConnection
    node["connection_class"] = FailoverSSLConnection if tls else FailoverConnection
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(settings.redis_sentinels),
        sentinel_kwargs={
            "socket_connect_timeout": SENTINEL_TIMEOUT_S,
            "socket_timeout": SENTINEL_TIMEOUT_S,
            "password": settings.redis_sentinel_password,
        },
    )
    # As Sentinel.master_for, without the client it wraps the pool in: the
    # caller's class takes the pool (and closes it with itself).
    pool = SentinelConnectionPool(  # type: ignore[no-untyped-call]
        settings.redis_sentinel_master, sentinel, is_master=True, **node, **options
    )
    sentinel_watch.register(pool)  # dropped at once on a switch (sentinel_watch.py)
    return pool
