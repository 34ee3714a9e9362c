"""Chaos: one greedy client against `resimply serve` (issue 11, "slow and greedy clients").

`python -m bench.chaos greedy`. A real `resimply serve` (development mode, a
private redis-server, 1,024 file descriptors: a common default soft limit) is
measured twice with `/health` probes on fresh connections, 10 per second:

1. baseline, nobody else connected;
2. while a greedy client holds 1,000 unfinished request heads (reconnecting
   each one that the server closes, after 1 s) and one request body that stops
   after 10 of 100 bytes.

Run A treats the greedy client as a client (no trusted proxy): the per-IP limit
on unfinished heads turns most of it away. Run B trusts it as a proxy naming no
client (exempt from per-client limits, as Caddy would be): only the process-wide
cap below the descriptor limit stands between it and `/health`. Before issue 11
`/health` timed out for 75 s and asyncio logged hundreds of thousands of
"socket.accept() out of system resource" lines.

Printed per run: `/health` latency (max, p99) and failures, baseline vs greedy;
what the greedy client saw (connections closed unanswered, 408, 429, 503, errors);
accept-error log lines and the failures they count; the web process's open
descriptors (max sampled).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench._web import dev_env
from tests.servers import BIN, free_port, redis_server, wait_for

FD_LIMIT = 1024
HEADS = 1_000
BASELINE_S = 8.0
GREEDY_S = 34.0  # the slow body's 30 s timeout, and some
PROBES_PER_S = 10
PROBE_TIMEOUT_S = 5.0
PARTIAL = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "
GREEDY_IP = "127.0.0.2"  # another address than the probes' (127.0.0.1): another client


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as redis_url:
        for name, proxies in (
            ("A: greedy client is a client", "none"),
            ("B: greedy client is a trusted proxy", f"{GREEDY_IP}/32"),
        ):
            print(f"\n-- run {name} --", flush=True)
            run(redis_url, Path(tmp) / name[0], proxies)


def run(redis_url: str, data_dir: Path, trusted_proxies: str) -> None:
    data_dir.mkdir()
    port = free_port()
    env = dev_env(
        redis_url,
        data_dir,
        f"greedy{port}:",
        RESIMPLY_TRUSTED_PROXIES=trusted_proxies,
        LOG_LEVEL="info",
    )
    log_path = data_dir / "web.log"
    with web_process(env, port, log_path) as pid:
        token = subprocess.run(
            [str(BIN / "resimply"), "token", "--user", "greedy"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        baseline, _ = probe(port, pid, BASELINE_S)
        greedy = Greedy(port, token)
        greedy.start()
        under, fds = probe(port, pid, GREEDY_S)
        greedy.stop()
        limits = next(
            (
                json.loads(line)
                for line in log_path.read_text().splitlines()
                if '"connection_limits"' in line
            ),
            {},
        )
    report(baseline, under, greedy, fds, log_path.read_text(), limits)


@contextlib.contextmanager
def web_process(env: dict[str, str], port: int, log_path: Path) -> Iterator[int]:
    def fd_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))

    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(BIN / "resimply"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=fd_limit,
        )
        try:
            wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200)
            yield server.pid
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def probe(port: int, pid: int, seconds: float) -> tuple[list[float | None], int]:
    """`/health` on a fresh connection every 1/PROBES_PER_S s: latencies (None: failed),
    and the most descriptors the web process held meanwhile. Raw sockets, so the
    figure is the server's (an HTTP client library adds its own milliseconds)."""
    latencies: list[float | None] = []
    most_fds = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        ok = health_ok(port)
        elapsed = time.monotonic() - started
        latencies.append(elapsed if ok else None)
        with contextlib.suppress(OSError):
            most_fds = max(most_fds, len(os.listdir(f"/proc/{pid}/fd")))
        time.sleep(max(0.0, 1 / PROBES_PER_S - elapsed))
    return latencies, most_fds


def health_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT_S) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
    except OSError:
        return False
    return answer.startswith(b"HTTP/1.1 200")


class Greedy:
    """HEADS unfinished heads, each reopened 1 s after the server ends it, and one
    slow body; `seen` counts how the server ended them."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.seen: Counter[str] = Counter()
        self.slow_body: str = "still open"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    async def _run(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._body_sent = asyncio.Event()
        self._ready.set()
        tasks = [asyncio.create_task(self._slow_body())]
        await self._body_sent.wait()  # its head in first: it is not an unfinished head
        tasks += [asyncio.create_task(self._hold_a_head()) for _ in range(HEADS)]
        await self._stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _hold_a_head(self) -> None:
        while True:
            try:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", self.port, local_addr=(GREEDY_IP, 0)
                )
            except OSError as exc:
                self.seen[f"connect failed ({type(exc).__name__})"] += 1
                await asyncio.sleep(1)
                continue
            try:
                writer.write(PARTIAL)
                answer = await reader.read(64)
                self.seen[_outcome(answer)] += 1
            except OSError:
                self.seen["reset"] += 1
            finally:
                writer.close()
            await asyncio.sleep(1)

    async def _slow_body(self) -> None:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", self.port, local_addr=(GREEDY_IP, 0)
        )
        writer.write(
            (
                "POST /scrape/async HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {self.token}\r\nContent-Length: 100\r\n\r\n"
            ).encode()
            + b'{"url": "h'
        )
        await writer.drain()
        await asyncio.sleep(0.5)  # the server has read the head by now
        self._body_sent.set()
        started = time.monotonic()
        answer = await reader.read(64)
        self.slow_body = f"{_outcome(answer)} after {time.monotonic() - started:.1f} s"
        writer.close()


def _outcome(answer: bytes) -> str:
    if not answer:
        return "closed unanswered"
    parts = answer.split(b" ", 2)
    return f"HTTP {parts[1].decode()}" if len(parts) > 1 else "garbage"


def report(
    baseline: list[float | None],
    under: list[float | None],
    greedy: Greedy,
    fds: int,
    log: str,
    limits: dict[str, object],
) -> None:
    def line(name: str, latencies: list[float | None]) -> str:
        ok = sorted(x for x in latencies if x is not None)
        failed = len(latencies) - len(ok)
        if not ok:
            return f"  /health {name:9} {len(latencies)} probes, all failed"
        p99 = ok[min(len(ok) - 1, int(len(ok) * 0.99))]
        return (
            f"  /health {name:9} {len(latencies)} probes: max {ok[-1] * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms, median {statistics.median(ok) * 1000:.0f} ms, "
            f"failed {failed}"
        )

    accept_lines = [
        x for x in log.splitlines() if "accept_failing" in x or "out of system resource" in x
    ]
    failures = sum(json.loads(x).get("failures", 1) for x in accept_lines if x.startswith("{"))
    print(
        f"  limits: fd {limits.get('fd_limit')}, connection cap {limits.get('cap')}, "
        f"per IP {limits.get('per_ip')}"
    )
    print(line("baseline", baseline))
    print(line("greedy", under))
    seen = ", ".join(f"{kind} {count}" for kind, count in greedy.seen.most_common())
    print(f"  greedy client saw: {seen}")
    print(f"  slow body (10 of 100 bytes): {greedy.slow_body}")
    print(
        f"  accept-error log lines: {len(accept_lines)} (counting {failures} failed accept() calls)"
    )
    print(f"  web process descriptors, max while greedy: {fds} of {FD_LIMIT}")
