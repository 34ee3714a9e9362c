"""The arq worker: `arq resimply.worker.WorkerSettings` (or in-process with `serve --with-worker`).

The job function is thin: it binds log context and hands the task to the
pipeline with typed dependencies built once per process in `startup`.

Shutdown (SIGTERM, e.g. `docker compose stop`): arq cancels the running jobs and
puts them back in the queue, where another worker picks them up; the steps are
idempotent.

Redis away, restarting or full (outages.py): both of the worker's clients — arq's
pool and the pipeline's — wait it out, command by command (`PatientRetry`), so
arq's loop and the running jobs pause and carry on once Redis is back. That is
set in the clients, not in a Worker subclass, because `arq
resimply.worker.WorkerSettings` (the service's command) always builds arq's own
`Worker` class: its options are the only way in. A job that still meets an
outage error (one the clients do not retry) is handed back to run later.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import math
import os
import socket
import uuid
from pathlib import Path
from typing import Any, TypedDict

import structlog
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Retry, func
from redis.asyncio import Redis
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import RedisError

from . import metrics, sentinel_watch
from .costs import pricing_of
from .drafts import DraftStore
from .heartbeat import Heartbeat
from .jobs import JOB_NAME, job_deserializer, job_serializer
from .keys import Keys
from .lease import Leases
from .logs import configure_logging
from .media.analyze import MediaLimits
from .media.processes import MediaProcesses
from .outages import PATIENT_ERRORS, PatientRetry, is_unavailable
from .pipeline import PipelineDeps, run_task
from .pipeline.cache import ExtractionCache, cache_variant
from .providers.base import RecipeStore, Scraper
from .providers.registry import build_extractor, build_scraper, build_store, build_transcriber
from .redis_ha import connect
from .resources import open_worker_redis, task_store
from .settings import Settings
from .worker_metrics import start_worker_metrics

log = structlog.get_logger(__name__)

# A job that lost Redis runs again this much later (arq's Retry).
REDIS_LOST_RETRY_S = 5


class WorkerContext(TypedDict, total=False):
    """The part of arq's ctx dict that is ours."""

    deps: PipelineDeps
    heartbeat: Heartbeat
    leases: Leases
    job_try: int
    job_id: str
    running: set[str]  # ids of the jobs this worker runs now (see skip_own_running_jobs)


async def process_task(ctx: dict[str, Any], task_id: str) -> str:
    structlog.contextvars.bind_contextvars(task_id=task_id, job_try=ctx.get("job_try", 1))
    running: set[str] = ctx.get("running", set())
    running.add(task_id)  # job id = task id
    try:
        if "leases" in ctx:  # arq's in-progress key, cut to a lease (lease.py)
            await ctx["leases"].take(task_id)
        return await run_task(ctx["deps"], task_id, attempt=int(ctx.get("job_try", 1)))
    except RedisError as exc:
        if not is_unavailable(exc):
            raise
        # An outage error the client did not wait out (e.g. MISCONF): neither
        # progress nor an outcome could be written. Hand the job back; arq runs it
        # again later (its result write waits for Redis: see _redis_settings).
        log.warning("job_lost_redis", error=type(exc).__name__, retry_in=REDIS_LOST_RETRY_S)
        raise Retry(defer=REDIS_LOST_RETRY_S) from exc
    finally:
        running.discard(task_id)
        structlog.contextvars.unbind_contextvars("task_id", "job_try")


def skip_own_running_jobs(pool: ArqRedis, running: set[str]) -> None:
    """Keep the jobs this worker runs out of arq's queue reads.

    On every poll arq reads up to 5 × max_jobs job ids from the head of the queue
    and checks each with three Redis round trips (WATCH, EXISTS, ZSCORE) — also
    the jobs this worker is running, which stay queued until they end and so sit
    at the head. With hundreds of jobs running that is thousands of round trips
    per poll, growing with max_jobs. Our own running jobs are known without
    asking Redis; every other id still gets arq's checks.
    """
    read = pool.zrangebyscore

    async def zrangebyscore(*args: Any, **kwargs: Any) -> Any:
        ids = await read(*args, **kwargs)
        return [i for i in ids if i.decode() not in running] if running else ids

    # arq offers no hook around its queue read; this instance is the worker's own pool.
    setattr(pool, "zrangebyscore", zrangebyscore)  # noqa: B010


def media_threads(settings: Settings) -> int:
    """The bounded pool for CPU media work: RESIMPLY_MEDIA_THREADS, or min(8, CPUs)."""
    return settings.media_threads or max(2, min(8, os.cpu_count() or 2))


def media_processes(settings: Settings) -> int:
    """Processes for the media step: RESIMPLY_MEDIA_PROCESSES, or one per CPU (≤ 8)."""
    return settings.media_processes or max(1, min(8, usable_cpus()))


