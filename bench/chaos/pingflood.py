"""A WebSocket client that floods pings and never reads (issue 11): what it costs.

    python -m bench.chaos pingflood

A real `resimply serve` (default settings) on a private redis-server, one
queued task, and clients in this process over raw sockets:

* baseline: one ordinary idle WebSocket client on the task, for `SECONDS`;
* flood: one client whose socket takes almost nothing (4 KB receive buffer),
  sending 125-byte pings as fast as the server takes them and reading nothing,
  until the server cuts it off or `FLOOD_S` pass;

each on the lean stream path and, for comparison, on Hypercorn's
(`RESIMPLY_LEAN_STREAMS=0`). Printed: the web process's RSS growth (VmRSS from
/proc) during each, what the flooder got to send, and when it was cut off; then
the RSS per idle stream with `IDLE` WebSocket and SSE clients open.

Before issue 11 the lean path answered every ping into an unbounded write
buffer and never stopped reading: +42 MB after 10 s in this scenario (+90 MB in
12 s in the issue's attack). Now reading
pauses while writes are paused and the pings in between get one pong, so TCP
holds the flood back in the client's own buffers, and the stream send timeout
(`RESIMPLY_STREAM_SEND_TIMEOUT_S`, 10 s) cuts the client off.
"""

# A benchmark driver: blocking set-up outside the measured loops is fine.

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench._web import dev_env
from tests.servers import BIN, free_port, redis_server, wait_for
from tests.ws_wire import OP_PING, client_frame

SECONDS = 10.0  # the baseline's length, and the flood's before the cut-off is awaited
FLOOD_S = 16.0  # at most: the default send timeout (10 s) plus the sweep's period
IDLE = 1000
USER = "f100d000-0000-4000-8000-00000000f100"
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
# One user on one address opens every stream here: room for them all.
LIMITS = {
    "RESIMPLY_MAX_CONNECTIONS": "5000",
    "RESIMPLY_STREAMS_PER_USER": "5000",
    "RESIMPLY_MAX_CONNECTIONS_PER_IP": "5000",
}


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


