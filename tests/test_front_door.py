"""The front door of `resimply serve` against greedy and slow clients (issue 11).

In-process servers (`resimply.web.server.serve` on a real socket and a real
Redis) with small limits, raw socket clients; and one real `resimply serve`
process with a small descriptor limit, which is what one greedy client used to
exhaust. The ledger, the trusted-proxy rule and the accept-error log are also
checked on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import resource
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from resimply.auth import mint_dev_token
from resimply.settings import Settings, SettingsError
from resimply.web import create_app
from resimply.web.admission import CLOSE, Ledger, TrustedProxies, client_key
from resimply.web.descriptors import ACCEPT_FAILED, AcceptErrorLog, connection_cap
from resimply.web.server import HALF_CLOSED_GRACE_S, hypercorn_config, serve
from tests.servers import BIN, Process, free_port, wait_for

USER = "f00df00d-f00d-4f00-8f00-f00df00df00d"
PARTIAL = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "  # a head that never ends


@contextlib.asynccontextmanager
async def running(
    redis_url: str, tmp_path: Path, key_prefix: str, **env: str
) -> AsyncIterator[Any]:
    settings = Settings.from_env(
        {
            "REDIS_URL": redis_url,
            "RESIMPLY_DEV": "1",
            "RESIMPLY_DATA_DIR": str(tmp_path),
            "RESIMPLY_KEY_PREFIX": key_prefix,
            "RESIMPLY_RATE_LIMIT_PER_MINUTE": "10000",
            **env,
        }
    )
    port = free_port()
    stop = asyncio.Event()
    app = create_app(settings, stopping=stop)
    server = asyncio.create_task(
        serve(app, hypercorn_config(settings, "127.0.0.1", port), shutdown_trigger=stop.wait)
    )
    try:
        async with asyncio.timeout(10):
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                except OSError:
                    await asyncio.sleep(0.05)
        yield port, mint_dev_token(settings, USER)
    finally:
        stop.set()
        await asyncio.wait_for(server, 15)


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], dict[str, Any]]:
    """One HTTP response with a JSON body (Content-Length framed)."""
    async with asyncio.timeout(10):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        body = await reader.readexactly(int(headers["content-length"]))
    return int(lines[0].split()[1]), headers, json.loads(body)


async def closed_without_answer(reader: asyncio.StreamReader) -> bool:
    async with asyncio.timeout(10):
        try:
            return await reader.read() == b""
        except ConnectionResetError:
            return True


def health(extra: str = "") -> bytes:
    return f"GET /health HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode()


# --- unfinished heads --------------------------------------------------------------


async def test_unfinished_heads_beyond_the_per_ip_limit_are_closed_newest_first(
    redis_url: str, tmp_path: Path, key_prefix: str
) -> None:
    async with running(
        redis_url,
        tmp_path,
        key_prefix,
        RESIMPLY_TRUSTED_PROXIES="none",
        RESIMPLY_MAX_PARTIAL_HEADS_PER_IP="4",
    ) as (port, _):
        slow = [await connect(port) for _ in range(4)]
        for _, writer in slow:
            writer.write(PARTIAL)
        one_too_many, _ = await connect(port)
        assert await closed_without_answer(one_too_many)
        # the four older ones are still there: each may finish its request
        for reader, writer in slow:
            writer.write(b"1\r\n\r\n")
            status, _, body = await answer(reader)
            assert status == 200, body
            writer.close()


async def test_a_head_that_does_not_arrive_in_time_gets_408_and_silence_is_closed(
    redis_url: str, tmp_path: Path, key_prefix: str
) -> None:
    async with running(redis_url, tmp_path, key_prefix, RESIMPLY_HEAD_TIMEOUT_S="1") as (port, _):
        reader, writer = await connect(port)
        writer.write(PARTIAL)
        status, headers, body = await answer(reader)
        assert (status, body["error"]) == (408, "request_timeout")
        assert "send the whole request at once" in body["message"]
        assert headers["connection"] == "close"
        assert await closed_without_answer(reader)
        silent, _ = await connect(port)  # a preconnect that never speaks
        assert await closed_without_answer(silent)


async def test_a_head_in_pieces_or_with_bare_lf_is_served(
    redis_url: str, tmp_path: Path, key_prefix: str
) -> None:
    async with running(redis_url, tmp_path, key_prefix) as (port, _):
        reader, writer = await connect(port)
        for piece in (b"GET /hea", b"lth HTTP/1.1\r\nHost: x\r", b"\n", b"\r\n"):
            writer.write(piece)
            await writer.drain()
        assert (await answer(reader))[0] == 200
        reader, writer = await connect(port)
        writer.write(b"GET /health HTTP/1.1\nHost: x\n\n")  # bare LF, as h11 accepts
        assert (await answer(reader))[0] == 200


async def test_a_client_that_half_closes_gets_its_answer_then_the_socket_is_freed(
    redis_url: str, tmp_path: Path, key_prefix: str
) -> None:
    # Hypercorn alone held such a socket for its 75 s keep-alive timeout.
    async with running(redis_url, tmp_path, key_prefix) as (port, _):
        reader, writer = await connect(port)
        writer.write(health())
        writer.write_eof()
        assert (await answer(reader))[0] == 200
        async with asyncio.timeout(HALF_CLOSED_GRACE_S + 5):
            assert await reader.read() == b""


# --- connections per client ---------------------------------------------------------


async def test_connections_beyond_the_per_ip_limit_get_429_with_retry_after(
    redis_url: str, tmp_path: Path, key_prefix: str
) -> None:
    async with running(
        redis_url,
        tmp_path,
        key_prefix,
        RESIMPLY_TRUSTED_PROXIES="none",
        RESIMPLY_MAX_CONNECTIONS_PER_IP="3",
    ) as (port, _):
        kept = []
        for _ in range(3):
            reader, writer = await connect(port)
            writer.write(health())
            assert (await answer(reader))[0] == 200
            kept.append((reader, writer))
        reader, writer = await connect(port)
        writer.write(health())
        status, headers, body = await answer(reader)
        assert (status, body["error"]) == (429, "rate_limited")
        assert "at most 3" in body["message"]
        assert headers["retry-after"] == "5"
        assert await closed_without_answer(reader)
        # a kept-alive connection goes on serving its client
        reader, writer = kept[0]
        writer.write(health())
        assert (await answer(reader))[0] == 200
        # once one closes, its place is free again
        writer.close()
        await writer.wait_closed()

        async def admitted() -> bool:
            reader, writer = await connect(port)
            writer.write(health())
            status = (await answer(reader))[0]
            writer.close()
            return status == 200

        async with asyncio.timeout(20):  # after HALF_CLOSED_GRACE_S
            while not await admitted():
                await asyncio.sleep(0.05)


async def test_behind_a_trusted_proxy_a_stream_counts_for_the_forwarded_client(
    redis_url: str, tmp_path: Path, key_prefix: str
) -> None:
    async with running(
        redis_url,
        tmp_path,
        key_prefix,
        RESIMPLY_TRUSTED_PROXIES="127.0.0.0/8,::1",
        RESIMPLY_MAX_CONNECTIONS_PER_IP="2",
    ) as (port, token):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            created = await client.post(
                "/scrape/async",
                json={"url": "http://127.0.0.1:9/video.mp4"},
                headers={"Authorization": f"Bearer {token}"},
            )
        task_id = created.json()["task_id"]

        async def stream(forwarded: str) -> tuple[int, asyncio.StreamWriter]:
            reader, writer = await connect(port)
            writer.write(
                f"GET /events/{task_id}?token={token} HTTP/1.1\r\nHost: x\r\n"
                f"X-Forwarded-For: {forwarded}\r\n\r\n".encode()
            )
            async with asyncio.timeout(10):
                status_line = await reader.readline()
            return int(status_line.split()[1]), writer

        # the client may forge entries left of the proxy's: only the rightmost counts
        opened = [await stream("203.0.113.7"), await stream("10.9.9.9, 203.0.113.7")]
        assert [status for status, _ in opened] == [200, 200]
        assert (await stream("198.51.100.1, 203.0.113.7"))[0] == 429
        assert (await stream("203.0.113.8"))[0] == 200  # another client
        # the proxy's own requests (no client named) are not limited per client
        for _ in range(4):
            assert (await stream(""))[0] == 200
        for _, writer in opened:
            writer.close()


# --- descriptors -------------------------------------------------------------------


def test_a_greedy_client_cannot_take_every_descriptor(redis_url: str, tmp_path: Path) -> None:
    """A real `resimply serve` with 512 descriptors: 600 unfinished heads from one
    (trusted, so unlimited per client) address; /health still answers, the oldest
    heads are closed to make room, and accept() never fails."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "SUPABASE_JWT_SECRET"},
        "REDIS_URL": redis_url,
        "RESIMPLY_DEV": "1",
        "RESIMPLY_DATA_DIR": str(tmp_path),
        "RESIMPLY_KEY_PREFIX": f"fd{port}:",
        "LOG_FORMAT": "json",
    }

    def small_fd_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))

    web = Process(
        [str(BIN / "resimply"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env,
        tmp_path / "web.log",
        preexec_fn=small_fd_limit,
    )
    greedy: list[socket.socket] = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(f"{base}/health", timeout=2).status_code == 200)
        for _ in range(600):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(PARTIAL)
            greedy.append(sock)
        answers = [httpx.get(f"{base}/health", timeout=5).status_code for _ in range(5)]
        assert answers == [200] * 5
        evicted = sum(1 for sock in greedy if _closed(sock))
        assert evicted >= 600 - connection_cap(512, 100)
        log = web.log()
        assert ACCEPT_FAILED not in log and "accept_failing" not in log
        assert '"cap": 284' in log
    finally:
        for sock in greedy:
            sock.close()
        web.stop()


def _closed(sock: socket.socket) -> bool:
    sock.settimeout(0.2)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def test_connection_cap_keeps_a_reserve() -> None:
    assert connection_cap(512, 100) == 512 - 128 - 100
    assert connection_cap(1024, 100) == 1024 - 128 - 100
    assert connection_cap(65536, 100) == 65536 - 6553 - 100


async def test_failed_accepts_are_one_line_per_interval_with_the_count() -> None:
    loop = asyncio.get_running_loop()
    others: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: others.append(context))
    errors = AcceptErrorLog(loop, interval_s=0.2)
    errors.install()
    try:
        with capture_logs() as logs:
            failure = {"message": ACCEPT_FAILED, "exception": OSError(errno.EMFILE, "Too many")}
            for _ in range(1000):
                loop.call_exception_handler(failure)
            loop.call_exception_handler({"message": "something else"})
            assert len(logs) == 1  # the first failure, at once
            await asyncio.sleep(0.3)  # the interval's timer writes the rest
    finally:
        errors.uninstall()
    assert [(e["event"], e["failures"], e["error"]) for e in logs] == [
        ("accept_failing", 1, "EMFILE"),
        ("accept_failing", 999, "EMFILE"),
    ]
    assert errors.total == 1000
    assert others == [{"message": "something else"}]  # other contexts go where they went


