"""`make run`'s script on a machine with redis-server but no REDIS_URL: it starts a
private Redis, the web server and an in-process worker, prints a working token
and curl command, and stops everything on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
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
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SUPABASE_JWT_SECRET")}
    env.update(PORT=str(port), REDIS_PORT=str(redis_port), RESIMPLY_DATA_DIR=str(tmp_path))
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
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    # The private Redis went away with it.
    with pytest.raises(OSError):
        import socket

        socket.create_connection(("127.0.0.1", redis_port), timeout=1).close()
