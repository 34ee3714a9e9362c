"""Capacity of Redis per task and per watcher (issue 16): `python -m bench.capacity`.

What an operator sizes Redis (and the recipe store) by, measured against a
private redis-server:

- memory per task while it waits in the queue, and once finished (the task
  record with its result and the stream of its progress messages, kept
  RESIMPLY_TASK_TTL_S; arq's result, kept 5 min) and per extraction-cache entry
  (kept RESIMPLY_CACHE_TTL_S): `MEMORY USAGE` of every key, by kind, and `INFO
  memory`'s `used_memory` before and after;
- in the recipe store (not Redis): bytes per draft (a failed task's reading,
  kept RESIMPLY_DRAFT_TTL_S) and per saved recipe, the `length(data)` of the
  SQLite rows the run wrote (the JSON document each holds, as Supabase's
  table does), and the SQLite file's size;
- Redis commands per task (`INFO commandstats`: the commands a client sends and
  the ones the task scripts run) and Redis CPU per task (`INFO cpu`: CPU time, not
  wall time, so figures hold on a loaded machine);
- per open stream (SSE watcher): Redis memory and connections (the stream hub
  reads for every watcher of a web process through one connection), the web
  process's RSS, and Redis commands per second while they wait.

TASKS tasks go through the real pipeline: `resimply serve` takes the submissions
(`POST /scrape/async`), WATCHERS SSE clients (`GET /events/{id}`) wait on them,
then one arq worker process (the production worker options, local providers with
no upstream latency; the extraction cache is on) runs them to the end while the
watchers read every message. A share of the tasks fails in the extractor
(`extraction_failed`), which keeps a draft with the video's frames, as a
failed import does. Every video is a copy of the bundled sample (15 s, five
scenes, with a caption), so the records hold a real recipe. The baseline of each
figure is the same Redis before that phase, in the same run.
"""

# The driver blocks outside the measured sections (set-up, reports) on purpose.
# ruff: noqa: ASYNC240

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

USER = "dddddddd-dddd-4ddd-8ddd-dddddddddddd"
PREFIX = "cap:"
FAIL_MARK = "capacity-bench: fail this extraction"


@dataclasses.dataclass
class Snapshot:
    """What Redis says about itself at one moment. Its counters are read before and
    after the key scan, so that a difference between two snapshots (`between`)
    leaves out this benchmark's own `MEMORY USAGE` calls and their CPU."""

    used_memory: int
    calls: Counter[str]  # before the scan
    cpu_s: float
    calls_after: Counter[str]  # after it
    cpu_after_s: float
    clients: int
    keys: dict[str, list[int]]  # kind → MEMORY USAGE of each key


def between(a: Snapshot, b: Snapshot) -> tuple[Counter[str], float]:
    """Redis commands (by name) and Redis CPU seconds from snapshot `a` to `b`."""
    return b.calls - a.calls_after, b.cpu_s - a.cpu_after_s


def counters(redis: Any) -> tuple[Counter[str], float]:
    calls: Counter[str] = Counter()
    for name, values in redis.info("commandstats").items():
        command = name.removeprefix("cmdstat_")
        if command.split("|")[0] in ("info", "memory", "scan", "client"):
            continue  # this benchmark's own reads
        calls[command] = int(values["calls"])
    cpu = redis.info("cpu")
    return calls, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def kind_of(key: str) -> str:
    """The kind of a key, from `resimply/keys.py`'s names and arq's."""
    if key.startswith("arq:"):
        return "arq:" + key.split(":")[1]  # job, result, in-progress, retry
    if key.startswith(PREFIX):
        return key[len(PREFIX) :].split(":")[0]
    return key.split(":")[0]