def usable_cpus(cgroup_cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """CPUs this process may use: its cpuset, capped by a cgroup v2 CPU quota.

    A container limited with `cpus: "2"` (compose) or `limits.cpu: 2` (Kubernetes)
    still sees every CPU of the host in its affinity mask; one media process per
    CPU there (≈ 240 MB each with the OCR engine loaded) would outgrow the
    container's memory long before its CPU quota lets them run.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota(cgroup_cpu_max)
    return max(1, min(cpus, quota)) if quota is not None else cpus


def _cgroup_cpu_quota(cpu_max: Path) -> int | None:
    """`cpu.max` holds "<quota> <period>" in microseconds, or "max <period>"."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max" or not quota.isdigit() or not period.isdigit() or int(period) == 0:
        return None
    return math.ceil(int(quota) / int(period))


def pipeline_deps(
    settings: Settings,
    redis: Redis,
    *,
    executor: concurrent.futures.Executor,
    processes: MediaProcesses | None,
    scraper: Scraper | None = None,
    store: RecipeStore | None = None,
) -> PipelineDeps:
    """The pipeline's providers and limits, as `settings` configures them (a worker's;
    `resimply extract` passes the scraper it checked the link with, and its own store)."""
    store = store if store is not None else build_store(settings)
    return PipelineDeps(
        tasks=task_store(redis, settings),
        scraper=scraper if scraper is not None else build_scraper(settings),
        extractor=build_extractor(settings),
        store=store,
        transcriber=build_transcriber(settings),
        executor=executor,
        limits=MediaLimits.from_settings(settings),
        work_dir=settings.data_dir / "work",
        download_timeout_s=max(settings.http_timeout_s, 120.0),
        job_timeout_s=settings.job_timeout_s,
        # Caption links to recipe pages follow the same address rules as videos.
        allow_private_urls=settings.allow_private_urls or settings.dev,
        cache=ExtractionCache(
            redis,
            Keys(settings.key_prefix),
            ttl_s=settings.cache_ttl_s,
            variant=cache_variant(settings),
        ),
        pricing=pricing_of(settings),
        media_processes=processes,
        # Drafts live beside the recipes (a store that keeps none: no drafts).
        drafts=DraftStore.of(store, ttl_s=settings.draft_ttl_s),
    )


def _startup(settings: Settings, *, embedded: bool) -> Any:
    async def startup(ctx: dict[str, Any]) -> None:
        redis = open_worker_redis(settings, "worker")
        # This runs in arq's main loop task: once SIGTERM ends it, stop waiting Redis out.
        main_loop = asyncio.current_task()
        for client in (redis, ctx["redis"]):
            patience = client.connection_pool.connection_kwargs.get("retry")
            if isinstance(patience, PatientRetry) and main_loop is not None:
                patience.give_up_when_done(main_loop)
        # Decoding and JPEG encoding are CPU work: keep them off the event loop in
        # a bounded pool (PyAV releases the GIL while it decodes). The thread pool
        # also extracts audio for transcription.
        executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=media_threads(settings), thread_name_prefix="media"
        )
        # An arq worker reads videos in processes: threads leave most of a second
        # core idle, as the media work holds the GIL much of the time. The worker
        # inside `serve --with-worker` (local use: a few tasks, one person) keeps
        # threads: processes would add ≈ 70 MB each and a start-up per process to
        # the web server for no gain at that load.
        processes = (
            None
            if embedded
            else MediaProcesses(media_processes(settings), timeout_s=settings.job_timeout_s)
        )
        ctx["deps"] = pipeline_deps(settings, redis, executor=executor, processes=processes)
        if processes is not None:
            await processes.start()  # after ctx["deps"]: shutdown stops it should this fail
        ctx["_redis"] = redis
        running: set[str] = set()
        ctx["running"] = running
        metrics.JOBS_IN_PROGRESS.set_function(lambda: len(running))
        skip_own_running_jobs(ctx["redis"], running)
        worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        ctx["leases"] = Leases(redis, ctx["running"])
        ctx["heartbeat"] = Heartbeat(
            redis, Keys(settings.key_prefix), worker_id, leases=ctx["leases"]
        )
        await ctx["heartbeat"].start()
        # With sentinels: drop the connections to a replaced master at once (the
        # in-process worker shares the web process's watcher).
        if not embedded:
            ctx["sentinel_watch"] = sentinel_watch.start(settings)
        # The in-process worker's series are on the web process's /metrics.
        if not embedded:
            ctx["metrics_server"] = await start_worker_metrics(settings, redis)
        log.info(
            "worker_started",
            worker_id=worker_id,
            scraper=settings.scraper,
            extractor=settings.extractor,
            store=settings.store,
            max_jobs=settings.worker_max_jobs,
            media_threads=media_threads(settings),
            media_processes=processes.size if processes else 0,
            metrics_port=0 if embedded else settings.worker_metrics_port,
        )

    return startup


