"""Worker throughput benchmark (issue 6): `python -m bench.worker [--tasks 1000]`.

TASKS tasks through the full pipeline (init, scrape, media, extract, store) on
one `arq` worker process, with upstreams at a fixed latency: the scraper and the
extractor are the local providers (direct link, offline extractor) behind a
wait — an I/O-bound job, as with Apify and OpenAI. Every task's video is a copy
of the bundled sample (15 s, 360×640, five scenes, embedded subtitles), so the
media step decodes and encodes for real. The extraction cache is off (every
task runs every step). Measured in the worker: tasks per second (first job
start to last job end), event-loop lag p99 (a 10 ms ticker's overshoot) and
CPU time per task (the worker process and its media processes). Run at
RESIMPLY_WORKER_MAX_JOBS=MAX_JOBS and at 20 (the earlier pool), each on a fresh
queue, in two scenarios:

- the issue's: scrape 200 ms + extract 300 ms;
- upstreams as slow as in production (an Apify run ≈ 5 s, a vision-model call
  ≈ 8 s), where the 20-job pool waits and one process's hundreds of jobs do not;
  the baseline runs fewer tasks there (its rate is steady after a few rounds).
"""

# The drivers block outside the measured sections (set-up, reports) on purpose.
# ruff: noqa: ASYNC240

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MAX_JOBS = 500
BASELINE_JOBS = 20


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    scrape_s: float
    extract_s: float
    baseline_tasks: int | None = None  # None: as many as the measured run


SCENARIOS = (
    Scenario("issue", 0.2, 0.3),
    Scenario("production-like", 5.0, 8.0, baseline_tasks=120),
)
USER = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"


