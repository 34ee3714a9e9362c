"""Fan-out benchmark (issue 6): `python -m bench.fanout [--watchers 1000,5000]`.

One web process, N idle-then-live watchers over 500 tasks (clients in separate
processes), a writer XADDing progress messages at a steady rate (RATES: 0.4 and
2 messages a second per task; a busy pipeline sends the latter). Measured:
delivery latency from the writer's write to the client's read (p50 / p99, wall
clock shared on one machine) and RSS per idle connection of the web process:
(RSS with the N watchers connected and settled − RSS before) / N, read from
/proc like `ps` does. The servers, in the same run and on the same Redis:

  hub      `resimply serve`: one XREAD reader per process (resimply.events),
           WebSocket watchers (/ws/{task_id}) on the lean stream protocol
           (resimply.web.stream_server)
  hub-sse  the same server with Server-Sent Events watchers (/events/{task_id}),
           which is what browsers use
  hub-asgi, hub-asgi-sse
           the same server and watchers with RESIMPLY_LEAN_STREAMS=0: the
           streams through Hypercorn and the ASGI endpoints (resimply.web.streams)
  xread    one blocking XREAD connection per watcher (Starlette on Hypercorn)
  pubsub   one pub/sub listener broadcasting every message to every socket

Every row also reports how many Redis connections the server opened meanwhile
(+redis): the pool of
`resimply serve` grows with the number of requests in flight while watchers
connect (each pooled connection is ~11 KB of RSS), which the per-connection
figure includes.
"""

# The drivers block outside the measured sections (set-up, reports) on purpose.
# ruff: noqa: ASYNC220, ASYNC221, ASYNC240

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TASKS = 500
RATES = (200, 1000)  # messages per second over all tasks: 0.4 and 2 per task
SECONDS = 6.0
CLIENT_PROCS = 2


# --- the baseline servers ---------------------------------------------------


def baseline_app(mode: str, redis_url: str) -> Any:
    from redis.asyncio import Redis
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    sockets: set[WebSocket] = set()

    async def per_watcher(ws: WebSocket) -> None:
        await ws.accept()
        redis = Redis.from_url(redis_url)  # its own connection, blocked in XREAD
        key = "bench:s:" + ws.path_params["task_id"]
        cursor = "$"
        try:
            while True:
                response = await redis.xread({key: cursor}, block=0)
                for _, entries in response:
                    for entry_id, fields in entries:
                        cursor = entry_id
                        await ws.send_text(fields[b"d"].decode())
        except (WebSocketDisconnect, OSError):
            pass
        finally:
            await redis.aclose()

    async def broadcast_ws(ws: WebSocket) -> None:
        await ws.accept()
        sockets.add(ws)
        try:
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass
        finally:
            sockets.discard(ws)

    async def listener() -> None:
        redis = Redis.from_url(redis_url)
        pubsub = redis.pubsub()
        await pubsub.subscribe("bench:all")
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            text = message["data"].decode()
            for ws in tuple(sockets):  # the earlier design: every update to every socket
                try:
                    await ws.send_text(text)
                except Exception:
                    sockets.discard(ws)

    async def lifespan(app: Any) -> Any:
        task = asyncio.create_task(listener()) if mode == "pubsub" else None
        yield
        if task:
            task.cancel()

    handler = per_watcher if mode == "xread" else broadcast_ws
    return Starlette(routes=[WebSocketRoute("/ws/{task_id}", handler)], lifespan=lifespan)


def serve_baseline(mode: str, redis_url: str, port: int) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.websocket_ping_interval = 20.0
    asyncio.run(serve(baseline_app(mode, redis_url), config))  # type: ignore[arg-type]


# --- the clients (a separate process) ----------------------------------------