async def shutdown(ctx: dict[str, Any]) -> None:
    await sentinel_watch.stop(ctx.get("sentinel_watch"))
    if ctx.get("metrics_server") is not None:
        await ctx["metrics_server"].cleanup()
    if "heartbeat" in ctx:
        await ctx["heartbeat"].stop()
    deps: PipelineDeps | None = ctx.get("deps")
    if deps is not None:
        for provider in (deps.scraper, deps.extractor, deps.store, deps.transcriber):
            if provider is not None:
                await provider.aclose()
        deps.executor.shutdown(wait=False, cancel_futures=True)
        if deps.media_processes is not None:
            deps.media_processes.shutdown()
    if "_redis" in ctx:
        await ctx["_redis"].aclose()
    log.info("worker_stopped")


def _redis_settings(settings: Settings) -> RedisSettings:
    # arq's loop (poll, job start, result write, health record) has no error
    # handling of its own: one failed command ends Worker.main() and the process.
    # Its pool waits every outage out instead (outages.PatientRetry), including a
    # full Redis refusing the result write, which is then written once Redis takes
    # it. At start-up too it waits for Redis as long as it takes (conn_retries
    # only counts errors that are not an outage, such as a wrong password).
    return dataclasses.replace(
        RedisSettings.from_dsn(settings.redis_url),
        retry=PatientRetry("arq"),
        retry_on_error=list(PATIENT_ERRORS),
        conn_retries=60,
        conn_timeout=5,
    )


def _sentinel_pool(settings: Settings, keys: Keys) -> ArqRedis | None:
    """With REDIS_SENTINELS, arq's pool on the master Sentinel names (redis_ha.py).

    arq's own sentinel mode (RedisSettings.sentinel) passes neither retry nor
    timeouts to its pool, so a failover would end arq's loop at its first failed
    command; this pool has the same patience as `_redis_settings`'s."""
    if not settings.redis_sentinels:
        return None
    options = _redis_settings(settings)
    pool = connect(
        settings,
        redis_class=ArqRedis,
        socket_connect_timeout=options.conn_timeout,
        # A master that hangs for good (host cut off) must not hold arq's loop:
        # past this its command is sent again, to the master the sentinels name.
        socket_timeout=30,
        retry=options.retry,
        retry_on_error=options.retry_on_error,
    )
    # arq's job start (Worker.start_jobs) WATCHes a key and lets the WatchError
    # that redis-py raises for a connection lost while watching end its loop: on
    # a switch only the pool's idle connections are dropped, and a poll stuck on
    # a hung master waits for its read timeout, as before.
    if isinstance(pool.connection_pool, SentinelConnectionPool):
        sentinel_watch.register(pool.connection_pool, in_use=False)
    pool.job_serializer = job_serializer
    pool.job_deserializer = job_deserializer
    pool.default_queue_name = keys.queue
    return pool


def worker_options(settings: Settings, *, embedded: bool = False) -> dict[str, Any]:
    """Keyword arguments for `arq.worker.Worker`, from settings (`embedded`: the
    worker runs inside the web process, `serve --with-worker`)."""
    keys = Keys(settings.key_prefix)
    return {
        "functions": [func(process_task, name=JOB_NAME)],
        "queue_name": keys.queue,
        # Jobs are written by the web tier's create script, as JSON (see jobs.py).
        "job_serializer": job_serializer,
        "job_deserializer": job_deserializer,
        "redis_settings": _redis_settings(settings),
        "redis_pool": _sentinel_pool(settings, keys),
        "on_startup": _startup(settings, embedded=embedded),
        "on_shutdown": shutdown,
        "max_jobs": settings.worker_max_jobs,
        # The pipeline enforces job_timeout_s itself so it can report `timeout`;
        # arq's own limit is the backstop. A SIGKILLed worker's job runs again on
        # another worker once its lease on arq's in-progress key expires (lease.py).
        "job_timeout": settings.job_timeout_s + settings.worker_job_grace_s,
        "keep_result": 300,
        "allow_abort_jobs": True,
        # run_task gives up after its own MAX_ATTEMPTS and writes the outcome;
        # arq must let it run that last time.
        "max_tries": 10,
        "health_check_interval": 10,
        "poll_delay": 0.2,
    }


def __getattr__(name: str) -> Any:
    """`arq resimply.worker.WorkerSettings`: the worker's options, built from the
    environment when arq asks for them (not at import, so importing this module
    for `serve --with-worker` or tests reads nothing)."""
    if name == "WorkerSettings":
        settings = Settings.from_env()
        configure_logging(settings)
        return worker_options(settings)
    raise AttributeError(name)
