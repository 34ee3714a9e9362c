"""Drop the connections to an old master the moment the sentinels replace it.

A master that hangs (or whose host drops off the network) leaves the pooled
connections to it open: each is found out only by its own read timeout — 5 s
for a REST request, 30 s for a worker's command, which pauses running jobs that
long (redis_ha.py). The sentinels announce a failover on their pub/sub channel
`+switch-master` (`<name> <old-ip> <old-port> <new-ip> <new-port>`); `watch`
listens on one sentinel (the next one when it fails) and, for our master,
disconnects every pool built by `redis_ha.sentinel_pool` in this process. The
commands waiting on those connections fail at once with a ConnectionError and
their clients' retries (resources.py) send them again, through the sentinels, to
the new master.

A missed announcement (no sentinel reachable at that moment) costs nothing but
the read timeouts, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.sentinel import SentinelConnectionPool

from .settings import Settings

log = structlog.get_logger(__name__)

CHANNEL = "+switch-master"
# A sentinel that stops answering is left for the next after this long.
SENTINEL_TIMEOUT_S = 10.0
# Between attempts when no sentinel can be reached.
PAUSE_S = 1.0

# Each pool, and whether its connections in use are cut too.
_pools: weakref.WeakKeyDictionary[SentinelConnectionPool, bool] = weakref.WeakKeyDictionary()


def register(pool: SentinelConnectionPool, *, in_use: bool = True) -> None:
    """Have `pool` disconnected when the sentinels switch its master; `in_use`
    False: only its idle connections (a client that cannot take a command
    failing mid-way, as arq's job start: see worker._sentinel_pool)."""
    _pools[pool] = in_use


async def switched(master: str) -> int:
    """Disconnect every registered pool of `master`; returns how many."""
    pools = [(pool, in_use) for pool, in_use in list(_pools.items()) if pool.service_name == master]
    for pool, in_use in pools:
        # In-use connections too: the commands stuck on the old master are the point.
        with contextlib.suppress(Exception):
            await pool.disconnect(inuse_connections=in_use)
    return len(pools)


async def watch(settings: Settings) -> None:
    """Listen for `+switch-master` on the sentinels until cancelled."""
    n = 0
    while True:
        host, port = settings.redis_sentinels[n % len(settings.redis_sentinels)]
        n += 1
        try:
            await _listen(host, port, settings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the sentinel went away: the next one
            log.debug("sentinel_watch_lost", sentinel=f"{host}:{port}", error=type(exc).__name__)
        await asyncio.sleep(PAUSE_S)


async def _listen(host: str, port: int, settings: Settings) -> None:
    sentinel = Redis(
        host=host,
        port=port,
        password=settings.redis_sentinel_password,
        socket_connect_timeout=2.0,
        socket_timeout=SENTINEL_TIMEOUT_S,
        health_check_interval=5,  # PINGs an idle subscription
    )
    try:
        async with sentinel.pubsub() as pubsub:
            await pubsub.subscribe(CHANNEL)
            while True:
                message: dict[str, Any] | None = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
                if message is not None and message["type"] == "message":
                    await _announced(message["data"], settings.redis_sentinel_master)
    finally:
        await sentinel.aclose()


async def _announced(data: bytes, master: str) -> None:
    name, *addresses = data.decode(errors="replace").split()
    if name != master:
        return
    pools = await switched(master)
    log.info("redis_master_switched", master=name, addresses=" ".join(addresses), pools=pools)


def start(settings: Settings) -> asyncio.Task[None] | None:
    """The watcher, as a task of the running loop; None without sentinels."""
    if not settings.redis_sentinels:
        return None
    return asyncio.create_task(watch(settings), name="sentinel-watch")


async def stop(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