@contextlib.contextmanager
def web(redis_url: str, tmp: Path, **extra: str) -> Iterator[tuple[int, int, str, str]]:
    """`resimply serve`: its pid, port, a token and a queued task of USER's."""
    port = free_port()
    env = dev_env(redis_url, tmp, f"flood{port}:", **extra)
    with (tmp / f"web{port}.log").open("wb") as log:
        server = subprocess.Popen(
            [str(BIN / "resimply"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: httpx.get(f"{base}/health", timeout=2).status_code == 200)
            token = subprocess.run(
                [str(BIN / "resimply"), "token", "--user", USER],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            response = httpx.post(
                f"{base}/scrape/async",
                json={"url": f"http://127.0.0.1:9/{uuid.uuid4().hex}.mp4"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            response.raise_for_status()
            yield server.pid, port, token, response.json()["task_id"]
        finally:
            server.terminate()
            server.wait(15)


async def open_stream(port: int, token: str, task_id: str, *, ws: bool = True) -> socket.socket:
    """A raw client socket with its stream open (the server's answer head read)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    if ws:
        head = (
            f"GET /ws/{task_id}?token={token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
    else:
        head = f"GET /events/{task_id}?token={token} HTTP/1.1\r\nHost: x\r\n\r\n"
    await loop.sock_sendall(sock, head.encode())
    answer = b""
    async with asyncio.timeout(30):
        while b"\r\n\r\n" not in answer:
            chunk = await loop.sock_recv(sock, 4096)
            if not chunk:
                raise RuntimeError("the server closed the stream at once")
            answer += chunk
    return sock


class Sampler:
    """The web process's RSS every 0.2 s while a phase runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = rss_kb(pid)
        self.peak = self.start
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_kb(self.pid))
            await asyncio.sleep(0.2)

    def stop(self) -> tuple[float, float]:
        """RSS growth at the peak and at the end, MB."""
        self._task.cancel()
        end = rss_kb(self.pid)
        self.peak = max(self.peak, end)
        return (self.peak - self.start) / 1024, (end - self.start) / 1024


async def idle_client(pid: int, port: int, token: str, task_id: str) -> str:
    sock = await open_stream(port, token, task_id)
    sampler = Sampler(pid)
    await asyncio.sleep(SECONDS)  # an idle client: connected, reading when there is something
    peak, _ = sampler.stop()
    sock.close()
    return f"RSS +{peak:5.1f} MB at the peak over {SECONDS:.0f} s"


async def flood(pid: int, port: int, token: str, task_id: str) -> str:
    sock = await open_stream(port, token, task_id)
    loop = asyncio.get_running_loop()
    chunk = client_frame(OP_PING, b"p" * 125) * 512  # 64 KiB of pings
    sent = 0
    at_10s: float | None = None
    cut_off: float | None = None
    sampler = Sampler(pid)
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < FLOOD_S:
        if at_10s is None and elapsed >= SECONDS:
            at_10s = (max(sampler.peak, rss_kb(pid)) - sampler.start) / 1024
        try:
            async with asyncio.timeout(0.5):
                await loop.sock_sendall(sock, chunk)
            sent += len(chunk)
        except TimeoutError:
            continue  # TCP's window is full: the server has stopped reading us
        except OSError:
            cut_off = time.monotonic() - started
            break
    peak, _ = sampler.stop()
    sock.close()
    ended = f"cut off after {cut_off:4.1f} s" if cut_off else f"not cut off in {FLOOD_S:.0f} s"
    grown = f"{at_10s:5.1f}" if at_10s is not None else "  n/a"
    return f"RSS +{grown} MB after 10 s, +{peak:5.1f} MB at the peak; sent {sent / 1e6:6.1f} MB; {ended}"


async def per_idle_stream(
    pid: int, port: int, token: str, task_id: str, *, ws: bool, held: list[socket.socket]
) -> float:
    """(RSS with IDLE more streams open − RSS before) / IDLE, KB; warmed up first.
    The streams stay open (in `held`), so the next measure cannot reuse their memory."""
    held += [await open_stream(port, token, task_id, ws=ws) for _ in range(100)]
    await asyncio.sleep(1)
    before = rss_kb(pid)
    held += [await open_stream(port, token, task_id, ws=ws) for _ in range(IDLE)]
    await asyncio.sleep(2)  # set-up tasks ended, buffers settled
    return (rss_kb(pid) - before) / IDLE


async def scenario(redis_url: str, tmp: Path) -> None:
    for path, extra in (("lean", {}), ("hypercorn", {"RESIMPLY_LEAN_STREAMS": "0"})):
        with web(redis_url, tmp, **LIMITS, **extra) as (pid, port, t, task):
            print(f"{path:9} idle client  : {await idle_client(pid, port, t, task)}", flush=True)
            print(f"{path:9} ping flood   : {await flood(pid, port, t, task)}", flush=True)
            if path == "lean":
                held: list[socket.socket] = []
                ws = await per_idle_stream(pid, port, t, task, ws=True, held=held)
                sse = await per_idle_stream(pid, port, t, task, ws=False, held=held)
                for sock in held:
                    sock.close()
                print(
                    f"{path:9} RSS per idle stream ({IDLE}): WebSocket {ws:.1f} KB, SSE {sse:.1f} KB"
                )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pingflood-") as name:
        tmp = Path(name)
        with redis_server(tmp) as redis_url:
            asyncio.run(scenario(redis_url, tmp))
    # This scenario on the main before issue 11 (hand-written framing, no flow control).
    print(
        "(before: lean ping flood +42 MB after 10 s, +47 MB at the peak, 58 MB sent, cut off "
        "after 11 s; RSS per idle stream: WebSocket 2.3 KB, SSE 2.4 KB; the issue saw +90 MB "
        "in 12 s)"
    )


if __name__ == "__main__":
    main()
    os._exit(0)
