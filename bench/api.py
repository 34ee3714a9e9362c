"""API benchmark (issue 6): `python -m bench.api`.

`resimply serve` (no worker) on a private Redis; a load generator in a separate
process (aiohttp, CONCURRENCY requests in flight) drives, for DURATION seconds
each: two plain routes (`GET /no-such-route`, a 404 through the same
middleware, and `GET /`, the landing page; no Redis, no auth), `POST /scrape/async` and
`GET /task/{id}` with valid tokens. Prints requests/s and p50/p99 per route and
each route's rate as a share of the plain route's (target ≥ 40 %).

`--rounds N` measures every route N times, in the same order each round, and
prints medians: each round's shares are taken against that round's plain route,
so load from other processes on the machine that comes and goes between routes
skews the shares less.
"""

# The drivers block outside the measured sections (set-up, reports) on purpose.
# ruff: noqa: ASYNC210, ASYNC221

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CONCURRENCY = 64
DURATION = 8.0
USER = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"


async def load(
    base: str,
    token: str,
    route: str,
    task_ids: list[str],
    duration: float = DURATION,
    concurrency: int = CONCURRENCY,
) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=0)
    deadline = time.monotonic() + duration
    async with aiohttp.ClientSession(base_url=base, connector=connector) as session:

        async def worker(n: int) -> None:
            nonlocal errors
            i = 0
            while time.monotonic() < deadline:
                i += 1
                started = time.perf_counter()
                ok: tuple[int, ...]
                if route == "plain":
                    request = session.get("/")
                    ok = (200,)
                elif route == "notfound":
                    request = session.get("/no-such-route")
                    ok = (404,)
                elif route == "submit":
                    url = f"http://127.0.0.1:9/{n}-{i}-{os.urandom(4).hex()}.mp4"
                    request = session.post("/scrape/async", json={"url": url}, headers=headers)
                    ok = (200, 202)
                else:
                    request = session.get(f"/task/{task_ids[i % len(task_ids)]}", headers=headers)
                    ok = (200,)
                async with request as response:
                    await response.read()
                    if response.status not in ok:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
    latencies.sort()
    return {
        "route": route,
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / duration,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


ROUTES = ("notfound", "plain", "submit", "status")
NAMES = {
    "notfound": "GET /no-such (404)",
    "plain": "GET / (page)",
    "submit": "POST /scrape/async",
    "status": "GET /task/{id}",
}


async def main(args: argparse.Namespace) -> None:
    import httpx

    from bench._web import dev_env, dev_web
    from tests.servers import free_port, redis_server

    rounds: list[dict[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as tmpdir, redis_server(Path(tmpdir)) as redis_url:
        env = dev_env(
            redis_url,
            Path(tmpdir) / "data",
            "api:",
            RESIMPLY_RATE_LIMIT_PER_MINUTE="10000000",
        )
        with dev_web(env, free_port(), Path(tmpdir) / "web.log", USER) as (base, token):
            task_ids = [
                httpx.post(
                    f"{base}/scrape/async",
                    json={"url": f"http://127.0.0.1:9/seed{n}.mp4"},
                    headers={"Authorization": f"Bearer {token}"},
                ).json()["task_id"]
                for n in range(50)
            ]
            for _ in range(args.rounds):
                row: dict[str, dict[str, Any]] = {}
                for route in ROUTES:
                    spec = {
                        "base": base,
                        "token": token,
                        "route": route,
                        "tasks": task_ids,
                        "duration": args.duration,
                        "concurrency": args.concurrency,
                    }
                    out = subprocess.run(
                        [sys.executable, "-m", "bench.api", "--load", json.dumps(spec)],
                        check=True,
                        capture_output=True,
                        text=True,
                    ).stdout
                    row[route] = json.loads(out)
                rounds.append(row)
    report(rounds, args)


def report(rounds: list[dict[str, dict[str, Any]]], args: argparse.Namespace) -> None:
    """Medians over the rounds; a share is taken against its own round's plain route."""
    plain = [max(row["notfound"]["rps"], row["plain"]["rps"]) for row in rounds]  # the faster
    of_rounds = f", median of {len(rounds)} rounds" if len(rounds) > 1 else ""
    print(
        f"\nAPI: one web process, load from a separate process, {args.concurrency} in flight, "
        f"{args.duration:.0f} s per route{of_rounds}, {os.cpu_count()} CPUs"
    )
    print(f"{'route':<22} {'rps':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'of plain':>9}")
    for route in ROUTES:
        rows = [row[route] for row in rounds]
        rps, p50, p99 = (statistics.median(r[k] for r in rows) for k in ("rps", "p50_ms", "p99_ms"))
        share = statistics.median(r["rps"] / p for r, p in zip(rows, plain, strict=True))
        errors = sum(r["errors"] for r in rows)
        print(f"{NAMES[route]:<22} {rps:>8.0f} {p50:>8.1f} {p99:>8.1f} {errors:>7} {share:>8.0%}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="measure every route N times")
    parser.add_argument("--duration", type=float, default=DURATION, help="seconds per route")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="requests in flight")
    parser.add_argument("--load", metavar="SPEC", help=argparse.SUPPRESS)  # the load process
    return parser


if __name__ == "__main__":
    arguments = _parser().parse_args()
    if arguments.load:
        spec = json.loads(arguments.load)
        result = asyncio.run(
            load(
                spec["base"],
                spec["token"],
                spec["route"],
                spec["tasks"],
                spec.get("duration", DURATION),
                spec.get("concurrency", CONCURRENCY),
            )
        )
        print(json.dumps(result))
    else:
        asyncio.run(main(arguments))
