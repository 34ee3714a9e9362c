"""Single Redis commands without redis-py 5.3's per-command pool overhead.

redis-py 5.3 (the newest that arq 0.28 allows) hands out a pooled connection
under an `asyncio.Lock` and first polls it with a zero-timeout read
(redis/redis-py#3692; redis-py 8 replaces the poll, #4063). That costs every
command an extra event-loop iteration and a cancelled read: about 60 µs of CPU,
more than the rest of a `GET /task` handler. `LeanCommands` takes connections
from the same pool without the lock, which guards nothing here (taking a
connection does not await), and polls only a connection whose server has closed
it (a Redis restart), the case the poll is there for: redis-py disconnects a
connection whenever a command on it fails or is cancelled, so a connection back
in the pool has no stray reply to read. Everything else (connecting, health
checks, retries, replies and their callbacks) is redis-py's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection, Connection
from redis.typing import EncodableT


class LeanCommands:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        pool = redis.connection_pool
        # Other pools (blocking, sentinel) decide in get_connection which connection
        # to hand out: leave them to redis-py.
        self._pool = pool if type(pool) is ConnectionPool else None

    async def execute(self, command: str, *args: EncodableT, **options: Any) -> Any:
        """As `redis.execute_command(command, *args, **options)`."""
        pool = self._pool
        if pool is None:
            fallback = self._redis.execute_command
            return await fallback(command, *args, **options)  # type: ignore[no-untyped-call]
        connection: Connection = pool.get_available_connection()  # type: ignore[no-untyped-call]
        try:
            if not connection.is_connected or _closed_by_server(connection):
                await pool.ensure_connection(connection)  # (re)connects, as redis-py does
            return await connection.retry.call_with_retry(
                lambda: self._round_trip(connection, command, *args, **options),
                lambda error: _disconnect_raise(connection, error),
            )
        finally:
            await pool.release(connection)

    async def _round_trip(
        self, connection: Connection, command: str, *args: EncodableT, **options: Any
    ) -> Any:
        await connection.send_command(command, *args)
        return await self._redis.parse_response(connection, command, **options)


def _closed_by_server(connection: AbstractConnection) -> bool:
    # The connection's asyncio stream sees end-of-file as soon as the event loop
    # reads the server's FIN; without a stream to look at, assume the worst.
    reader = getattr(connection, "_reader", None)
    return not isinstance(reader, asyncio.StreamReader) or reader.at_eof()


async def _disconnect_raise(connection: AbstractConnection, error: Exception) -> None:
    # As `Redis.execute_command`: retry only the errors the connection retries on.
    await connection.disconnect()
    retried = connection.retry_on_error
    if retried is None or not isinstance(error, tuple(retried)):
        raise error
