"""Redis faults for the outage tests and the chaos scenario: a full Redis (at
`maxmemory` with `noeviction`), a stopped one, and what to look at afterwards
(task statuses, rows in the SQLite recipe store)."""

from __future__ import annotations

import collections
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import redis

from resimply.sample import SAMPLE_VIDEO
from tests.client import auth
from tests.servers import Service

FILLER = "outage-test:filler"
FINISHED = {"SUCCESS", "FAILURE", "CANCELLED"}


def fill(redis_url: str, *, headroom: int = 2_000_000) -> None:
    """Make Redis full: `maxmemory` at what it uses now + `headroom`, then a key
    twice that size, so every write is refused (OOM) until `free` deletes it."""
    client = redis.Redis.from_url(redis_url)
    try:
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory-policy", "noeviction")
        client.set(FILLER, b"x" * (2 * headroom))
        client.config_set("maxmemory", used + headroom)
    finally:
        client.close()


def free(redis_url: str) -> None:
    """Delete the filler (DEL is allowed on a full Redis): writes are taken again."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(FILLER)
    finally:
        client.close()


def video_copy(tmp: Path, name: str) -> str:
    """A local copy of the sample video (with its caption file): its own task."""
    target = tmp / f"{name}.mp4"
    shutil.copy(SAMPLE_VIDEO, target)
    shutil.copy(SAMPLE_VIDEO.with_suffix(".txt"), target.with_suffix(".txt"))
    return str(target)


def statuses(svc: Service, token: str, task_ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for task_id in task_ids:
        response = httpx.get(f"{svc.base_url}/task/{task_id}", headers=auth(token), timeout=10)
        found[task_id] = response.json()["status"] if response.status_code == 200 else "?"
    return found


def wait_finished(svc: Service, token: str, task_ids: list[str], timeout: float) -> float:
    """Wait until every task has finished; returns the monotonic time it happened."""
    deadline = time.monotonic() + timeout
    while True:
        if all(s in FINISHED for s in statuses(svc, token, task_ids).values()):
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"unfinished: {statuses(svc, token, task_ids)}")
        time.sleep(0.2)


def stored_rows(svc: Service) -> collections.Counter[str]:
    """Rows per task_id in the service's SQLite recipe store."""
    path = svc.data_dir / "recipes.sqlite3"
    if not path.exists():
        return collections.Counter()
    with sqlite3.connect(path) as conn:
        rows: list[Any] = conn.execute("SELECT task_id FROM recipes").fetchall()
    return collections.Counter(row[0] for row in rows)


def log_lines(text: str, event: str) -> list[str]:
    return [line for line in text.splitlines() if f'"event": "{event}"' in line]
