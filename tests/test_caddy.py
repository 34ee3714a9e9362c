"""The Caddyfile with Debian's real `caddy`: both variants validate, and Caddy
(`tls internal`, unprivileged, on free high ports) in front of two `resimply
serve` processes and an `arq` worker passes WebSocket and SSE through unbuffered."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from resimply.sample import SAMPLE_VIDEO
from tests.client import TERMINAL
from tests.servers import BIN, Process, Service, free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
CADDYFILE = ROOT / "Caddyfile"
NOBODY = 65534


def caddy_binary() -> str:
    binary = shutil.which("caddy")
    if binary is None:
        message = "caddy is not installed (apt-get install caddy)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


def caddy_env(home: Path, **extra: str) -> dict[str, str]:
    """Caddy's data (certificates, the local CA) and config dirs under `home`."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        **extra,
    }


@pytest.mark.parametrize("tls", ["internal", "ops@example.com"])
def test_both_caddyfile_variants_validate_and_adapt(tmp_path: Path, tls: str) -> None:
    caddy = caddy_binary()
    env = caddy_env(tmp_path, MAIN_DOMAIN="resimply.example", CADDY_TLS=tls)
    validate = subprocess.run(
        [caddy, "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert validate.returncode == 0, validate.stderr
    fmt = subprocess.run(
        [caddy, "fmt", str(CADDYFILE)], env=env, capture_output=True, text=True, timeout=60
    )
    assert fmt.stdout == CADDYFILE.read_text(), "run `caddy fmt --overwrite Caddyfile`"
    adapted = subprocess.run(
        [caddy, "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    config = json.loads(adapted.stdout)
    text = json.dumps(config)
    server = config["apps"]["http"]["servers"]["srv0"]
    routes = server["routes"][0]["handle"][0]["routes"]
    proxies = [h for r in routes for h in r["handle"] if h["handler"] == "reverse_proxy"]
    assert len(proxies) == 2
    streams = next(p for p in proxies if p.get("flush_interval") == -1)
    stream_route = next(r for r in routes if streams in r["handle"])
    assert stream_route["match"] == [{"path": ["/events*", "/ws*", "/wss*"]}]
    assert streams["transport"]["read_timeout"] >= 3600 * 10**9
    for proxy in proxies:
        assert proxy["upstreams"] == [{"dial": "web:8000"}]
        assert proxy["health_checks"]["active"]["uri"] == "/health"
        assert proxy["health_checks"]["passive"]["fail_duration"] > 0
    encode = next(h for r in routes for h in r["handle"] if h["handler"] == "encode")
    assert encode is not None and '"/events*"' in text
    assert '"max_size": 1000000' in text
    assert "Strict-Transport-Security" in text and '"token"' in text
    for logger in config["logging"]["logs"].values():  # access and error logs alike
        fields = logger["encoder"]["fields"]
        assert fields["request>headers>Authorization"] == {"filter": "delete"}
        assert fields["request>uri"]["actions"][0]["parameter"] == "token"
    issuers = json.dumps(config["apps"]["tls"]["automation"]["policies"])
    if tls == "internal":
        assert '"module": "internal"' in issuers
    else:
        assert '"module": "acme"' in issuers and "ops@example.com" in issuers


# --- end to end ------------------------------------------------------------------


class Caddy:
    """`caddy run` as an unprivileged process (nobody, when the tests run as root)."""

    def __init__(self, upstreams: list[str]) -> None:
        self.binary = caddy_binary()
        self.home = Path(tempfile.mkdtemp(prefix="resimply-caddy-"))
        shutil.copy(CADDYFILE, self.home / "Caddyfile")
        self.http_port, self.https_port = free_port(), free_port()
        self.env = caddy_env(
            self.home,
            MAIN_DOMAIN="localhost",
            CADDY_TLS="internal",
            WEB_UPSTREAMS=" ".join(upstreams),
            HTTP_PORT=str(self.http_port),
            HTTPS_PORT=str(self.https_port),
            CADDY_ADMIN=f"127.0.0.1:{free_port()}",
        )
        self.base_url = f"https://localhost:{self.https_port}"
        self.process: Process | None = None

    def start(self) -> None:
        as_root = os.geteuid() == 0
        if as_root:
            for path in [self.home, *self.home.rglob("*")]:
                os.chown(path, NOBODY, NOBODY)
        log = self.home / "caddy.log"
        self.process = Process(
            [
                self.binary,
                "run",
                "--config",
                str(self.home / "Caddyfile"),
                "--adapter",
                "caddyfile",
            ],
            self.env,
            log,
            **({"user": NOBODY, "group": NOBODY, "extra_groups": []} if as_root else {}),
        )
        root = self.home / "data/caddy/pki/authorities/local/root.crt"
        wait_for(root.exists, timeout=30, what="Caddy's local CA")
        # Trust Caddy's local CA, as a laptop user would after `caddy trust`.
        self.ssl = ssl.create_default_context(cafile=str(root))
        wait_for(
            lambda: httpx.get(f"{self.base_url}/health", verify=self.ssl).status_code == 200,
            timeout=30,
            what="Caddy in front of the web processes",
        )

    def log(self) -> str:
        return self.process.log() if self.process else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture
def stack(redis_url: str, tmp_path: Path) -> Iterator[tuple[Service, Caddy]]:
    """Two web processes and Caddy; the worker is started by the test."""
    svc = Service(redis_url, tmp_path)
    caddy: Caddy | None = None
    try:
        svc.start(workers=0)
        second = free_port()
        svc.spawn(
            [str(BIN / "resimply"), "serve", "--host", "127.0.0.1", "--port", str(second)], "web2"
        )
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{second}/health").status_code == 200)
        caddy = Caddy([f"127.0.0.1:{svc.port}", f"127.0.0.1:{second}"])
        caddy.start()
        yield svc, caddy
    except BaseException:
        print(svc.logs(), caddy.log() if caddy else "")
        raise
    finally:
        if caddy is not None:
            caddy.stop()
        svc.stop()


def _when(message: dict[str, Any]) -> float:
    return float(message["timestamp"])  # seconds since the epoch, when it was written


def sse_through(caddy: Caddy, token: str, task_id: str) -> list[tuple[float, dict[str, Any]]]:
    received: list[tuple[float, dict[str, Any]]] = []
    with httpx.stream(
        "GET",
        f"{caddy.base_url}/events/{task_id}",
        params={"token": token},
        headers={"Accept": "text/event-stream", "Accept-Encoding": "gzip, zstd"},
        verify=caddy.ssl,
        timeout=60,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers  # never compressed
        for line in response.iter_lines():
            if line.startswith("data:"):
                received.append((time.time(), json.loads(line.removeprefix("data:"))))
    return received


async def ws_through(
    caddy: Caddy, token: str, task_id: str
) -> tuple[int | None, list[tuple[float, dict[str, Any]]]]:
    received: list[tuple[float, dict[str, Any]]] = []
    url = f"wss://localhost:{caddy.https_port}/ws/{task_id}?token={token}"
    async with websockets.connect(url, ssl=caddy.ssl, open_timeout=10) as ws:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for frame in ws:
                received.append((time.time(), json.loads(frame)))
        return ws.close_code, received


async def test_a_task_over_https_streams_through_caddy_unbuffered(
    stack: tuple[Service, Caddy],
) -> None:
    svc, caddy = stack
    token = svc.token("eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee")
    client = httpx.Client(base_url=caddy.base_url, verify=caddy.ssl, timeout=10)

    # HTTP redirects to HTTPS.
    plain = httpx.get(f"http://localhost:{caddy.http_port}/health", follow_redirects=False)
    assert plain.status_code in (301, 308)
    # (Caddy 2.6 leaves a non-standard HTTPS port out of the redirect.)
    assert plain.headers["location"].startswith("https://localhost")
    assert plain.headers["location"].endswith("/health")

    health = client.get("/health")
    assert health.status_code == 200 and health.json()["redis_connected"] is True
    assert health.headers["strict-transport-security"].startswith("max-age=")
    assert health.headers["x-content-type-options"] == "nosniff"
    assert "server" not in health.headers
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers.get("content-encoding") == "gzip"

    # Both replicas serve.
    for _ in range(20):
        assert client.get("/tasks/active", params={"token": token}).status_code in (200, 401)
    for name in ("web.log", "web2.log"):
        assert "/tasks/active" in (svc.tmp / name).read_text(), name

    # No worker yet: the clients are following before the first message is written.
    submitted = client.post(
        "/scrape/async",
        json={"url": str(SAMPLE_VIDEO)},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert submitted.status_code == 202, submitted.text
    task_id = submitted.json()["task_id"]
    ws = asyncio.create_task(ws_through(caddy, token, task_id))
    sse = asyncio.create_task(asyncio.to_thread(sse_through, caddy, token, task_id))
    await asyncio.sleep(1.0)
    svc.spawn([str(BIN / "arq"), "resimply.worker.WorkerSettings"], "worker0")

    (ws_code, ws_received), sse_received = await asyncio.wait_for(asyncio.gather(ws, sse), 90)
    assert ws_code == 1000
    ws_messages = [m for _, m in ws_received]
    assert ws_messages == [m for _, m in sse_received]
    assert ws_messages[0]["type"] == "progress" and ws_messages[0]["step"] == 1
    assert ws_messages[-1]["type"] in TERMINAL and ws_messages[-1]["status"] == "SUCCESS"
    # The first progress message went through Caddy within a second of being
    # written: nothing on the way buffers the streams.
    for received in (ws_received, sse_received):
        arrived, first = received[0]
        assert arrived - _when(first) < 1.0, (arrived, first)
        assert all(at - _when(m) < 1.0 for at, m in received)

    # The access log has the requests, but not the token.
    wait_for(lambda: f"/ws/{task_id}" in caddy.log(), what="the access log")
    log = caddy.log()
    leaks = [line for line in log.splitlines() if token in line or "Bearer ey" in line]
    assert not leaks, leaks
    assert "REDACTED" in log
    client.close()


def test_metrics_are_served_to_the_internal_network_but_not_through_caddy(
    stack: tuple[Service, Caddy],
) -> None:
    svc, caddy = stack
    direct = httpx.get(f"{svc.base_url}/metrics", timeout=10)
    assert direct.status_code == 200 and "resimply_queue_jobs" in direct.text
    with httpx.Client(base_url=caddy.base_url, verify=caddy.ssl, timeout=10) as client:
        # Spellings that reach /metrics on the web process, had Caddy passed them on.
        for path in ("/metrics", "/METRICS", "/metrics/", "/%6detrics", "/metrics?x=1"):
            response = client.get(path, follow_redirects=True)
            assert response.status_code == 404, path
            assert "resimply_" not in response.text, path
        assert client.get("/health").status_code == 200  # the rest still passes