def snapshot(redis: Any) -> Snapshot:
    calls, cpu_s = counters(redis)
    memory = redis.info("memory")
    keys: dict[str, list[int]] = {}
    for raw in redis.scan_iter(count=1000):
        key = raw.decode()
        size = redis.memory_usage(key, samples=0)
        if size is not None:
            keys.setdefault(kind_of(key), []).append(int(size))
    calls_after, cpu_after_s = counters(redis)
    return Snapshot(
        used_memory=int(memory["used_memory"]),
        calls=calls,
        cpu_s=cpu_s,
        calls_after=calls_after,
        cpu_after_s=cpu_after_s,
        clients=int(redis.info("clients")["connected_clients"]),
        keys=keys,
    )


def key_bytes(snap: Snapshot, *kinds: str) -> int:
    return sum(sum(snap.keys.get(k, [])) for k in kinds)


def key_count(snap: Snapshot, kind: str) -> int:
    return len(snap.keys.get(kind, []))


# -- the worker process --------------------------------------------------------


class _FailMarked:
    """The extractor, failing (as a model that cannot read a video does) on captions
    that carry FAIL_MARK; every other call goes to the real one."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.last_frames: list[int] = []  # bytes of each video's last frame (the cache's thumbnail)

    async def extract(self, data: Any, progress: Any) -> Any:
        from resimply.errors import ExtractionFailed

        if data.frames:
            self.last_frames.append(len(data.frames[-1].jpeg))
        if data.caption and FAIL_MARK in data.caption:
            raise ExtractionFailed()
        return await self._inner.extract(data, progress)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def run_worker(out: str) -> None:
    """The production worker options in burst mode; CPU seconds of the worker and
    its media processes, per job."""
    from arq.worker import Worker

    from bench.worker import _cpu_s
    from resimply.settings import Settings
    from resimply.worker import worker_options

    options = worker_options(Settings.from_env())
    startup = options["on_startup"]
    wrapped: list[_FailMarked] = []

    async def on_startup(ctx: dict[str, Any]) -> None:
        await startup(ctx)
        deps = ctx["deps"]
        wrapped.append(_FailMarked(deps.extractor))
        ctx["deps"] = dataclasses.replace(deps, extractor=wrapped[0])

    options.update(on_startup=on_startup, burst=True)
    worker = Worker(**options)
    main_before, pool_before = _cpu_s()
    try:
        await worker.main()
        main_after, pool_after = _cpu_s()
    finally:
        await worker.close()
    jobs = max(1, worker.jobs_complete)
    Path(out).write_text(
        json.dumps(
            {
                "jobs": worker.jobs_complete,
                "failed": worker.jobs_failed,
                "cpu_ms_per_task": (main_after - main_before + pool_after - pool_before)
                * 1000
                / jobs,
                "pool_cpu_ms_per_task": (pool_after - pool_before) * 1000 / jobs,
                "last_frame_bytes": max(wrapped[0].last_frames, default=0) if wrapped else 0,
            }
        )
    )


# -- watchers ------------------------------------------------------------------


class Watchers:
    """SSE clients on raw sockets, read by one thread until the server ends each
    stream (after the task's terminal message)."""

    def __init__(self, port: int, token: str, task_ids: list[str]) -> None:
        self.sockets: list[socket.socket] = []
        self.bytes = 0
        self.ended = 0
        for task_id in task_ids:
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(
                f"GET /events/{task_id}?token={token} HTTP/1.1\r\nHost: x\r\n"
                "Accept: text/event-stream\r\n\r\n".encode()
            )
            self.sockets.append(s)
        self._selector = selectors.DefaultSelector()
        for s in self.sockets:
            s.setblocking(False)
            self._selector.register(s, selectors.EVENT_READ)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set() and self._selector.get_map():
            for key, _ in self._selector.select(0.2):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    self.bytes += len(data)
                else:
                    self._selector.unregister(s)
                    s.close()
                    self.ended += 1

    def wait_ended(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.ended < len(self.sockets) and time.monotonic() < deadline:
            time.sleep(0.2)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for s in self.sockets:
            s.close()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def web_pid(port: int) -> int:
    """The `resimply serve --port PORT` process (started by bench._web.dev_web)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in args and str(port).encode() in args:
            return int(entry.name)
    raise RuntimeError("web process not found")


# -- the driver ----------------------------------------------------------------


def cache_entry_bytes(redis: Any, result_json: bytes, thumbnail_bytes: int) -> int:
    """MEMORY USAGE of an extraction-cache entry holding this task's recipe and a
    thumbnail of the size of the video's last frame, written as `pipeline.cache`
    writes it (local files are not cached: they have no platform id)."""
    import msgspec

    from resimply.models import Recipe
    from resimply.pipeline.cache import CachedExtraction

    recipe = msgspec.convert(json.loads(result_json)["recipe"], Recipe)
    entry = CachedExtraction(
        recipe=recipe,
        thumbnail=os.urandom(thumbnail_bytes) or None,  # JPEG bytes do not compress either
        evidence=["caption", "frames"],
        created_at=time.time(),
    )
    key = f"{PREFIX}xcache:bench:entry"
    redis.set(key, msgspec.msgpack.encode(entry), ex=60)
    size = int(redis.memory_usage(key, samples=0))
    redis.delete(key)
    return size


@dataclasses.dataclass
class StoreSizes:
    """What the run left in the recipe store (SQLite): rows and their documents."""

    drafts: list[int]  # length(data) of each draft row: its JSON document
    recipes: list[int]  # length(data) of each recipe row
    file_bytes: int  # the database file (with its WAL), pages and indexes included


def store_sizes(path: Path) -> StoreSizes:
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:

        def lengths(table: str) -> list[int]:
            try:
                rows = conn.execute(f"SELECT length(data) FROM {table}").fetchall()
            except sqlite3.OperationalError:  # no such table
                return []
            return [int(n) for (n,) in rows]

        drafts, recipes = lengths("drafts"), lengths("recipes")
    finally:
        conn.close()
    files = [path, path.with_name(path.name + "-wal")]
    return StoreSizes(drafts, recipes, sum(f.stat().st_size for f in files if f.exists()))


def per(value: float, count: int) -> float:
    return value / count if count else float("nan")


def main(tasks: int, watchers: int, fail_share: float, ocr_budget_s: str | None) -> None:
    import httpx
    import redis as redis_sync

    from bench._web import dev_env, dev_web
    from resimply.sample import SAMPLE_VIDEO
    from tests.servers import free_port, redis_server

    failing = round(tasks * fail_share)
    with tempfile.TemporaryDirectory() as tmpdir, redis_server(Path(tmpdir)) as redis_url:
        tmp = Path(tmpdir)
        redis = redis_sync.Redis.from_url(redis_url)
        videos = tmp / "videos"
        videos.mkdir()
        caption = SAMPLE_VIDEO.with_suffix(".txt").read_text()
        for n in range(tasks):
            shutil.copy(SAMPLE_VIDEO, videos / f"v{n}.mp4")
            text = caption if n >= failing else f"{caption}\n{FAIL_MARK}\n"
            (videos / f"v{n}.txt").write_text(text)
        port = free_port()
        env = dev_env(
            redis_url,
            tmp / "data",
            PREFIX,
            RESIMPLY_RATE_LIMIT_PER_MINUTE="1000000",
            RESIMPLY_STREAMS_PER_USER="1000000",
            RESIMPLY_MAX_CONNECTIONS_PER_IP="1000000",
            RESIMPLY_MAX_CONNECTIONS=str(watchers + 1000),
            RESIMPLY_WORKER_MAX_JOBS="100",
            **({"RESIMPLY_OCR_BUDGET_S": ocr_budget_s} if ocr_budget_s is not None else {}),
        )
        with (
            dev_web(env, port, tmp / "web.log", USER) as (base, token),
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as client,
        ):
            pid = web_pid(port)
            s0 = snapshot(redis)
            task_ids = []
            for n in range(tasks):
                r = client.post("/scrape/async", json={"url": str(videos / f"v{n}.mp4")})
                assert r.status_code == 202, r.text
                task_ids.append(r.json()["task_id"])
            s1 = snapshot(redis)

            rss0 = rss_kb(pid)
            targets = [task_ids[i % tasks] for i in range(watchers)]
            watching = Watchers(port, token, targets)
            time.sleep(3)  # every stream set up and waiting
            s2 = snapshot(redis)
            rss1 = rss_kb(pid)
            idle_s = 10.0
            time.sleep(idle_s)
            s2b = snapshot(redis)

            out = tmp / "worker.json"
            with (tmp / "worker.log").open("wb") as log:
                code = subprocess.run(
                    [sys.executable, "-m", "bench.capacity", "--worker", str(out)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=1200,
                ).returncode
            if code != 0:
                sys.exit((tmp / "worker.log").read_text()[-3000:])
            worker = json.loads(out.read_text())
            watching.wait_ended(60)
            ended, read_bytes = watching.ended, watching.bytes
            watching.close()
            time.sleep(1)
            s3 = snapshot(redis)
            done = Counter(
                client.get(f"/task/{t}").json()["status"] for t in task_ids[: min(tasks, 50)]
            )
            first_ok = task_ids[failing] if failing < tasks else task_ids[0]
            result_json = redis.hget(f"{PREFIX}task:{{{first_ok}}}", "result") or b"{}"
            stream_len = redis.xlen(f"{PREFIX}events:{{{first_ok}}}")
            cache_bytes = cache_entry_bytes(redis, result_json, worker["last_frame_bytes"])
        store = store_sizes(tmp / "data" / "recipes.sqlite3")

    ok = tasks - failing
    report(
        tasks=tasks,
        failing=failing,
        ok=ok,
        watchers=watchers,
        snaps=(s0, s1, s2, s2b, s3),
        idle_s=idle_s,
        rss=(rss0, rss1),
        worker=worker,
        ended=ended,
        read_bytes=read_bytes,
        sample_status=done,
        result_bytes=len(result_json),
        stream_len=stream_len,
        cache_bytes=cache_bytes,
        store=store,
    )


def report(**r: Any) -> None:
    s0, s1, s2, s2b, s3 = r["snaps"]
    tasks, failing, watchers = r["tasks"], r["failing"], r["watchers"]

    def plain(o: Any) -> Any:
        return dataclasses.asdict(o) if dataclasses.is_dataclass(o) else str(o)

    print(json.dumps({k: v for k, v in r.items() if k != "snaps"}, default=plain), file=sys.stderr)

    def kinds(snap: Snapshot) -> str:
        return ", ".join(
            f"{k} {len(v)} × {per(sum(v), len(v)):.0f} B" for k, v in sorted(snap.keys.items())
        )

    print(
        f"\ncapacity: {tasks} tasks ({failing} failing in the extractor), {watchers} SSE watchers"
    )
    print(f"keys after submission: {kinds(s1)}")
    print(f"keys after the run:    {kinds(s3)}")
    queued = s1.used_memory - s0.used_memory
    print("\nRedis memory (MEMORY USAGE by key; used_memory delta in brackets)")
    waiting = key_bytes(s1, "task", "arq:job", "dedupe", "active", "queue")
    print(
        f"  per queued task:              {per(waiting, tasks):>9,.0f} B  "
        f"[{per(queued, tasks):,.0f} B]"
    )
    record = key_bytes(s3, "task", "events")
    ok_tasks = key_count(s3, "task")
    print(
        f"  per finished task (task TTL): {per(record, ok_tasks):>9,.0f} B  "
        f"(record {per(key_bytes(s3, 'task'), ok_tasks):,.0f} B with a {r['result_bytes']:,} B "
        f"result; stream of {r['stream_len']} messages "
        f"{per(key_bytes(s3, 'events'), key_count(s3, 'events')):,.0f} B)"
    )
    print(
        f"  per arq result (5 min):       "
        f"{per(key_bytes(s3, 'arq:result'), key_count(s3, 'arq:result')):>9,.0f} B"
    )
    print(
        f"  per cache entry (cache TTL):  {r['cache_bytes']:>9,.0f} B  (with a "
        f"{r['worker']['last_frame_bytes']:,} B thumbnail: the video's last frame)"
    )
    print(
        f"  used_memory after the run:    {per(s3.used_memory - s0.used_memory, tasks):>9,.0f} B"
        " per task [all kinds together, arq results included]"
    )
    store: StoreSizes = r["store"]
    print("\nrecipe store (SQLite; drafts are not in Redis): length(data) per row")
    print(
        f"  per draft (draft TTL):        {per(sum(store.drafts), len(store.drafts)):>9,.0f} B  "
        f"({len(store.drafts)} drafts of {failing} failed tasks, at most "
        f"{max(store.drafts, default=0):,} B)"
    )
    print(
        f"  per saved recipe:             {per(sum(store.recipes), len(store.recipes)):>9,.0f} B  "
        f"({len(store.recipes)} recipes)"
    )
    print(
        f"  database file:                {store.file_bytes:>9,} B  "
        f"({per(store.file_bytes, len(store.drafts) + len(store.recipes)):,.0f} B per row, "
        "pages and indexes included)"
    )
    print("\nRedis commands and CPU per task (commands run by scripts included)")
    submit_calls, submit_cpu = between(s0, s1)
    run_calls, run_cpu = between(s2b, s3)
    idle_calls, idle_cpu = between(s2, s2b)
    print(
        f"  submission: {per(submit_calls.total(), tasks):.1f} commands, "
        f"{per(submit_cpu * 1000, tasks):.2f} ms Redis CPU"
    )
    print(
        f"  run (worker + hub for {watchers} watchers): {per(run_calls.total(), tasks):.1f} commands, "
        f"{per(run_cpu * 1000, tasks):.2f} ms Redis CPU"
    )
    top = run_calls.most_common(8)
    print("    by command: " + ", ".join(f"{c} {per(n, tasks):.1f}" for c, n in top))
    cpu_ms = per((submit_cpu + run_cpu) * 1000, tasks)
    print(
        f"  Redis CPU per task, all in: {cpu_ms:.2f} ms → {1000 / cpu_ms:,.0f} tasks/s per Redis core"
    )
    print(f"\nper open stream ({watchers} SSE watchers on one web process)")
    print(
        f"  Redis: {per(s2.used_memory - s1.used_memory, watchers):,.0f} B of used_memory, "
        f"{s2.clients - s1.clients:+d} connections for all of them"
    )
    print(f"  web process RSS: {per((r['rss'][1] - r['rss'][0]) * 1024, watchers) / 1024:.1f} KB")
    print(
        f"  idle: {idle_calls.total() / r['idle_s']:.1f} Redis commands/s, "
        f"{idle_cpu * 1000 / r['idle_s']:.1f} ms Redis CPU/s"
    )
    idle = idle_calls.most_common(4)
    print("    by command: " + ", ".join(f"{c} {n / r['idle_s']:.1f}/s" for c, n in idle))
    print(
        f"  streams ended with their task: {r['ended']} / {watchers} ({r['read_bytes']:,} B read)"
    )
    w = r["worker"]
    print(
        f"\nworker: {w['jobs']} jobs, {w['failed']} failed; "
        f"CPU {w['cpu_ms_per_task']:.1f} ms per task (media processes {w['pool_cpu_ms_per_task']:.1f} ms)"
    )
    print(f"task statuses (first 50): {dict(r['sample_status'])}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--watchers", type=int, default=2000)
    parser.add_argument("--fail-share", type=float, default=0.1)
    parser.add_argument("--ocr-budget-s", help="RESIMPLY_OCR_BUDGET_S (0: OCR off)")
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        asyncio.run(run_worker(args.worker))
    else:
        main(args.tasks, args.watchers, args.fail_share, args.ocr_budget_s)
