"""Real processes for tests: a private redis-server, `resimply serve`, and `arq`;
and a local video server that holds a download open until a test releases it."""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(check: object, *, timeout: float = 20.0, what: str = "service") -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up in {timeout}s (last error: {last!r})")


@contextlib.contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    """A private redis-server on a free port; under CI its absence is a failure."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("REDIS_URL"):
            yield os.environ["REDIS_URL"]
            return
        message = (
            "redis-server is not installed (apt-get install redis-server) and REDIS_URL is unset"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def ready() -> bool:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")

        wait_for(ready, what="redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log_path: Path, **popen: Any) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            args, env=env, stdout=self._log, stderr=subprocess.STDOUT, **popen
        )

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class Service:
    """`resimply serve` + `arq resimply.worker.WorkerSettings` as real processes."""

    def __init__(self, redis_url: str, tmp: Path, **extra_env: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = tmp / "data"
        base = {k: v for k, v in os.environ.items() if k != "SUPABASE_JWT_SECRET"}
        self.env = {
            **base,
            "REDIS_URL": redis_url,
            "RESIMPLY_DEV": "1",
            "RESIMPLY_DATA_DIR": str(self.data_dir),
            "RESIMPLY_KEY_PREFIX": f"t{self.port}:",
            "LOG_FORMAT": "json",
            "RESIMPLY_RATE_LIMIT_PER_MINUTE": "60",
            # No on-screen text reading unless a test asks for it: it is tested where
            # it matters (test_screen_text, test_drafts_api), and elsewhere it only
            # adds seconds of CPU per task on a loaded machine to tests that time
            # outages, failovers and takeovers.
            "RESIMPLY_OCR_BUDGET_S": "0",
            **extra_env,
        }
        self.tmp = tmp
        self.processes: list[Process] = []

    def start(self, *, workers: int = 1) -> None:
        self.web = self.spawn(
            [str(BIN / "resimply"), "serve", "--host", "127.0.0.1", "--port", str(self.port)], "web"
        )
        for n in range(workers):
            self.spawn([str(BIN / "arq"), "resimply.worker.WorkerSettings"], f"worker{n}")
        wait_for(self._healthy(workers), timeout=30, what="resimply web + worker")

    def spawn(self, args: list[str], name: str) -> Process:
        process = Process(args, self.env, self.tmp / f"{name}.log")
        self.processes.append(process)
        return process

    def _healthy(self, workers: int) -> object:
        def check() -> bool:
            for process in self.processes:
                if process.proc.poll() is not None:
                    raise RuntimeError(f"process exited:\n{process.log()[-3000:]}")
            body = httpx.get(f"{self.base_url}/health", timeout=2).json()
            return bool(body["workers"] >= workers)

        return check

    def token(self, user: str) -> str:
        out = subprocess.run(
            [str(BIN / "resimply"), "token", "--user", user],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    @contextlib.contextmanager
    def running(self) -> Iterator[Service]:
        """Start web + worker, stop them afterwards; print their logs when it fails."""
        try:
            self.start()
            yield self
        except BaseException:
            print(self.logs())
            raise
        finally:
            self.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.log_path.name}\n{p.log()}" for p in self.processes)


class RedisServer:
    """A private redis-server that a test can stop and start again on the same port
    and data directory (with AOF on, as in production)."""

    def __init__(self, tmp: Path, *, aof: bool = True, password: str | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            message = "redis-server is not installed (apt-get install redis-server)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        self.binary = binary
        self.dir = tmp
        self.port = free_port()
        self.password = password
        self.aof = aof
        self.proc: subprocess.Popen[bytes] | None = None
        auth = f":{password}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
        ]
        args += ["--save", "", "--loglevel", "warning", "--logfile", str(self.dir / "redis.log")]
        if self.aof:
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            args += ["--appendonly", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def ready() -> bool:
            assert self.proc is not None and self.proc.poll() is None, "redis-server exited"
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                if self.password:
                    sock.sendall(f"AUTH {self.password}\r\n".encode())
                    sock.recv(64)
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")

        wait_for(ready, what="redis-server")

    def stop(self) -> None:
        """A clean stop (SIGTERM): Redis flushes its AOF, as `docker compose stop` does."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)

    def restart(self) -> None:
        self.stop()
        self.start()


class GatedVideoServer:
    """Serves a video over HTTP: the first bytes at once, the rest only after
    `release()`, so a job sits in its download step as long as a test needs."""

    def __init__(self, video: Path, *, head_bytes: int = 4096) -> None:
        self.body = video.read_bytes()
        self.head_bytes = head_bytes
        self.released = threading.Event()
        self.requests = 0
        self.dropped = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                try:
                    self.wfile.write(outer.body[: outer.head_bytes])
                    self.wfile.flush()
                    outer.released.wait(120)
                    self.wfile.write(outer.body[outer.head_bytes :])
                    self.wfile.flush()
                except OSError:
                    outer.dropped += 1

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/video.mp4"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