class _Delayed:
    """A provider behind a fixed upstream latency."""

    def __init__(self, inner: Any, delay: float) -> None:
        self._inner = inner
        self._delay = delay

    async def scrape(self, request: Any, progress: Any) -> Any:
        await asyncio.sleep(self._delay)
        return await self._inner.scrape(request, progress)

    async def extract(self, data: Any, progress: Any) -> Any:
        await asyncio.sleep(self._delay)
        return await self._inner.extract(data, progress)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def run_worker(out: str, scrape_s: float, extract_s: float) -> None:
    """The worker process: the production worker options, slow upstreams, a lag probe."""
    from arq.worker import Worker

    from resimply.settings import Settings
    from resimply.worker import worker_options

    settings = Settings.from_env()
    options = worker_options(settings)
    startup = options["on_startup"]
    lags: list[float] = []
    spans: list[float] = []

    async def probe() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - before - 0.01)

    async def on_startup(ctx: dict[str, Any]) -> None:
        await startup(ctx)
        deps = ctx["deps"]
        ctx["deps"] = dataclasses.replace(
            deps,
            scraper=_Delayed(deps.scraper, scrape_s),
            extractor=_Delayed(deps.extractor, extract_s),
        )
        ctx["_probe"] = asyncio.create_task(probe())

    async def on_job_start(ctx: dict[str, Any]) -> None:
        if not spans:
            spans.append(time.perf_counter())

    async def after_job_end(ctx: dict[str, Any]) -> None:
        if len(spans) < 2:
            spans.append(0.0)
        spans[1] = time.perf_counter()

    statuses: dict[str, int] = {}
    (function,) = options["functions"]
    inner = function.coroutine

    async def counted(ctx: dict[str, Any], task_id: str) -> str:
        status: str = await inner(ctx, task_id)
        statuses[status] = statuses.get(status, 0) + 1
        return status

    options["functions"] = [dataclasses.replace(function, coroutine=counted)]
    options.update(
        on_startup=on_startup, on_job_start=on_job_start, after_job_end=after_job_end, burst=True
    )
    options["poll_delay"] = 0.05
    worker = Worker(**options)
    main_before, pool_before = _cpu_s()
    try:
        await worker.main()
        # Before close: the media pool's processes are still alive to be read.
        main_after, pool_after = _cpu_s()
        main_s, pool_s = main_after - main_before, pool_after - pool_before
    finally:
        await worker.close()
    lags.sort()
    Path(out).write_text(
        json.dumps(
            {
                "jobs": worker.jobs_complete,
                "statuses": statuses,
                "failed": worker.jobs_failed,
                "seconds": spans[1] - spans[0],
                "cpu_ms_per_task": (main_s + pool_s) * 1000 / max(1, worker.jobs_complete),
                "pool_cpu_ms_per_task": pool_s * 1000 / max(1, worker.jobs_complete),
                "lag_p50_ms": lags[len(lags) // 2] * 1000,
                "lag_p99_ms": lags[int(len(lags) * 0.99)] * 1000,
                "lag_max_ms": lags[-1] * 1000,
            }
        )
    )


def _cpu_s() -> tuple[float, float]:
    """CPU seconds of this process, and of its children, ended or live (the media
    pool's processes, which started after the first reading: their start-up counts)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    main = usage.ru_utime + usage.ru_stime
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = usage.ru_utime + usage.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for thread in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (thread / "children").read_text().split():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue  # ended meanwhile
            fields = stat.rsplit(")", 1)[1].split()  # after "pid (name)": field 3 on
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return main, total


def run_one(
    scenario: Scenario, max_jobs: int, tasks: int, redis_url: str, tmp: Path
) -> dict[str, Any]:
    import httpx

    from bench._web import dev_env, dev_web
    from tests.servers import free_port

    port = free_port()
    env = dev_env(
        redis_url,
        tmp / f"data{port}",
        f"w{port}:",
        RESIMPLY_RATE_LIMIT_PER_MINUTE="1000000",
        RESIMPLY_CACHE_TTL_S="0",
        RESIMPLY_WORKER_MAX_JOBS=str(max_jobs),
    )
    from resimply.sample import SAMPLE_VIDEO

    videos = tmp / "videos"
    if not videos.exists():
        videos.mkdir()
        for n in range(tasks):
            shutil.copy(SAMPLE_VIDEO, videos / f"v{n}.mp4")
            shutil.copy(SAMPLE_VIDEO.with_suffix(".txt"), videos / f"v{n}.txt")
    with (
        dev_web(env, port, tmp / f"web{port}.log", USER) as (base, token),
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client,
    ):
        for n in range(tasks):
            r = client.post("/scrape/async", json={"url": str(videos / f"v{n}.mp4")})
            assert r.status_code == 202, r.text
    out = tmp / f"worker{port}.json"
    with (tmp / f"worker{port}.log").open("wb") as log:
        code = subprocess.run(
            [
                *(sys.executable, "-m", "bench.worker", "--worker", str(out)),
                *("--scrape-s", str(scenario.scrape_s), "--extract-s", str(scenario.extract_s)),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=600,
        ).returncode
    if code != 0:
        sys.exit((tmp / f"worker{port}.log").read_text()[-3000:])
    if os.environ.get("BENCH_DEBUG"):
        print((tmp / f"worker{port}.log").read_text()[-3000:], file=sys.stderr)
    result: dict[str, Any] = json.loads(out.read_text())
    result["max_jobs"] = max_jobs
    result["scenario"] = scenario.name
    result["tasks_per_s"] = result["statuses"].get("SUCCESS", 0) / result["seconds"]
    return result


def main(tasks: int) -> None:
    from tests.servers import redis_server

    results: list[tuple[Scenario, list[dict[str, Any]]]] = []
    with tempfile.TemporaryDirectory() as tmpdir, redis_server(Path(tmpdir)) as redis_url:
        for scenario in SCENARIOS:
            rows = []
            for max_jobs, count in (
                (MAX_JOBS, tasks),
                (BASELINE_JOBS, min(tasks, scenario.baseline_tasks or tasks)),
            ):
                row = run_one(scenario, max_jobs, count, redis_url, Path(tmpdir))
                print(json.dumps(row), file=sys.stderr, flush=True)
                rows.append(row)
            results.append((scenario, rows))
    cpus = os.cpu_count() or 1
    print(f"\nworker: full pipeline on the bundled sample, one worker process, {cpus} CPUs")
    print(
        f"{'upstreams':>22} {'max_jobs':>8} {'tasks':>6} {'failed':>6} {'tasks/s':>8} "
        f"{'lag p50':>8} {'lag p99':>8} {'CPU/task (media processes)':>27}"
    )
    for scenario, rows in results:
        label = f"{scenario.scrape_s * 1000:.0f}+{scenario.extract_s * 1000:.0f} ms"
        for r in rows:
            print(
                f"{label:>22} {r['max_jobs']:>8} {r['jobs']:>6} {r['failed']:>6} "
                f"{r['tasks_per_s']:>8.1f} {r['lag_p50_ms']:>6.1f}ms {r['lag_p99_ms']:>6.1f}ms "
                f"{r['cpu_ms_per_task']:>14.1f}ms ({r['pool_cpu_ms_per_task']:.1f}ms)"
            )
        fast, base = rows
        print(
            f"{'':>22} speed-up over {BASELINE_JOBS} jobs: "
            f"{fast['tasks_per_s'] / base['tasks_per_s']:.1f}x"
        )
    cpu_ms = results[0][1][0]["cpu_ms_per_task"]
    print(
        f"CPU bound: {cpus} CPUs / {cpu_ms:.1f} ms CPU per task = "
        f"{cpus * 1000 / cpu_ms:.0f} tasks/s at most, whatever max_jobs"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--worker")
    parser.add_argument("--scrape-s", type=float, default=SCENARIOS[0].scrape_s)
    parser.add_argument("--extract-s", type=float, default=SCENARIOS[0].extract_s)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(run_worker(args.worker, args.scrape_s, args.extract_s))
    else:
        main(args.tasks)
