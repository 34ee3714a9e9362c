"""Real processes for tests: a private redis-server, `resimply serve`, and `arq`."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

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
    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT)

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
        self.env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "RESIMPLY_DEV": "1",
            "RESIMPLY_DATA_DIR": str(self.data_dir),
            "RESIMPLY_KEY_PREFIX": f"t{self.port}:",
            "LOG_FORMAT": "json",
            "RESIMPLY_RATE_LIMIT_PER_MINUTE": "60",
            **extra_env,
        }
        self.env.pop("SUPABASE_JWT_SECRET", None)
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

    def logs(self) -> str:
        return "\n".join(f"--- {p.log_path.name}\n{p.log()}" for p in self.processes)
