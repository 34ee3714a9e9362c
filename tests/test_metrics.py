"""Prometheus metrics (issue 16): `/metrics` on a real web process and a real
worker parse and move when tasks run, their series do not grow with task ids,
the queue figures come from Redis, and the alert rules pass promtool."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from resimply import metrics
from resimply.errors import RateLimited
from resimply.jobs import JobQueue
from resimply.keys import Keys
from resimply.retry import RetryPolicy, Transient
from resimply.sample import SAMPLE_VIDEO
from resimply.settings import Settings, SettingsError
from resimply.tasks import TaskStore
from resimply.worker_metrics import start_worker_metrics
from tests.client import auth, sse_messages, submit, ws_messages
from tests.servers import GatedVideoServer, Service, free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus"

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Series:
    """Every sample of an exposition, keyed by name and labels (the parser raises
    on anything that is not the text format)."""
    series: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return series


def value(series: Series, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in series.items() if n == name and wanted <= ls)


def scrape(url: str, token: str | None = None) -> Series:
    response = httpx.get(url, headers=auth(token) if token else {}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def _ours(series: Series) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    return {key for key in series if key[0].startswith("resimply_")}


# --- the alert rules -------------------------------------------------------------------


def promtool() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        message = "promtool is not installed (apt-get install prometheus)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


def test_alert_rules_and_scrape_config_pass_promtool_and_the_rules_unit_tests() -> None:
    binary = promtool()
    check = subprocess.run(
        [binary, "check", "rules", str(RULES / "alerts.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS" in check.stdout
    # The alerts fire on the series they watch (and not before their `for`).
    unit = subprocess.run(
        [binary, "test", "rules", "alerts_test.yml"],
        cwd=RULES,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unit.returncode == 0, unit.stdout + unit.stderr
    # The example scrape configuration (it loads the same rules).
    config = subprocess.run(
        [binary, "check", "config", "prometheus.yml"],
        cwd=RULES,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert config.returncode == 0, config.stdout + config.stderr


def test_every_alert_names_series_the_service_or_redis_exporter_exports() -> None:
    """A typo in a metric name would make an alert that never fires."""
    rules = yaml.safe_load((RULES / "alerts.yml").read_text())
    exprs = " ".join(r["expr"] for g in rules["groups"] for r in g["rules"])
    ours = {m._name for m in REGISTRY._names_to_collectors.values() if hasattr(m, "_name")}
    for name in set(re.findall(r"\b(resimply_[a-z_]+)", exprs)):
        base = re.sub(r"_(bucket|total|count|sum)$", "", name)
        assert base in ours or name in ours, name


# --- in process: the queue, upstream attempts, the worker's listener -------------------


async def test_queue_figures_tell_waiting_running_and_deferred_jobs_apart(
    redis: Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    tasks = TaskStore(
        redis, keys, ttl_s=600, stream_maxlen=100, dedupe_ttl_s=600, jobs=JobQueue(redis, keys)
    )
    ids = []
    for n in range(4):
        submission = await tasks.create(
            user_id=f"u{n}",
            url=f"https://example.com/{n}.mp4",
            canonical_url=f"https://example.com/{n}.mp4",
            language=None,
            caption=None,
            idempotency_key=None,
        )
        ids.append(submission.task_id)
    now_ms = int(time.time() * 1000)
    # The oldest waits 90 s but runs (arq's in-progress key); the next has waited
    # 30 s; the last is deferred a minute (arq's Retry).
    await redis.zadd(keys.queue, {ids[0]: now_ms - 90_000, ids[1]: now_ms - 30_000})
    await redis.zadd(keys.queue, {ids[3]: now_ms + 60_000})
    await redis.set(f"arq:in-progress:{ids[0]}", b"1", px=60_000)
    try:
        text = (await metrics.exposition(redis, keys)).decode()
    finally:
        await redis.delete(f"arq:in-progress:{ids[0]}")
    series = parse(text)
    assert value(series, "resimply_queue_jobs", state="waiting") == 2
    assert value(series, "resimply_queue_jobs", state="running") == 1
    assert value(series, "resimply_queue_jobs", state="deferred") == 1
    assert 29 <= value(series, "resimply_queue_oldest_age_seconds") < 40
    assert value(series, "resimply_redis_up") == 1
    assert value(series, "resimply_workers_alive") == 0

    # Nothing waiting: the age is 0, not the age of a running job.
    await redis.zrem(keys.queue, ids[1], ids[2])
    await redis.set(f"arq:in-progress:{ids[0]}", b"1", px=60_000)
    try:
        series = parse((await metrics.exposition(redis, keys)).decode())
    finally:
        await redis.delete(f"arq:in-progress:{ids[0]}")
    assert value(series, "resimply_queue_jobs", state="waiting") == 0
    assert value(series, "resimply_queue_oldest_age_seconds") == 0


async def test_a_submission_over_the_rate_limit_counts_as_a_refusal(
    redis: Redis, key_prefix: str
) -> None:
    tasks = TaskStore(redis, Keys(key_prefix), ttl_s=600, stream_maxlen=100, dedupe_ttl_s=600)
    labels = {"limit": "submissions_per_user"}
    before = REGISTRY.get_sample_value("resimply_refusals_total", labels) or 0.0
    for n in range(2):
        submission = tasks.create(
            user_id="u1",
            url=f"https://example.com/{n}.mp4",
            canonical_url=f"https://example.com/{n}.mp4",
            language=None,
            caption=None,
            idempotency_key=None,
            rate_limit_per_minute=1,
        )
        if n == 0:
            await submission
        else:
            with pytest.raises(RateLimited):
                await submission
    assert REGISTRY.get_sample_value("resimply_refusals_total", labels) == before + 1


async def test_an_unreachable_redis_reads_as_redis_up_0_within_the_timeout() -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    series = parse((await metrics.exposition(dead, Keys("gone:"))).decode())
    await dead.aclose()
    assert value(series, "resimply_redis_up") == 0
    assert time.monotonic() - started < metrics.REDIS_READ_TIMEOUT_S + 1


class _Refused(Exception):
    def __init__(self, status: int) -> None:
        self.status_code = status


async def test_upstream_attempts_are_counted_by_provider_status_and_retry() -> None:
    def now(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {"provider": "probe", **labels}) or 0.0

    before = {
        "503": now("resimply_upstream_calls_total", status="503"),
        "ok": now("resimply_upstream_calls_total", status="ok"),
        "400": now("resimply_upstream_calls_total", status="400"),
        "retries": now("resimply_upstream_retries_total"),
        "timed": now("resimply_upstream_call_duration_seconds_count"),
    }
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            try:
                raise _Refused(503)
            except _Refused as exc:  # as the adapters do: the HTTP error becomes Transient
                raise Transient("HTTP 503", retry_after=0) from exc
        return "answer"

    policy = RetryPolicy(deadline_s=5, base_delay_s=0.01)
    assert await policy.run(flaky, what="probe call", provider="probe") == "answer"

    async def refused() -> str:
        raise _Refused(400)

    with pytest.raises(_Refused):
        await policy.run(refused, what="probe call", provider="probe")
    assert now("resimply_upstream_calls_total", status="503") == before["503"] + 1
    assert now("resimply_upstream_calls_total", status="ok") == before["ok"] + 1
    assert now("resimply_upstream_calls_total", status="400") == before["400"] + 1
    assert now("resimply_upstream_retries_total") == before["retries"] + 1
    assert now("resimply_upstream_call_duration_seconds_count") == before["timed"] + 3


async def test_the_worker_listener_wants_the_token_when_one_is_set(
    redis: Redis, key_prefix: str
) -> None:
    port = free_port()
    settings = Settings(
        key_prefix=key_prefix,
        worker_metrics_port=port,
        worker_metrics_host="127.0.0.1",
        metrics_token="s3cret-scrape-token",
    )
    runner = await start_worker_metrics(settings, redis)
    assert runner is not None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            bare = await client.get("/metrics")
            wrong = await client.get("/metrics", headers=auth("not-it"))
            right = await client.get("/metrics", headers=auth("s3cret-scrape-token"))
    finally:
        await runner.cleanup()
    assert bare.status_code == wrong.status_code == 401
    assert bare.json()["error"] == "unauthorized" and "RESIMPLY_METRICS_TOKEN" in bare.text
    assert "resimply_" not in bare.text
    assert right.status_code == 200
    assert value(parse(right.text), "resimply_redis_up") == 1
    assert await start_worker_metrics(Settings(), redis) is None  # off by default


# --- real processes ------------------------------------------------------------------------


@pytest.fixture
def observed(redis_url: str, tmp_path: Path) -> Iterator[Service]:
    """`resimply serve` and one `arq` worker with its metrics listener."""
    worker_port = free_port()
    svc = Service(
        redis_url,
        tmp_path,
        RESIMPLY_WORKER_METRICS_PORT=str(worker_port),
        RESIMPLY_WORKER_METRICS_HOST="127.0.0.1",
        RESIMPLY_STREAMS_PER_USER="1",
    )
    svc.worker_metrics = f"http://127.0.0.1:{worker_port}/metrics"  # type: ignore[attr-defined]
    with svc.running():
        yield svc


def moved(before: Series, after: Series, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def _finished(svc: Service, token: str, task_id: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = httpx.get(f"{svc.base_url}/task/{task_id}", headers=auth(token)).json()["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELLED"):
            return str(status)
        time.sleep(0.1)
    raise TimeoutError(task_id)


def test_web_and_worker_metrics_move_when_tasks_run_and_their_series_stay_bounded(
    observed: Service, gated_video: GatedVideoServer, tmp_path: Path
) -> None:
    svc = observed
    web_url = f"{svc.base_url}/metrics"
    worker_url: str = svc.worker_metrics  # type: ignore[attr-defined]
    web0, worker0 = scrape(web_url), scrape(worker_url)
    assert value(worker0, "resimply_jobs_in_progress") == 0
    assert value(web0, "resimply_workers_alive") == 1 and value(web0, "resimply_redis_up") == 1

    # A task held in its download: the worker runs one job, the queue shows it
    # running, and a watcher's SSE stream is open on the web process.
    user = "12121212-1212-4121-8121-121212121212"
    token = svc.token(user)
    held = submit(svc, token, {"url": gated_video.url, "caption": "200 g pasta, 2 eggs"})
    assert held.status_code == 202, held.text
    held_id = held.json()["task_id"]
    watched: list[list[dict[str, object]]] = []
    watcher = threading.Thread(
        target=lambda: watched.append(sse_messages(svc, token, held_id)[1]), daemon=True
    )
    watcher.start()
    wait_for(lambda: gated_video.requests == 1, what="the download")
    wait_for(
        lambda: value(scrape(web_url), "resimply_streams_open", transport="sse") == 1,
        what="the SSE stream in resimply_streams_open",
    )
    # A second stream of the same user is one too many (RESIMPLY_STREAMS_PER_USER=1).
    second = httpx.get(f"{svc.base_url}/events/{held_id}", params={"token": token}, timeout=10)
    assert second.status_code == 429, second.text
    during_worker, during_web = scrape(worker_url), scrape(web_url)
    assert moved(web0, during_web, "resimply_refusals_total", limit="streams_per_user") == 1
    assert value(during_web, "resimply_streams_open", transport="sse") == 1
    assert value(during_worker, "resimply_jobs_in_progress") == 1
    assert value(during_web, "resimply_queue_jobs", state="running") == 1
    assert value(during_web, "resimply_queue_jobs", state="waiting") == 0
    gated_video.release()
    assert _finished(svc, token, held_id) == "SUCCESS"
    watcher.join(30)
    (messages,) = watched
    assert messages[-1]["type"] == "completion"

    after_worker = scrape(worker_url)
    wait_for(
        lambda: value(scrape(web_url), "resimply_streams_open", transport="sse") == 0,
        what="the stream's end in resimply_streams_open",
    )
    after_web = scrape(web_url)
    assert value(after_worker, "resimply_jobs_in_progress") == 0

    assert moved(worker0, after_worker, "resimply_tasks_finished_total", status="SUCCESS") == 1
    for step in ("scrape", "media", "extract", "store"):
        count = "resimply_step_duration_seconds_count"
        assert moved(worker0, after_worker, count, step=step) == 1, step
        assert value(after_worker, "resimply_step_duration_seconds_sum", step=step) > 0, step
    # The link's page id was looked up in the extraction cache first: a miss.
    assert moved(worker0, after_worker, "resimply_cache_lookups_total", result="miss") == 1
    # Every message of the task reached the one watcher through the hub.
    fanned = moved(web0, after_web, "resimply_stream_messages_total")
    assert fanned >= len(messages) - 1 > 3  # (the first may come from the replay)
    lags = moved(web0, after_web, "resimply_hub_read_lag_seconds_count")
    assert 1 <= lags <= fanned

    # More tasks with other ids, users and links (a success, a failure each):
    # the series are the same afterwards, and no id, user or link is a label.
    fake = tmp_path / "notes.mp4"
    fake.write_text("200 g spaghetti, this is text, not a video\n" * 50)
    first_series = None
    seen_ids: list[str] = [held_id]
    users = [user]
    for n in range(3):
        other = f"3434343{n}-3434-4343-8343-343434343434"
        users.append(other)
        other_token = svc.token(other)
        for url in (str(SAMPLE_VIDEO), str(fake)):
            response = submit(svc, other_token, {"url": url})
            assert response.status_code == 202, response.text
            seen_ids.append(response.json()["task_id"])
            _finished(svc, other_token, seen_ids[-1])
        snapshot = _ours(scrape(worker_url)) | _ours(scrape(web_url))
        if first_series is None:
            first_series = snapshot
        else:
            assert snapshot == first_series, snapshot ^ first_series
    final_worker = scrape(worker_url)
    assert moved(after_worker, final_worker, "resimply_tasks_finished_total", status="SUCCESS") == 3
    assert moved(after_worker, final_worker, "resimply_tasks_finished_total", status="FAILURE") == 3
    assert value(final_worker, "resimply_task_errors_total", code="invalid_media") >= 3
    text = httpx.get(worker_url).text + httpx.get(web_url).text
    for secret in [*seen_ids, *users, gated_video.url, str(fake), str(SAMPLE_VIDEO)]:
        assert secret not in text, secret


def test_metrics_settings_are_read_and_checked() -> None:
    settings = Settings.from_env(
        {
            "RESIMPLY_WORKER_METRICS_PORT": "9100",
            "RESIMPLY_WORKER_METRICS_HOST": "127.0.0.1",
            "RESIMPLY_METRICS_TOKEN": " tok ",
        }
    )
    assert (settings.worker_metrics_port, settings.worker_metrics_host) == (9100, "127.0.0.1")
    assert settings.metrics_token == "tok"
    defaults = Settings.from_env({})
    assert (defaults.worker_metrics_port, defaults.metrics_token) == (0, None)
    with pytest.raises(SettingsError, match="RESIMPLY_WORKER_METRICS_PORT"):
        Settings.from_env({"RESIMPLY_WORKER_METRICS_PORT": "ninety"})
    assert metrics.authorized(None, None) and metrics.authorized("t", "Bearer t")
    assert not metrics.authorized("t", None) and not metrics.authorized("t", "Basic t")


async def test_streams_on_the_asgi_path_are_counted_and_a_waiting_job_shows_in_the_queue(
    redis_url: str, tmp_path: Path
) -> None:
    """RESIMPLY_LEAN_STREAMS=0 (the streams through Hypercorn), and no worker: the
    task waits in the queue while an SSE and a WebSocket client follow it."""
    svc = Service(redis_url, tmp_path, RESIMPLY_LEAN_STREAMS="0")
    try:
        svc.start(workers=0)
        url = f"{svc.base_url}/metrics"
        token = svc.token("56565656-5656-4565-8565-565656565656")
        response = submit(svc, token, {"url": str(SAMPLE_VIDEO)})
        assert response.status_code == 202, response.text
        task_id = response.json()["task_id"]
        sse = asyncio.create_task(asyncio.to_thread(sse_messages, svc, token, task_id))
        ws = asyncio.create_task(ws_messages(svc, token, task_id))

        async def streams_open(sse_count: int, ws_count: int) -> Series:
            deadline = time.monotonic() + 20
            while True:
                series = await asyncio.to_thread(scrape, url)
                if (
                    value(series, "resimply_streams_open", transport="sse"),
                    value(series, "resimply_streams_open", transport="ws"),
                ) == (sse_count, ws_count):
                    return series
                assert time.monotonic() < deadline, "resimply_streams_open did not follow"
                await asyncio.sleep(0.1)

        series = await streams_open(1, 1)
        assert value(series, "resimply_queue_jobs", state="waiting") == 1
        assert value(series, "resimply_queue_jobs", state="running") == 0
        assert 0 < value(series, "resimply_queue_oldest_age_seconds") < 30
        assert value(series, "resimply_workers_alive") == 0
        cancel = httpx.delete(f"{svc.base_url}/task/{task_id}", headers=auth(token))
        assert cancel.status_code in (200, 202), cancel.text
        (status, sse_seen), (code, ws_seen) = await asyncio.wait_for(asyncio.gather(sse, ws), 30)
        assert (status, code) == (200, 1000)
        assert sse_seen[-1]["status"] == ws_seen[-1]["status"] == "CANCELLED"
        await streams_open(0, 0)
        # (The cancelled task's job stays queued until a worker takes and drops it.)
    except BaseException:
        print(svc.logs())
        raise
    finally:
        svc.stop()


def test_an_attempts_status_label_is_its_http_status_or_a_word() -> None:
    import openai

    assert metrics._status_of(None) == "ok"
    assert metrics._status_of(_Refused(429)) == "429"
    assert metrics._status_of(TimeoutError()) == "timeout"
    timeout = openai.APITimeoutError(request=httpx.Request("POST", "https://api.openai.com/"))
    try:
        try:
            raise timeout
        except openai.APITimeoutError:
            raise Transient("openai timed out") from None  # as the adapters raise it
    except Transient as exc:
        assert metrics._status_of(exc) == "timeout"
    assert metrics._status_of(ValueError("https://example.com/secret")) == "error"
    assert metrics._status_of(_Refused(999)) == "error"  # not an HTTP status