# --- the rules on their own -------------------------------------------------------


class Guest:
    def __init__(self) -> None:
        self.evicted = False

    def evict(self) -> None:
        self.evicted = True


def test_ledger_closes_the_newest_head_beyond_the_per_client_limit() -> None:
    ledger = Ledger(cap=100, per_client=10, partial_per_client=2)
    a, b, c = Guest(), Guest(), Guest()
    assert ledger.arrive(a, "192.0.2.1") is None
    assert ledger.arrive(b, "192.0.2.1") is None
    assert ledger.arrive(c, "192.0.2.1") == CLOSE
    assert ledger.arrive(Guest(), "192.0.2.2") is None  # another client
    assert ledger.arrive(Guest(), None) is None  # a trusted proxy
    ledger.head_done(a)
    assert ledger.arrive(Guest(), "192.0.2.1") is None
    assert not a.evicted and not b.evicted


def test_ledger_at_its_cap_evicts_the_oldest_unfinished_head_then_refuses() -> None:
    ledger = Ledger(cap=3, per_client=10, partial_per_client=10)
    old, done, newer = Guest(), Guest(), Guest()
    for guest in (old, done, newer):
        assert ledger.arrive(guest, "192.0.2.1") is None
    ledger.head_done(done)
    assert ledger.arrive(Guest(), "192.0.2.9") is None
    assert old.evicted and not newer.evicted and not done.evicted
    ledger.leave(old)  # the evicted connection ends
    assert ledger.open == 3
    for guest in list(ledger._partial):
        ledger.head_done(guest)
    refused = ledger.arrive(Guest(), "192.0.2.9")
    assert refused is not None and refused != CLOSE
    assert (refused.http_status, refused.code) == (503, "too_many_connections")


