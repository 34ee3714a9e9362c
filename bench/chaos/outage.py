"""Redis outages against real processes: `resimply serve` + one `arq` worker on a
private redis-server (AOF on), N tasks submitted around the fault.

Runs: a baseline without a fault; Redis stopped (SIGTERM, AOF written) for 30 s
and started again on the same port with its data; Redis full (`maxmemory` +
`noeviction`, every write refused) for 15 s. During each fault a prober submits a
task every half second and reads one back. A supervisor restarts the worker if it
exits (as Docker's restart policy would) and counts it.

Prints per run: tasks accepted (and how many of them were unfinished when the
fault began), done, lost (accepted, never finished), stored twice
(rows per task_id in the SQLite store), worker restarts (0 expected), REST statuses
seen during the fault, and seconds from Redis' return to the last task done.

    PYTHONPATH=$PWD .venv/bin/python -m bench.chaos outage
    CHAOS_OUTAGE_TASKS=20 CHAOS_OUTAGE_S=30 (defaults)
"""

from __future__ import annotations

import collections
import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from tests.client import auth, submit
from tests.faults import fill, free, statuses, stored_rows, video_copy
from tests.servers import BIN, RedisServer, Service, wait_for

USER = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
FINISHED = {"SUCCESS", "FAILURE", "CANCELLED"}


class Supervisor:
    """Restarts the worker when it exits, counting restarts."""

    def __init__(self, svc: Service) -> None:
        self.svc = svc
        self.worker = svc.spawn([str(BIN / "arq"), "resimply.worker.WorkerSettings"], "worker")
        self.restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            if self.worker.proc.poll() is not None:
                self.restarts += 1
                name = f"worker-restart{self.restarts}"
                self.worker = self.svc.spawn(
                    [str(BIN / "arq"), "resimply.worker.WorkerSettings"], name
                )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class Prober:
    """While a fault lasts: a submission every 0.5 s and a read of a known task."""

    def __init__(self, svc: Service, token: str, tmp: Path, known: str) -> None:
        self.svc, self.token, self.tmp, self.known = svc, token, tmp, known
        self.seen: collections.Counter[str] = collections.Counter()
        self.accepted: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(0.5):
            n += 1
            try:
                post = submit(self.svc, self.token, {"url": video_copy(self.tmp, f"probe{n}")})
                self.seen[f"POST {post.status_code}"] += 1
                if post.status_code == 202:
                    self.accepted.append(post.json()["task_id"])
                get = httpx.get(
                    f"{self.svc.base_url}/task/{self.known}", headers=auth(self.token), timeout=10
                )
                self.seen[f"GET {get.status_code}"] += 1
            except httpx.HTTPError as exc:
                self.seen[type(exc).__name__] += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


Fault = Callable[[RedisServer], Callable[[], None]]  # starts the fault; returns its end


def stop_redis(redis: RedisServer) -> Callable[[], None]:
    redis.stop()
    return redis.start


def fill_redis(redis: RedisServer) -> Callable[[], None]:
    fill(redis.url)
    return lambda: free(redis.url)


def run(name: str, fault: Fault | None, fault_s: float, tasks: int) -> None:
    with tempfile.TemporaryDirectory(prefix=f"chaos-outage-{name}-") as tmp_dir:
        tmp = Path(tmp_dir)
        redis = RedisServer(tmp / "redis", aof=True)
        redis.dir.mkdir()
        redis.start()
        svc = Service(redis.url, tmp, LOG_LEVEL="info")
        try:
            with running(svc) as supervisor:
                figures(name, svc, redis, supervisor, fault, fault_s, tasks, tmp)
        finally:
            redis.stop()


@contextlib.contextmanager
def running(svc: Service) -> Iterator[Supervisor]:
    svc.web = svc.spawn(
        [str(BIN / "resimply"), "serve", "--host", "127.0.0.1", "--port", str(svc.port)], "web"
    )
    supervisor = Supervisor(svc)
    try:
        wait_for(
            lambda: httpx.get(f"{svc.base_url}/health", timeout=2).json()["workers"] >= 1,
            timeout=60,
            what="web + worker",
        )
        yield supervisor
    finally:
        supervisor.stop()
        svc.stop()


def figures(
    name: str,
    svc: Service,
    redis: RedisServer,
    supervisor: Supervisor,
    fault: Fault | None,
    fault_s: float,
    tasks: int,
    tmp: Path,
) -> None:
    token = svc.token(USER)
    accepted: list[str] = []

    def accept(label: str) -> None:
        response = submit(svc, token, {"url": video_copy(tmp, label)})
        if response.status_code == 202:
            accepted.append(response.json()["task_id"])

    for n in range(tasks // 2):
        accept(f"before{n}")
    prober = None
    in_flight = sum(s not in FINISHED for s in statuses(svc, token, accepted).values())
    if fault is not None:
        end_fault = fault(redis)
        prober = Prober(svc, token, tmp, accepted[0])
        time.sleep(fault_s)  # the fault itself
        prober.stop()
        end_fault()
        accepted += prober.accepted
    returned = time.monotonic()
    for n in range(tasks - len(accepted)):
        accept(f"after{n}")

    deadline = returned + 120
    found = statuses(svc, token, accepted)
    while time.monotonic() < deadline:
        found = statuses(svc, token, accepted)
        if all(s in FINISHED for s in found.values()):
            break
        time.sleep(0.2)
    last_done = time.monotonic() - returned
    rows = stored_rows(svc)
    done = sum(s in FINISHED for s in found.values())
    print(
        f"{name:9} accepted={len(accepted):3} unfinished_at_fault={in_flight:2} done={done:3} "
        f"success={sum(s == 'SUCCESS' for s in found.values()):3} "
        f"lost={len(accepted) - done} "
        f"stored_twice={sum(rows[t] > 1 for t in accepted)} "
        f"stored_none={sum(rows[t] == 0 and found[t] == 'SUCCESS' for t in accepted)} "
        f"worker_restarts={supervisor.restarts} "
        f"return_to_last_done_s={last_done:.1f}",
        flush=True,
    )
    if prober is not None:
        print(f"{'':9} REST during the fault: {dict(sorted(prober.seen.items()))}", flush=True)


def main() -> None:
    tasks = int(os.environ.get("CHAOS_OUTAGE_TASKS", "20"))
    outage_s = float(os.environ.get("CHAOS_OUTAGE_S", "30"))
    print(
        f"{tasks} tasks per run, half before the fault, the rest after; Redis stopped {outage_s:.0f} s, full 15 s"
    )
    run("baseline", None, 0, tasks)
    run("stopped", stop_redis, outage_s, tasks)
    run("full", fill_redis, 15, tasks)


if __name__ == "__main__":
    main()
