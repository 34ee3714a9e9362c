"""Reading task streams: replay + live fan-out from one Redis reader per process.

Writers `XADD` each message to the task's stream (see `tasks.py`). A web
process runs one `StreamHub`: a single `XREAD BLOCK` over every stream that
some client watches, handing each entry to the watchers of that stream. A
watcher first replays the stream with `XRANGE` (so a late client misses
nothing), then takes live entries from its bounded buffer, skipping what the
replay already gave it (stream ids only grow). A watcher that falls too far
behind is cut off — it can resume with its last event id — and never slows
the reader or the other watchers. When the process shuts down, `close()` ends
every watcher the same way, so clients resume on another process.

One client's input never reaches another client's read: resume ids are held to
Redis's own id grammar (`parse_id`), and should the shared `XREAD` still be
refused (a `ResponseError`: a bad cursor, a key of another type), the hub reads
the watched streams in halves until the refused ones stand alone, ends only
their watchers (`Unreadable`) and goes on reading the rest at once. When Redis
cannot be reached, the hub keeps every watch open and retries: each stream's
cursor stays where it was, so the first read after Redis returns hands out
everything written meanwhile. One warning when reading starts failing, one info
line when it recovers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import metrics
from .keys import Keys

log = structlog.get_logger(__name__)

TERMINAL_TYPES = frozenset({"completion", "error"})
# Sent only to watchers that asked for them (`?partial=1`); the others never see
# them, replayed or live, so a client that knows only the seed's types is unchanged.
OPT_IN_TYPES = frozenset({"partial"})
# Stream set-ups (a replay here, the owner lookup in `web.streams`) running at
# once, at most: each holds a pooled Redis connection, and redis-py's pool grows
# to its peak and never shrinks — after a restart, thousands of clients
# reconnect within a second and would leave as many idle connections behind.
CONCURRENT_SETUPS = 32
# While Redis cannot be reached, the reader tries again after 0.1 s, doubling up
# to this: short enough that delivery resumes within seconds of Redis returning
# (the client's own retries already wait up to ~15 s before the reader sees an error).
RETRY_MAX_S = 2.0
# A blocking XREAD that has not answered this long after its block ran out is
# taken for a hung Redis (stopped, partitioned away): the reader's connection has
# no read timeout (it must block), so without this it would wait forever unnoticed.
READ_GRACE_S = 5.0
# A watch's own Redis calls (wake-up, replay), at most; beyond, `Unavailable`.
SUBSCRIBE_TIMEOUT_S = 10.0

# Redis's grammar for an explicit stream id, as XREAD and XRANGE take it: `ms` or
# `ms-seq`, ASCII digits only, each part an unsigned 64-bit number, 127 characters
# at most (its parse buffer). Narrower than `int()`, which also takes signs,
# spaces, underscores and non-ASCII digits; `strtoull`'s own leniencies (a sign,
# leading spaces) are left out too: no id the server writes has them.
_ID = re.compile(r"([0-9]+)(?:-([0-9]+))?")
_ID_MAX_LEN = 127
U64_MAX = 2**64 - 1
MAX_ID = (U64_MAX, U64_MAX)


def parse_id(event_id: str) -> tuple[int, int]:
    """A stream id ("1764064800000-0", or "1764064800000" for its first entry) as a
    sortable pair; raises ValueError unless Redis would take it as it is."""
    match = _ID.fullmatch(event_id) if len(event_id) <= _ID_MAX_LEN else None
    if match is None:
        raise ValueError("a stream id is <ms> or <ms>-<seq>, in decimal digits")
    ms, seq = int(match[1]), int(match[2] or 0)
    if ms > U64_MAX or seq > U64_MAX:
        raise ValueError("each part of a stream id is at most 2**64 - 1")
    return ms, seq


def valid_event_id(event_id: str) -> bool:
    try:
        parse_id(event_id)
    except ValueError:
        return False
    return True


def canonical_id(event_id: str) -> str:
    """The id as Redis writes it ("<ms>-<seq>"); raises ValueError like `parse_id`."""
    ms, seq = parse_id(event_id)
    return f"{ms}-{seq}"


def _entry_key(event_id: str) -> tuple[int, int]:
    # Ids that Redis itself returned: always "<ms>-<seq>", so the quick split will do.
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq)


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    event_id: str
    type: str
    data: bytes  # the message JSON, event_id included

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_TYPES

    @classmethod
    def from_entry(cls, entry_id: bytes, fields: dict[bytes, bytes]) -> Event:
        body = fields[b"d"]
        # Splice the id into the stored JSON object instead of decoding and
        # re-encoding it: one allocation per message, shared by all watchers.
        data = b'%s,"event_id":"%s"}' % (body[:-1], entry_id)
        return cls(entry_id.decode(), fields[b"t"].decode(), data)


class Lagged(Exception):
    """The watcher fell too far behind and was cut off; it may resume from its last id."""


class Closing(Exception):
    """The process is shutting down; the client may resume elsewhere from its last id."""


class Unreadable(Closing):
    """Redis refused to read this watcher's stream (never another's): its watch ends.

    A `Closing`, so that a server that knows only `Closing` ends the stream cleanly."""


class Unavailable(Closing):
    """Redis could not be reached to open the watch; the client may resume later."""


class Abandoned(Exception):
    """The client went away: there is nobody left to send to."""


class Watcher:
    """One client's view of one task stream.

    Kept small: thousands are alive per process. The buffer is a list read from
    `_head` (a deque and an `asyncio.Event`, with its deque of waiters, cost
    ~1.5 KB per watcher before holding anything); the waiter is a bare future
    that exists only while `next()` waits."""

    __slots__ = (
        "_buffer",
        "_head",
        "_limit",
        "_waiter",
        "abandoned",
        "closed",
        "lagged",
        "last_id",
        "listener",
        "partial",
    )

    def __init__(self, limit: int, after: str | None, *, partial: bool = False) -> None:
        self._buffer: list[Event] = []
        self._head = 0
        self._limit = limit
        self._waiter: asyncio.Future[None] | None = None
        self.lagged = False
        # Set by `close()`: the exception `poll` raises once the buffer is drained.
        self.closed: type[Closing] | None = None
        self.abandoned = False
        self.last_id: tuple[int, int] = parse_id(after) if after else (0, 0)
        # Push mode: called (on the loop, never from inside `poll`) whenever there
        # may be something new to `poll`; the stream server's connections use it
        # instead of a task waiting in `next()`.
        self.listener: Callable[[], None] | None = None
        self.partial = partial  # whether this client takes `OPT_IN_TYPES`

    def _wants(self, event: Event) -> bool:
        return self.partial or event.type not in OPT_IN_TYPES

    def _wake(self) -> None:
        if self.listener is not None:
            self.listener()
            return
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def preload(self, events: list[Event]) -> None:
        """Queue the replayed history; it does not count against the live limit.

        It goes in front of whatever the reader offered while the replay was being
        read: those live events are either in the replay too (then dropped as
        seen) or newer than all of it, so the watcher still yields in id order."""
        if not self.partial:
            events = [event for event in events if event.type not in OPT_IN_TYPES]
        self._buffer[self._head : self._head] = events
        self._limit += len(events)
        self._wake()

    def offer(self, event: Event) -> None:
        """Called by the reader; never blocks."""
        if self.lagged or self.abandoned or not self._wants(event):
            return
        if len(self._buffer) - self._head >= self._limit:
            self.lagged = True
            metrics.CUT_OFF_LAGGED.inc()
            self._buffer = []
            self._head = 0
        else:
            self._buffer.append(event)
        self._wake()

    def close(self, reason: type[Closing] = Closing) -> None:
        """End the watch: `next()` hands out what is buffered, then raises `reason`."""
        self.closed = reason
        self._wake()

    def abandon(self) -> None:
        """The client went away: `next()` raises `Abandoned` at once, buffer or not."""
        self.abandoned = True
        self._buffer = []
        self._head = 0
        self._wake()

    def _accept(self, event: Event) -> bool:
        event_key = _entry_key(event.event_id)
        if event_key <= self.last_id:
            return False
        self.last_id = event_key
        return True

    def _pop(self) -> Event | None:
        buffer = self._buffer
        if self._head >= len(buffer):
            return None
        event = buffer[self._head]
        self._head += 1
        if self._head == len(buffer):
            buffer.clear()
            self._head = 0
        return event

    def poll(self) -> Event | None:
        """The next unseen event, or None until there is one; raises `Abandoned`,
        `Lagged` or `Closing` (after the buffered events) when the watch is over."""
        if self.abandoned:
            raise Abandoned
        while (event := self._pop()) is not None:
            if self._accept(event):
                return event
        if self.lagged:
            raise Lagged
        if self.closed is not None:
            raise self.closed
        return None

    async def next(self) -> Event:
        """The next unseen event (wrap in `asyncio.timeout` to wait a bounded time:
        cancelling here loses nothing)."""
        while True:
            if (event := self.poll()) is not None:
                return event
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None


@dataclasses.dataclass(slots=True)
class _Watched:
    key: bytes
    cursor: str
    watchers: set[Watcher]


class Watch:
    """`async with hub.watch(...) as watcher`, or `open()` … `end()`. A small class rather than an
    `asynccontextmanager` generator: one is held open per connected client, and
    a suspended generator with its frame costs several times these few slots."""

    __slots__ = ("_after", "_hub", "_partial", "_task_id", "_watched", "_watcher")

    def __init__(
        self, hub: StreamHub, task_id: str, after: str | None, *, partial: bool = False
    ) -> None:
        self._hub = hub
        self._task_id = task_id
        self._after = after
        self._partial = partial
        self._watcher: Watcher | None = None
        self._watched: _Watched | None = None

    async def open(self) -> Watcher:
        """Subscribe (and replay): the watcher, until `end()`."""
        self._watcher, self._watched = await self._hub._subscribe(
            self._task_id, self._after, self._partial
        )
        return self._watcher

    def end(self) -> None:
        """Unsubscribe; safe to call more than once, or before `open()` returned."""
        if self._watcher is not None and self._watched is not None:
            self._hub._unsubscribe(self._watcher, self._watched)
        self._watcher = self._watched = None

    async def __aenter__(self) -> Watcher:
        return await self.open()

    async def __aexit__(self, *_: object) -> None:
        self.end()


class StreamHub:
    """One reader per process following every watched stream."""

    def __init__(
        self, redis: Redis, keys: Keys, *, buffer_size: int = 256, block_ms: int = 10_000
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._buffer_size = buffer_size
        self._block_ms = block_ms
        self._streams: dict[bytes, _Watched] = {}
        self._wakeup_key = keys.hub_wakeup(uuid.uuid4().hex).encode()
        # An explicit cursor, not "$": a wake-up written between building the
        # XREAD arguments and sending them must still be seen.
        self._wakeup_cursor = "0-0"
        self._has_streams = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        # A wake-up is on its way and the reader has not yet rebuilt its XREAD:
        # streams added meanwhile will be in that XREAD without a wake-up of their own.
        self._wake_pending = False
        # Held by every stream set-up: the replay here, the owner lookup before it
        # in `web.streams`. One bound for both, so together they stay under it.
        self.setups = asyncio.Semaphore(CONCURRENT_SETUPS)
        # Since when (monotonic) the reader cannot reach Redis; None while it can.
        self.unavailable_since: float | None = None
        self.outages = 0  # times the reader began failing (and backing off)
        # Streams whose read Redis refused, each ended on its own (see `_isolate`).
        self.refused_reads = 0

    @property
    def watcher_count(self) -> int:
        return sum(len(w.watchers) for w in self._streams.values())

    @property
    def available(self) -> bool:
        """False while the reader cannot reach Redis (new streams are refused then)."""
        return self.unavailable_since is None

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._run(), name="stream-hub-reader")

    def close(self) -> None:
        """Shutting down: end every watch now (each raises `Closing` once its buffer
        is drained) and refuse new ones, so no stream holds the process open."""
        self._closing = True
        # Copies: a watcher's listener may end its watch right away.
        for watched in list(self._streams.values()):
            for watcher in list(watched.watchers):
                watcher.close()

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        # Bounded: with Redis away, the client's retries alone would take ~15 s.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self._redis.delete(self._wakeup_key)

    def watch(self, task_id: str, after: str | None = None, *, partial: bool = False) -> Watch:
        """Follow a task's stream from after `after` (or its start): `async with
        hub.watch(task_id) as watcher`. Replay is queued before the block is entered,
        so nothing between replay and live is lost. Raises `Closing` on entering
        once `close()` was called, `Unavailable` if Redis cannot be reached, and
        ValueError if `after` is not a stream id (`parse_id`). `partial`: whether
        the watcher gets `partial` messages (`OPT_IN_TYPES`)."""
        return Watch(self, task_id, after, partial=partial)

    async def _subscribe(
        self, task_id: str, after: str | None, partial: bool = False
    ) -> tuple[Watcher, _Watched]:
        if self._closing:
            raise Closing
        if not self.available:
            raise Unavailable  # the reader cannot read: this watch would see nothing
        key = self._keys.events(task_id).encode()
        # Made first: it parses `after` before `after` can become a cursor.
        watcher = Watcher(self._buffer_size, after, partial=partial)
        watched = self._streams.get(key)
        if watched is None:
            # Start the reader where this watcher starts; a later watcher of the
            # same stream joins at the reader's cursor and replays the gap itself.
            watched = self._streams[key] = _Watched(key, after or "0-0", set())
            wake = True
        else:
            wake = False
        watched.watchers.add(watcher)
        try:
            if wake and not self._wake_pending:
                async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
                    await self._wake()
            if self._closing:  # closed while this watch was being set up
                watcher.close()
            self._has_streams.set()
            async with self.setups, asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
                await self._replay(key, watcher, after)
        except (TimeoutError, RedisConnectionError, RedisTimeoutError, OSError) as exc:
            self._unsubscribe(watcher, watched)
            raise Unavailable from exc
        except ResponseError as exc:  # e.g. the task's key holds no stream
            self._unsubscribe(watcher, watched)
            raise Unreadable from exc
        except BaseException:
            self._unsubscribe(watcher, watched)
            raise
        return watcher, watched

    async def _replay(self, key: bytes, watcher: Watcher, after: str | None) -> None:
        # Its own frame, so the raw XRANGE reply is freed once queued as events
        # instead of living as long as the watch.
        if after is not None and parse_id(after) == MAX_ID:
            return  # nothing can follow the largest id (and Redis refuses "(" + it)
        start = f"({after}" if after else "-"
        entries = await self._redis.xrange(key, min=start, max="+")
        watcher.preload([Event.from_entry(entry_id, fields) for entry_id, fields in entries])

    def _unsubscribe(self, watcher: Watcher, watched: _Watched) -> None:
        watched.watchers.discard(watcher)
        if not watched.watchers and self._streams.get(watched.key) is watched:
            del self._streams[watched.key]

    async def _wake(self) -> None:
        # The reader may be blocked in XREAD on the old set of streams; an entry
        # in this process's wake-up stream returns it at once. One wake-up serves
        # every stream added before the reader rebuilds its XREAD: when a thousand
        # clients reconnect at once, that is a few round trips, not one per stream.
        self._wake_pending = True
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self._wakeup_key, {b"w": b"1"}, maxlen=1, approximate=False)
                pipe.expire(self._wakeup_key, 3600)
                await pipe.execute()
        except BaseException:
            self._wake_pending = False
            raise

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            # Idle, the reader waits for a watch; not while Redis is unavailable
            # (it then reads its wake-up stream alone): new watches are refused
            # until a read succeeds, so it must go on trying without them.
            if not self._streams and self.available:
                self._has_streams.clear()
                await self._has_streams.wait()
            self._wake_pending = False  # streams added from here on need a wake-up
            streams = self._cursors()
            try:
                try:
                    async with asyncio.timeout(self._block_ms / 1000 + READ_GRACE_S):
                        response = await self._redis.xread(
                            streams,  # type: ignore[arg-type]
                            count=500,
                            block=self._block_ms,
                        )
                except ResponseError:
                    # Redis refused the read itself, not the connection: one stream's
                    # cursor or key is to blame, and the others must not wait for it.
                    async with asyncio.timeout(4 * READ_GRACE_S):
                        await self._isolate(streams)
                    response = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failing(exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX_S)
                continue
            backoff = 0.1
            self._recovered()
            self._dispatch(response or ())

    def _cursors(self) -> dict[bytes, str]:
        streams = {k: w.cursor for k, w in self._streams.items()}
        streams[self._wakeup_key] = self._wakeup_cursor
        return streams

    async def _isolate(self, streams: dict[bytes, str]) -> None:
        """After a refused XREAD: first the wake-up stream alone (ours, always
        valid: if Redis refuses even that, it refuses every read, no stream is to
        blame, and the error is raised), then the others in halves until every
        refused stream stands alone — log2(n) round trips each, none blocking."""
        wakeup = {self._wakeup_key: streams.pop(self._wakeup_key)}
        self._dispatch(await self._redis.xread(wakeup, count=500) or ())  # type: ignore[arg-type]
        await self._bisect(streams)

    async def _bisect(self, streams: dict[bytes, str]) -> None:
        """Hand out what `streams` hold; end the watchers of those Redis refuses to read."""
        if not streams:
            return
        try:
            response = await self._redis.xread(streams, count=500)  # type: ignore[arg-type]
        except ResponseError as exc:
            if len(streams) == 1:
                (key,) = streams
                self._refuse(key, exc)
                return
            items = list(streams.items())
            half = len(items) // 2
            await self._bisect(dict(items[:half]))
            await self._bisect(dict(items[half:]))
            return
        self._dispatch(response or ())

    def _refuse(self, key: bytes, exc: ResponseError) -> None:
        watched = self._streams.pop(key, None)
        if watched is None:
            return  # nobody watches it any more
        self.refused_reads += 1
        log.error(
            "stream_read_refused",
            stream=key.decode(errors="replace"),
            cursor=watched.cursor[:64],
            error=str(exc)[:200],
            watchers=len(watched.watchers),
        )
        for watcher in list(watched.watchers):
            watcher.close(Unreadable)

    def _dispatch(self, response: Any) -> None:
        for key, entries in response:
            if key == self._wakeup_key:
                self._wakeup_cursor = entries[-1][0].decode()
                continue
            watched = self._streams.get(key)
            if watched is None:
                continue
            # Once per stream and read, not per entry: the lag of its oldest entry.
            metrics.hub_dispatched(entries[0][0], len(entries) * len(watched.watchers))
            for entry_id, fields in entries:
                event = Event.from_entry(entry_id, fields)
                watched.cursor = event.event_id
                for watcher in tuple(watched.watchers):
                    watcher.offer(event)

    def _failing(self, exc: Exception, retry_in: float) -> None:
        # One warning per outage, not one per retry: the retries of a 30 s outage
        # would otherwise fill the log.
        if self.unavailable_since is None:
            self.unavailable_since = time.monotonic()
            self.outages += 1
            log.warning("stream_reader_unavailable", error=type(exc).__name__, retry_in=retry_in)

    def _recovered(self) -> None:
        if self.unavailable_since is not None:
            down_s = round(time.monotonic() - self.unavailable_since, 1)
            self.unavailable_since = None
            log.info("stream_reader_recovered", down_s=down_s)