def test_ledger_counts_complete_connections_per_client() -> None:
    ledger = Ledger(cap=100, per_client=2, partial_per_client=10)
    assert ledger.attribute("192.0.2.1") is None
    assert ledger.attribute("192.0.2.1") is None
    refused = ledger.attribute("192.0.2.1")
    assert refused is not None and refused.http_status == 429
    ledger.release("192.0.2.1")
    assert ledger.attribute("192.0.2.1") is None


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # the same /64: one client
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("fe80::1%eth0", "fe80::/64"),
        ("not-an-ip", None),
    ],
)
def test_client_key(ip: str, key: str | None) -> None:
    assert client_key(ip) == key


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.5", "198.51.100.1", "203.0.113.5"),  # not a proxy: XFF ignored
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # forged left entry
        ("10.0.0.2", "198.51.100.1, 10.0.0.3", "198.51.100.1"),  # two proxies
        ("10.0.0.2", None, None),  # the proxy's own request
        ("10.0.0.2", "garbage", None),
        ("::ffff:10.0.0.2", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_trusted_proxy_names_its_client(
    peer: str, forwarded: str | None, client: str | None
) -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    head = b"GET /events/x HTTP/1.1\r\nHost: x\r\n"
    if forwarded is not None:
        head += f"x-forwarded-FOR: {forwarded}\r\n".encode()
    assert proxies.client_ip(peer, head + b"\r\n") == client


@pytest.fixture(autouse=True)
def _restore_fd_limit() -> Iterator[None]:
    # serve() raises this process's soft limit to the hard one; put it back.
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, limits)


def test_trusted_proxies_setting() -> None:
    assert "172.16.0.0/12" in Settings.from_env({}).trusted_proxies
    assert Settings.from_env({"RESIMPLY_TRUSTED_PROXIES": "none"}).trusted_proxies == ()
    assert Settings.from_env({"RESIMPLY_TRUSTED_PROXIES": ""}).trusted_proxies == ()
    parsed = Settings.from_env({"RESIMPLY_TRUSTED_PROXIES": "10.1.2.3, ::1"}).trusted_proxies
    assert parsed == ("10.1.2.3/32", "::1/128")
    with pytest.raises(SettingsError, match="RESIMPLY_TRUSTED_PROXIES"):
        Settings.from_env({"RESIMPLY_TRUSTED_PROXIES": "caddy"})
