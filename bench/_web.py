"""A `resimply serve` process in development mode, for benchmarks that drive it."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.servers import BIN, wait_for


def dev_env(redis_url: str, data_dir: Path, prefix: str, **extra: str) -> dict[str, str]:
    """The environment of a development-mode service on `redis_url`, quiet logs."""
    return {
        **{k: v for k, v in os.environ.items() if k != "SUPABASE_JWT_SECRET"},
        "REDIS_URL": redis_url,
        "RESIMPLY_DEV": "1",
        "RESIMPLY_DATA_DIR": str(data_dir),
        "RESIMPLY_KEY_PREFIX": prefix,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "warning",
        **extra,
    }


@contextlib.contextmanager
def dev_web(env: dict[str, str], port: int, log_path: Path, user: str) -> Iterator[tuple[str, str]]:
    """Start `resimply serve` on `port`; yield its base URL and a token for `user`."""
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(BIN / "resimply"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: httpx.get(f"{base}/health").status_code == 200)
            token = subprocess.run(
                [str(BIN / "resimply"), "token", "--user", user],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            yield base, token
        finally:
            server.terminate()
            server.wait(15)
