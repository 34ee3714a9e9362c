"""`make run`'s script on a machine with redis-server but no REDIS_URL: it starts a
private Redis, the web server and an in-process worker, prints a working token
and curl command, and stops everything on SIGTERM. A busy port, or a
redis-server that cannot start, is one line that says what to type instead."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent


def test_run_script_serves_the_sample_with_an_in_process_worker(tmp_path: Path) -> None:
    if not (ROOT / ".venv" / "bin" / "resimply").exists():
        pytest.fail("make run uses .venv: run `make test`, which creates it")
    port, redis_port = free_port(), free_port()
    # The default data directory (under HOME), as a newcomer has it: `resimply
    # token` run separately must mint tokens this server accepts.
    env = script_env(tmp_path, PORT=str(port), REDIS_PORT=str(redis_port))
    log = (tmp_path / "run.log").open("w+")
    proc = subprocess.Popen(
        ["bash", "scripts/run-dev.sh"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: httpx.get(f"{base}/health").json()["workers"] == 1, timeout=40, what="make run"
        )
        banner = (tmp_path / "run.log").read_text()
        token = re.search(r"export TOKEN=(\S+)", banner)
        curl = re.search(r"curl -s -X POST .*", banner)
        assert token and curl, banner
        sample = re.search(r'"url": "([^"]+)"', curl.group(0))
        assert sample and Path(sample.group(1)).exists()
        headers = {"Authorization": f"Bearer {token.group(1)}"}
        task_id = httpx.post(
            f"{base}/scrape/async", json={"url": sample.group(1)}, headers=headers
        ).json()["task_id"]
        deadline = time.monotonic() + 60
        while (
            status := httpx.get(f"{base}/task/{task_id}", headers=headers).json()["status"]
        ) not in ("SUCCESS", "FAILURE") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == "SUCCESS"
        # The README's other way to get a token: same data directory, same secret.
        minted = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "resimply"), "token"],
            env={**env, "RESIMPLY_DEV": "1"},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert minted.returncode == 0, minted.stderr
        other = {"Authorization": f"Bearer {minted.stdout.strip()}"}
        assert httpx.get(f"{base}/task/{task_id}", headers=other).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    # The private Redis went away with it.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", redis_port), timeout=1).close()


def script_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "SUPABASE_JWT_SECRET", "RESIMPLY_DATA_DIR")
    }
    return {**env, "HOME": str(home), **extra}


def run_script(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/run-dev.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The script's whole output, which must be a single line on stderr."""
    assert result.returncode != 0 and result.stdout == "", result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_busy_web_port_is_one_line_with_the_fix(tmp_path: Path) -> None:
    redis_port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_script(script_env(tmp_path, PORT=str(port), REDIS_PORT=str(redis_port)))
    line = one_line(result)
    assert f"port {port}" in line and f"PORT={port + 1} make run" in line, line
    # Nothing was started: no private Redis, no token minted.
    assert not (tmp_path / ".local").exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", redis_port), timeout=1).close()


def test_a_busy_redis_port_is_one_line_with_the_fix(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        redis_port = busy.getsockname()[1]
        result = run_script(script_env(tmp_path, PORT=str(free_port()), REDIS_PORT=str(redis_port)))
    line = one_line(result)
    assert f"REDIS_PORT={redis_port + 1} make run" in line, line


def test_a_redis_server_that_cannot_start_is_one_line(tmp_path: Path) -> None:
    """The real redis-server, given a setting it refuses, exits at once."""
    real = shutil.which("redis-server")
    if real is None:
        pytest.fail("redis-server is needed (apt-get install redis-server)")
    shim = tmp_path / "bin" / "redis-server"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {real} "$@" --maxmemory not-a-size\n')
    shim.chmod(0o755)
    env = script_env(tmp_path, PORT=str(free_port()), REDIS_PORT=str(free_port()))
    env["PATH"] = f"{shim.parent}:{env['PATH']}"
    line = one_line(run_script(env))
    assert line.startswith("make run: redis-server could not start"), line
    assert "REDIS_PORT=" in line


def test_serve_on_a_busy_port_says_so_in_one_line(tmp_path: Path) -> None:
    """Should the port be taken between the check and the start: still one line."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "resimply"), "serve", "--port", str(port)],
            env=script_env(tmp_path, RESIMPLY_DEV="1", REDIS_URL="redis://127.0.0.1:1/0"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    line = one_line(result)
    assert "cannot listen" in line and f"--port {port + 1}" in line, line
