"""Prometheus metrics: every series the service exports, defined in one place (issue 16).

The code being measured calls one-line hooks (`timed_step`, `upstream_attempt`,
`refused`, …) or touches the objects below; nothing here changes what it does.
docs/metrics.md lists the series and deploy/prometheus/alerts.yml the alerts.

Each process exports its own numbers from its own endpoint: a web process at
`GET /metrics` (`web/metrics_endpoint.py`), an arq worker on its listener
(`RESIMPLY_WORKER_METRICS_PORT`, `serve_worker_metrics`). Several web processes
or workers are several targets; Prometheus adds them up (`sum by (…)`). No
multiprocess mode is needed: the media pool's child processes report nothing
themselves — the media step is timed in the worker around their work.

Labels are bounded: step names, provider names, outcome and error codes, HTTP
statuses, model names from the configuration. Never a task id, a user id or a
URL (tests/test_metrics.py checks the series count stays put across tasks).

Queue figures come from Redis at scrape time (`refresh_queue`, awaited by the
async endpoint with a timeout), never from a sync client on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from arq.constants import in_progress_key_prefix
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from redis.asyncio import Redis

from .heartbeat import STALE_AFTER_S
from .keys import Keys
from .models import Usage

P = ParamSpec("P")
T = TypeVar("T")

CONTENT_TYPE = CONTENT_TYPE_LATEST
# A scrape's Redis reads give up after this: the figures then keep their last
# values and `resimply_redis_up` says 0.
REDIS_READ_TIMEOUT_S = 2.0
# The queue reader looks at this many due jobs at most per scrape (to tell
# running from waiting ones): a bounded script, whatever the backlog.
QUEUE_SCAN_LIMIT = 1000

_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900)

# --- queue and workers (read from Redis at scrape time) ------------------------

QUEUE_JOBS = Gauge(
    "resimply_queue_jobs",
    "Jobs in arq's queue: waiting (due, not running), running, deferred (due later).",
    ["state"],
)
QUEUE_OLDEST_AGE = Gauge(
    "resimply_queue_oldest_age_seconds",
    "How long the oldest waiting job has waited (0: none waits).",
)
WORKERS_ALIVE = Gauge(
    "resimply_workers_alive", "Workers whose heartbeat is fresh (as /health counts them)."
)
REDIS_UP = Gauge("resimply_redis_up", "1 if this scrape could read the queue from Redis.")

# --- the worker -----------------------------------------------------------------

JOBS_IN_PROGRESS = Gauge("resimply_jobs_in_progress", "Jobs this worker runs now.")
TASKS_FINISHED = Counter(
    "resimply_tasks_finished_total",
    "Task runs by outcome (SUCCESS, FAILURE, CANCELLED, INTERRUPTED: handed back).",
    ["status"],
)
TASK_ERRORS = Counter(
    "resimply_task_errors_total", "Failed tasks by error code and step.", ["code", "step"]
)
STEP_SECONDS = Histogram(
    "resimply_step_duration_seconds",
    "Time in each pipeline step (failed runs included).",
    ["step"],
    buckets=_SECONDS,
)
UPSTREAM_CALLS = Counter(
    "resimply_upstream_calls_total",
    "Attempts at an upstream call, by provider and status (HTTP code, ok, timeout, error).",
    ["provider", "status"],
)
UPSTREAM_SECONDS = Histogram(
    "resimply_upstream_call_duration_seconds",
    "Time of each upstream attempt.",
    ["provider"],
    buckets=_SECONDS,
)
UPSTREAM_RETRIES = Counter(
    "resimply_upstream_retries_total", "Upstream attempts that were retried.", ["provider"]
)
TOKENS = Counter(
    "resimply_model_tokens_total",
    "Model tokens paid for, by model and kind (prompt, cached, completion).",
    ["model", "kind"],
)
TRANSCRIPTION_SECONDS = Counter(
    "resimply_transcription_seconds_total", "Audio seconds sent for transcription."
)
COST_USD = Counter(
    "resimply_cost_usd_total",
    "Estimated spend in USD (price table, costs.py), by kind (model, actor).",
    ["kind"],
)
CACHE_LOOKUPS = Counter(
    "resimply_cache_lookups_total", "Extraction cache lookups by result.", ["result"]
)

# --- streams (web processes) -----------------------------------------------------

STREAMS_OPEN = Gauge(
    "resimply_streams_open", "Open event streams by transport (sse, ws).", ["transport"]
)
MESSAGES_FANNED_OUT = Counter(
    "resimply_stream_messages_total", "Messages the hub handed to watchers (one per watcher)."
)
STREAM_CUTOFFS = Counter(
    "resimply_stream_cutoffs_total",
    "Streams cut off: lagged (fell a buffer behind) or send_timeout (took no write).",
    ["reason"],
)
HUB_READ_LAG = Histogram(
    "resimply_hub_read_lag_seconds",
    "From the write of the oldest entry in a read (its stream id) to the hub handing it out;"
    " one observation per stream and read.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
REFUSALS = Counter(
    "resimply_refusals_total",
    "Requests and connections refused by a limit (rate limits, stream and connection caps).",
    ["limit"],
)

UNREPLICATED_WRITES = Counter(
    "resimply_unreplicated_writes_total",
    "Writes the replicas had not acknowledged within RESIMPLY_ACCEPT_WAIT_MS (Redis Sentinel"
    " only), by write: accept (a task answered 202), finish (a task's end); lost if the"
    " master failed then.",
    ["write"],
)

CUT_OFF_LAGGED = STREAM_CUTOFFS.labels(reason="lagged")
CUT_OFF_SLOW = STREAM_CUTOFFS.labels(reason="send_timeout")


# --- hooks ------------------------------------------------------------------------


def timed_step(step: str) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Decorate a pipeline step: its time goes to `resimply_step_duration_seconds`."""
    histogram = STEP_SECONDS.labels(step=step)

    def decorate(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(fn)
        async def timed(*args: P.args, **kwargs: P.kwargs) -> T:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                histogram.observe(time.perf_counter() - started)

        return timed

    return decorate


def upstream_attempt(provider: str, started: float, error: BaseException | None) -> None:
    """One upstream attempt ended (`started`: its `time.perf_counter()`)."""
    UPSTREAM_SECONDS.labels(provider=provider).observe(time.perf_counter() - started)
    UPSTREAM_CALLS.labels(provider=provider, status=_status_of(error)).inc()


def _status_of(error: BaseException | None) -> str:
    """The attempt's status label: ok, the HTTP status the failure carries (on
    it or on the error it replaced), timeout, or error — a bounded set."""
    if error is None:
        return "ok"
    seen: BaseException | None = error
    for _ in range(3):
        if seen is None:
            break
        for name in ("status_code", "status"):
            status = getattr(seen, name, None)
            if isinstance(status, int) and 100 <= status <= 599:
                return str(status)
        # asyncio's, httpx's TimeoutException, openai's APITimeoutError, aiohttp's
        if isinstance(seen, TimeoutError) or "timeout" in type(seen).__name__.lower():
            return "timeout"
        seen = seen.__cause__ or seen.__context__
    return "error"


def task_finished(status: str) -> None:
    TASKS_FINISHED.labels(status=status).inc()


def task_failed(code: str, step: int) -> None:
    TASK_ERRORS.labels(code=code, step=str(step)).inc()


def spent(usage: Usage) -> None:
    """What one task paid for (pipeline.run.CostMeter), whatever its outcome."""
    model = usage.model or "none"  # a configured model name: bounded
    for kind, tokens in (
        ("prompt", usage.prompt_tokens),
        ("cached", usage.cached_tokens),
        ("completion", usage.completion_tokens),
    ):
        if tokens:
            TOKENS.labels(model=model, kind=kind).inc(tokens)
    if usage.transcription_seconds:
        TRANSCRIPTION_SECONDS.inc(usage.transcription_seconds)
    if usage.model_usd:
        COST_USD.labels(kind="model").inc(usage.model_usd)
    if usage.actor_usd:
        COST_USD.labels(kind="actor").inc(usage.actor_usd)


def cache_lookup(result: str) -> None:
    CACHE_LOOKUPS.labels(result=result).inc()


def refused(limit: str) -> None:
    REFUSALS.labels(limit=limit).inc()


def stream_open(transport: str, delta: int) -> None:
    """A stream of `transport` ("sse" or "ws") opened (+1) or ended (-1)."""
    STREAMS_OPEN.labels(transport=transport).inc(delta)


def hub_dispatched(oldest_id: bytes, messages: int) -> None:
    """The hub read entries of one stream (`oldest_id` the first) and hands them
    out as `messages` messages (entries × watchers)."""
    MESSAGES_FANNED_OUT.inc(messages)
    # The id's first part is Redis's clock (ms) when the entry was written.
    written_ms = int(oldest_id.partition(b"-")[0])
    HUB_READ_LAG.observe(max(0.0, time.time() - written_ms / 1000))


# --- scrape time ---------------------------------------------------------------------

# Due jobs, all jobs, running jobs among the first ARGV[3] due ones, and the
# score (enqueue time, ms) of the oldest due job that is not running ("" if none).
_QUEUE_SCRIPT = """
local due = redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[1])
local total = redis.call('ZCARD', KEYS[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local running = 0
local oldest = ''
for i = 1, #ids, 2 do
  if redis.call('EXISTS', ARGV[2] .. ids[i]) == 1 then
    running = running + 1
  elseif oldest == '' then
    oldest = ids[i + 1]
  end
end
return {due, total, running, oldest}
"""


async def refresh_queue(redis: Redis, queue: str, workers_key: str) -> None:
    """Read the queue and worker figures from Redis (bounded by a timeout)."""
    now = time.time()
    try:
        async with asyncio.timeout(REDIS_READ_TIMEOUT_S):
            due, total, running, oldest = await redis.eval(  # type: ignore[misc]
                _QUEUE_SCRIPT,
                1,
                queue,
                str(int(now * 1000)),
                in_progress_key_prefix,
                str(QUEUE_SCAN_LIMIT),
            )
            workers = await redis.zcount(workers_key, now - STALE_AFTER_S, "+inf")
    except Exception:  # Redis away or slow: say so, keep the last figures
        REDIS_UP.set(0)
        return
    REDIS_UP.set(1)
    QUEUE_JOBS.labels(state="waiting").set(max(0, int(due) - int(running)))
    QUEUE_JOBS.labels(state="running").set(int(running))
    QUEUE_JOBS.labels(state="deferred").set(int(total) - int(due))
    QUEUE_OLDEST_AGE.set(max(0.0, now - float(oldest) / 1000) if oldest else 0.0)
    WORKERS_ALIVE.set(int(workers))


def render() -> bytes:
    """The text exposition of every series of this process."""
    return generate_latest(REGISTRY)


def authorized(token: str | None, authorization: str | None) -> bool:
    """With `RESIMPLY_METRICS_TOKEN` set, a scrape must send `Authorization: Bearer <it>`."""
    if not token:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


async def exposition(redis: Redis, keys: Keys) -> bytes:
    """A scrape: the queue figures read now, then every series of this process."""
    await refresh_queue(redis, keys.queue, keys.workers)
    return render()
