"""What the metrics hooks cost on the hot paths: `python -m bench.metrics`.

The hub's dispatch (one stream entry per read handed to W watchers:
`StreamHub._dispatch`, with `metrics.hub_dispatched` once per stream and read) and a scrape of a web process's series
(`metrics.render`), each against a baseline in the same run: the same dispatch
with the hook replaced by a no-op. In process, no Redis: the figures are the
CPU cost of the code, not of I/O.
"""

from __future__ import annotations

import argparse
import statistics
import time

from resimply import events, metrics
from resimply.events import StreamHub, Watcher, _Watched
from resimply.keys import Keys

Entry = tuple[bytes, dict[bytes, bytes]]


def _entries(n: int) -> list[Entry]:
    now_ms = int(time.time() * 1000)
    body = b'{"type":"progress","step":3,"details":"Processing video","fraction":0.5}'
    return [(b"%d-%d" % (now_ms, i), {b"t": b"progress", b"d": body}) for i in range(n)]


def _dispatch_once(hub: StreamHub, key: bytes, batch: list[Entry], watchers: int) -> float:
    """Seconds per entry of `StreamHub._dispatch` to `watchers` watchers, one entry per read."""
    group = {Watcher(limit=len(batch) + 1, after=None) for _ in range(watchers)}
    hub._streams[key] = _Watched(key, "0-0", group)
    # One entry per read, as a live stream mostly is (the hook runs once per read).
    reads = [[(key, [entry])] for entry in batch]
    started = time.perf_counter()
    for read in reads:
        hub._dispatch(read)
    return (time.perf_counter() - started) / len(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    hub = StreamHub(None, Keys("bench:"))  # type: ignore[arg-type]  # no Redis: dispatch only
    key = b"bench:events:{t}"
    batch = _entries(args.entries)
    real = metrics.hub_dispatched

    def no_op(oldest_id: bytes, messages: int) -> None:
        return None

    print("hub dispatch, µs per entry (median of interleaved rounds)")
    print(f"{'watchers':>9} {'no-op hook':>11} {'metrics':>9} {'overhead':>9}")
    for watchers in (1, 10, 100):
        base, hooked = [], []
        for _ in range(args.rounds):  # interleaved: a noisy machine hits both alike
            events.metrics.hub_dispatched = no_op  # type: ignore[attr-defined]
            base.append(_dispatch_once(hub, key, batch, watchers))
            events.metrics.hub_dispatched = real  # type: ignore[attr-defined]
            hooked.append(_dispatch_once(hub, key, batch, watchers))
        b, h = statistics.median(base), statistics.median(hooked)
        print(f"{watchers:>9} {b * 1e6:>11.2f} {h * 1e6:>9.2f} {(h - b) * 1e6:>+8.2f}")
    calls = 20_000
    started = time.perf_counter()
    for _ in range(calls):
        real(batch[0][0], 10)
    hook_us = (time.perf_counter() - started) / calls * 1e6
    print(f"the hook alone: {hook_us:.2f} µs per call")
    scrapes = []
    for _ in range(50):
        started = time.perf_counter()
        body = metrics.render()
        scrapes.append(time.perf_counter() - started)
    lines = body.count(b"\n")
    print(
        f"render(): {statistics.median(scrapes) * 1e3:.2f} ms median for "
        f"{len(body)} bytes ({lines} lines)"
    )


if __name__ == "__main__":
    main()