async def clients(port: int, tasks: list[str], count: int, token: str, kind: str, out: str) -> None:
    import aiohttp

    latencies: list[float] = []
    connected = 0
    all_connected = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    # No overall deadline: an SSE response lasts as long as the run.
    timeout = aiohttp.ClientTimeout(total=None, connect=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        def arrived(task_id: str, data: str | bytes) -> None:
            body = json.loads(data)
            if body.get("task_id") == task_id and "ts" in body:
                latencies.append(time.time() - body["ts"])

        async def open_ws(task_id: str) -> Any:
            url = f"ws://127.0.0.1:{port}/ws/{task_id}?token={token}"
            return await session.ws_connect(url, heartbeat=None)

        async def follow_ws(task_id: str, ws: Any) -> None:
            async for msg in ws:
                arrived(task_id, msg.data)

        async def open_sse(task_id: str) -> Any:
            response = await session.get(f"http://127.0.0.1:{port}/events/{task_id}?token={token}")
            if response.status != 200:
                response.release()
                raise RuntimeError(f"SSE answered {response.status}")
            return response

        async def follow_sse(task_id: str, response: Any) -> None:
            async for line in response.content:
                if line.startswith(b"data: "):
                    arrived(task_id, line[6:])

        connect, follow = (open_sse, follow_sse) if kind == "sse" else (open_ws, follow_ws)

        async def one(n: int) -> None:
            task_id = tasks[n % len(tasks)]
            for attempt in range(5):
                try:
                    stream = await connect(task_id)
                    break
                except Exception:
                    await asyncio.sleep(0.2 * (attempt + 1))
            else:
                raise RuntimeError("could not connect")
            nonlocal connected
            connected += 1
            if connected == count:
                all_connected.set()
            await follow(task_id, stream)

        runners = []
        for start in range(0, count, 200):  # connect in waves
            runners += [asyncio.create_task(one(n)) for n in range(start, min(count, start + 200))]
            await asyncio.sleep(0.05)
        await asyncio.wait_for(all_connected.wait(), timeout=120)
        await asyncio.sleep(1.0)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "report"
        Path(out).write_text(json.dumps(latencies))
        print("done", flush=True)
        for runner in runners:
            runner.cancel()


# --- the driver ---------------------------------------------------------------


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def redis_clients(redis: Any) -> int:
    return len(await redis.client_list())


async def run_one(mode: str, watchers: int, rate: int, redis_url: str, tmp: Path) -> dict[str, Any]:
    import httpx
    from redis.asyncio import Redis

    from resimply.keys import Keys
    from tests.servers import BIN, free_port, wait_for

    port = free_port()
    prefix = f"b{port}:"
    keys = Keys(prefix)
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "RESIMPLY_DEV": "1",
        "RESIMPLY_DATA_DIR": str(tmp / "data"),
        "RESIMPLY_KEY_PREFIX": prefix,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "warning",
        "RESIMPLY_RATE_LIMIT_PER_MINUTE": "100000",
        "RESIMPLY_MAX_CONNECTIONS": "20000",
    }
    env.pop("SUPABASE_JWT_SECRET", None)
    log = (tmp / f"{mode}-{watchers}.log").open("wb")
    hub = mode.startswith("hub")
    kind = "sse" if mode.endswith("-sse") else "ws"
    if mode.startswith("hub-asgi"):
        env["RESIMPLY_LEAN_STREAMS"] = "0"
    if hub:
        args = [str(BIN / "resimply"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    else:
        args = [sys.executable, "-m", "bench.fanout", "--serve", mode, "--port", str(port)]
        env["BENCH_REDIS"] = redis_url
    server = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    redis = Redis.from_url(redis_url)
    children: list[subprocess.Popen[bytes]] = []
    try:
        if hub:
            wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200)
            token = subprocess.run(
                [str(BIN / "resimply"), "token", "--user", "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            tasks = []
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            ) as client:
                for _ in range(TASKS):
                    r = await client.post(
                        "/scrape/async", json={"url": f"http://127.0.0.1:9/{os.urandom(6).hex()}"}
                    )
                    tasks.append(r.json()["task_id"])
        else:
            import socket

            def up() -> bool:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True

            wait_for(up)
            token = ""
            tasks = [os.urandom(6).hex() for _ in range(TASKS)]
        await asyncio.sleep(0.5)
        rss_before = rss_kb(server.pid)
        redis_before = await redis_clients(redis)
        outs = []
        per_proc = watchers // CLIENT_PROCS
        for n in range(CLIENT_PROCS):
            out = str(tmp / f"lat-{mode}-{watchers}-{n}.json")
            outs.append(out)
            spec = json.dumps(
                {"port": port, "tasks": tasks, "count": per_proc, "token": token, "kind": kind}
            )
            child = subprocess.Popen(
                [sys.executable, "-m", "bench.fanout", "--client", spec, "--out", out],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            children.append(child)
        for child in children:
            assert child.stdout is not None
            line = await asyncio.to_thread(child.stdout.readline)
            assert line.strip() == b"ready", line
        await asyncio.sleep(2.0)  # the server settles: every watch is set up
        rss_after = rss_kb(server.pid)
        # The clients' own connections are not the server's: count the rest.
        server_redis = await redis_clients(redis) - redis_before
        # Live phase: `rate` messages/s over the tasks, round-robin.
        interval = 1.0 / rate
        sent = 0
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < SECONDS:
            due = int(elapsed * rate) + 1
            while sent < due:
                task_id = tasks[sent % TASKS]
                body = json.dumps({"type": "progress", "task_id": task_id, "ts": time.time()})
                if hub:
                    await redis.xadd(keys.events(task_id), {"t": "progress", "d": body})
                elif mode == "xread":
                    await redis.xadd(f"bench:s:{task_id}", {"d": body})
                else:
                    await redis.publish("bench:all", body)
                sent += 1
            await asyncio.sleep(interval)
        await asyncio.sleep(2.0)  # let the last messages arrive
        latencies: list[float] = []
        for child, out in zip(children, outs, strict=True):
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write(b"report\n")
            child.stdin.flush()
            await asyncio.to_thread(child.stdout.readline)
            latencies += json.loads(Path(out).read_text())
        expected = sent * watchers // TASKS
        return {
            "mode": mode,
            "rate": rate,
            "watchers": watchers,
            "delivered": len(latencies),
            "expected": expected,
            "p50_ms": pct(latencies, 0.5),
            "p99_ms": pct(latencies, 0.99),
            "kb_per_conn": (rss_after - rss_before) / watchers,
            "redis_conns_added": server_redis,
            "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
        }
    finally:
        for child in children:
            child.kill()
            child.wait()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        await redis.aclose()
        log.close()


async def main(counts: list[int], modes: list[str], rates: list[int]) -> None:
    from tests.servers import redis_server

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        with redis_server(tmp) as redis_url:
            for rate in rates:
                for watchers in counts:
                    for mode in modes:
                        row = await run_one(mode, watchers, rate, redis_url, tmp)
                        rows.append(row)
                        print(json.dumps(row), file=sys.stderr, flush=True)
    print(
        f"\nfan-out: {TASKS} tasks, {SECONDS:.0f} s of messages per row, clients in "
        f"{CLIENT_PROCS} processes, {os.cpu_count()} CPUs"
    )
    print(
        f"{'server':<12} {'msg/s':>6} {'watchers':>8} {'delivered':>12} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'KB/conn':>8} {'+redis':>7}"
    )
    print("(delivered < sent: the server fell behind and the rest was still queued at the end)")
    for r in rows:
        print(
            f"{r['mode']:<12} {r['rate']:>6} {r['watchers']:>8} "
            f"{r['delivered']:>6}/{r['expected']:<6}{r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
            f"{r['kb_per_conn']:>8.1f} {r['redis_conns_added']:>7}"
        )
    for rate in rates:
        for watchers in counts:
            by = {r["mode"]: r for r in rows if r["watchers"] == watchers and r["rate"] == rate}
            if "hub" in by and "xread" in by:
                print(
                    f"{rate} msg/s, {watchers} watchers: p99 of one XREAD per watcher / "
                    f"p99 of the hub = {by['xread']['p99_ms'] / by['hub']['p99_ms']:.1f}"
                )
            for lean, asgi in (("hub", "hub-asgi"), ("hub-sse", "hub-asgi-sse")):
                if lean in by and asgi in by:
                    print(
                        f"{rate} msg/s, {watchers} watchers: KB per idle connection, "
                        f"{lean} (lean) {by[lean]['kb_per_conn']:.1f} vs through Hypercorn "
                        f"{by[asgi]['kb_per_conn']:.1f}"
                    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--watchers", default="1000,5000", help="comma-separated watcher counts, one run each"
    )
    parser.add_argument(
        "--rates",
        default=",".join(map(str, RATES)),
        help="comma-separated message rates (per second, over all tasks), one run each",
    )
    parser.add_argument(
        "--modes",
        default="hub,hub-sse,hub-asgi,hub-asgi-sse,xread,pubsub",
        help="comma-separated servers to run",
    )
    # Internal: the benchmark starts its baseline servers and clients this way.
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_baseline(args.serve, os.environ["BENCH_REDIS"], args.port)
    elif args.client:
        spec = json.loads(args.client)
        asyncio.run(
            clients(
                spec["port"], spec["tasks"], spec["count"], spec["token"], spec["kind"], args.out
            )
        )
    else:
        asyncio.run(
            main(
                [int(n) for n in args.watchers.split(",")],
                args.modes.split(","),
                [int(n) for n in args.rates.split(",")],
            )
        )
