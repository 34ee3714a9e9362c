"""API benchmark (issue 6): `python -m bench.api`.

`resimply serve` (no worker) on a private Redis; a load generator in a separate
process (aiohttp, CONCURRENCY requests in flight) drives, for DURATION seconds
each: two plain routes (`GET /no-such-route`, a 404 through the same
middleware, and `GET /`, the landing page; no Redis, no auth), `POST /scrape/async` and
`GET /task/{id}` with valid tokens. Prints requests/s and p50/p99 per route and
each route's rate as a share of the plain route's (target ≥ 40 %).
"""

# The drivers block outside the measured sections (set-up, reports) on purpose.
# ruff: noqa: ASYNC210, ASYNC221

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CONCURRENCY = 64
DURATION = 8.0
USER = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"


async def load(base: str, token: str, route: str, task_ids: list[str]) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=0)
    deadline = time.monotonic() + DURATION
    async with aiohttp.ClientSession(base_url=base, connector=connector) as session:

        async def worker(n: int) -> None:
            nonlocal errors
            i = 0
            while time.monotonic() < deadline:
                i += 1
                started = time.perf_counter()
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

        await asyncio.gather(*(worker(n) for n in range(CONCURRENCY)))
    latencies.sort()
    return {
        "route": route,
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / DURATION,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


async def main() -> None:
    import httpx

    from bench._web import dev_env, dev_web
    from tests.servers import free_port, redis_server

    rows = []
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
            for route in ("notfound", "plain", "submit", "status"):
                spec = json.dumps({"base": base, "token": token, "route": route, "tasks": task_ids})
                out = subprocess.run(
                    [sys.executable, "-m", "bench.api", "--load", spec],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                rows.append(json.loads(out))
    plain = max(rows[0]["rps"], rows[1]["rps"])  # the faster plain route
    print(
        f"\nAPI: one web process, load from a separate process, {CONCURRENCY} in flight, "
        f"{DURATION:.0f} s per route, {os.cpu_count()} CPUs"
    )
    print(f"{'route':<22} {'rps':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'of plain':>9}")
    names = {
        "notfound": "GET /no-such (404)",
        "plain": "GET / (page)",
        "submit": "POST /scrape/async",
        "status": "GET /task/{id}",
    }
    for r in rows:
        print(
            f"{names[r['route']]:<22} {r['rps']:>8.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
            f"{r['errors']:>7} {r['rps'] / plain:>8.0%}"
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--load":
        spec = json.loads(sys.argv[2])
        result = asyncio.run(load(spec["base"], spec["token"], spec["route"], spec["tasks"]))
        print(json.dumps(result))
    else:
        asyncio.run(main())
