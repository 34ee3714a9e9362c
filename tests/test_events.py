"""The stream hub: replay + live from one reader, resume, slow watchers cut off."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from resimply.events import Closing, Event, Lagged, StreamHub
from resimply.keys import Keys


async def publish(redis: Redis, keys: Keys, task_id: str, type_: str, n: int) -> str:
    entry_id: bytes = await redis.xadd(keys.events(task_id), {"t": type_, "d": b'{"n":%d}' % n})
    return entry_id.decode()


async def take(watcher, count: int) -> list[Event]:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(5):
        return [await watcher.next() for _ in range(count)]


async def test_event_json_carries_its_event_id() -> None:
    event = Event.from_entry(b"17-0", {b"t": b"progress", b"d": b'{"a":1}'})
    assert event.data == b'{"a":1,"event_id":"17-0"}'
    assert not event.terminal
    assert Event.from_entry(b"18-0", {b"t": b"completion", b"d": b"{}"}).terminal


async def test_late_watcher_replays_then_follows_live(redis: Redis, key_prefix: str) -> None:
    keys = Keys(key_prefix)
    hub = StreamHub(redis, keys, block_ms=2000)
    await hub.start()
    try:
        await publish(redis, keys, "t1", "progress", 1)
        await publish(redis, keys, "t1", "progress", 2)
        async with hub.watch("t1") as early, hub.watch("t1") as other:
            got = await take(early, 2)
            assert [e.data for e in got] == [
                b'{"n":%d,"event_id":"%s"}' % (n, e.event_id.encode()) for n, e in enumerate(got, 1)
            ]
            await publish(redis, keys, "t1", "completion", 3)
            live = await take(early, 1)
            assert live[0].type == "completion"
            assert [e.type for e in await take(other, 3)] == ["progress", "progress", "completion"]
            assert hub.watcher_count == 2
        assert hub.watcher_count == 0
    finally:
        await hub.stop()


async def test_resume_after_an_event_id_skips_what_was_seen(redis: Redis, key_prefix: str) -> None:
    keys = Keys(key_prefix)
    hub = StreamHub(redis, keys, block_ms=2000)
    await hub.start()
    try:
        first = await publish(redis, keys, "t2", "progress", 1)
        await publish(redis, keys, "t2", "progress", 2)
        async with hub.watch("t2", after=first) as watcher:
            (event,) = await take(watcher, 1)
            assert b'"n":2' in event.data
    finally:
        await hub.stop()


async def test_a_newly_watched_stream_is_read_without_waiting_for_the_block_timeout(
    redis: Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    hub = StreamHub(redis, keys, block_ms=30_000)
    await hub.start()
    try:
        async with hub.watch("a"):
            await asyncio.sleep(0.2)  # the reader is now blocked on stream "a" alone
            async with hub.watch("b") as watcher:
                await publish(redis, keys, "b", "progress", 1)
                async with asyncio.timeout(3):  # far below the 30 s block
                    event = await watcher.next()
                assert b'"n":1' in event.data
    finally:
        await hub.stop()


async def test_a_slow_watcher_is_cut_off_without_holding_back_others(
    redis: Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    hub = StreamHub(redis, keys, buffer_size=5, block_ms=2000)
    await hub.start()
    try:
        async with hub.watch("t3") as slow, hub.watch("t3") as fast:
            for n in range(20):
                await publish(redis, keys, "t3", "progress", n)
                await take(fast, 1)
            with pytest.raises(Lagged):
                await take(slow, 20)
    finally:
        await hub.stop()


async def test_close_ends_every_watch_after_its_buffer_and_refuses_new_ones(
    redis: Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    hub = StreamHub(redis, keys, block_ms=2000)
    await hub.start()
    try:
        first = await publish(redis, keys, "t4", "progress", 1)
        async with hub.watch("t4") as watcher:
            hub.close()
            assert [e.event_id for e in await take(watcher, 1)] == [first]
            with pytest.raises(Closing):
                await take(watcher, 1)
        with pytest.raises(Closing):
            async with hub.watch("t4"):
                pass
    finally:
        await hub.stop()


async def test_live_events_offered_during_the_replay_do_not_hide_it() -> None:
    """The reader may hand a watcher a live event while its XRANGE replay is still
    in flight; the replay must still come out first, in id order, nothing lost."""
    from resimply.events import Watcher

    def event(n: int, type_: str = "progress") -> Event:
        return Event.from_entry(b"%d-0" % n, {b"t": type_.encode(), b"d": b'{"n":%d}' % n})

    watcher = Watcher(limit=10, after=None)
    watcher.offer(event(2))  # live, arrived before the replay returned
    watcher.offer(event(3, "completion"))
    watcher.preload([event(1), event(2)])
    got = [await watcher.next() for _ in range(3)]
    assert [e.event_id for e in got] == ["1-0", "2-0", "3-0"]


async def test_streams_watched_at_once_share_wake_ups_and_all_go_live(
    redis: Redis, key_prefix: str
) -> None:
    """A reconnect storm: many new streams at once, while the reader is blocked for
    far longer than the test waits. Wake-ups are shared (one per rebuild of the
    reader's XREAD, not one per stream), and every stream is still read at once."""
    keys = Keys(key_prefix)
    hub = StreamHub(redis, keys, block_ms=30_000)
    await hub.start()
    wake_ups = 0
    real_wake = hub._wake

    async def counted_wake() -> None:
        nonlocal wake_ups
        wake_ups += 1
        await real_wake()

    hub._wake = counted_wake  # type: ignore[method-assign]
    try:
        async with hub.watch("first"):
            await asyncio.sleep(0.2)  # the reader is now blocked on "first" alone
            names = [f"s{n}" for n in range(50)]
            watches = [hub.watch(name) for name in names]
            watchers = await asyncio.gather(*(w.__aenter__() for w in watches))
            try:
                for name in names:
                    await publish(redis, keys, name, "progress", 1)
                async with asyncio.timeout(3):  # far below the 30 s block
                    events = [await watcher.next() for watcher in watchers]
                assert all(b'"n":1' in event.data for event in events)
            finally:
                for watch in watches:
                    await watch.__aexit__(None, None, None)
        assert wake_ups < 10, wake_ups
    finally:
        await hub.stop()


async def test_an_abandoned_watcher_raises_at_once_and_drops_its_buffer() -> None:
    from resimply.events import Abandoned, Watcher

    watcher = Watcher(limit=10, after=None)
    waiting = asyncio.create_task(watcher.next())
    await asyncio.sleep(0)
    watcher.abandon()  # the client left while the watcher waited
    with pytest.raises(Abandoned):
        await waiting
    watcher = Watcher(limit=10, after=None)
    watcher.offer(Event.from_entry(b"1-0", {b"t": b"progress", b"d": b"{}"}))
    watcher.abandon()  # nobody is left to send the buffered event to
    with pytest.raises(Abandoned):
        await watcher.next()
