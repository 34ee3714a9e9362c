"""Redis outages are ridden out (issue 11): with real processes and a private
redis-server per test, stopped for 30 s, hung (SIGSTOP), or full (`maxmemory` +
`noeviction`). The web answers `503 service_unavailable` + `Retry-After`; the
worker keeps running, waits Redis out, and afterwards finishes every accepted
task, each stored exactly once; the logs say so once, not per failed command."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    ConnectionError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
    TimeoutError,
    WatchError,
)

from resimply.outages import OutageLog, is_unavailable
from tests.client import auth, submit
from tests.faults import fill, free, log_lines, statuses, stored_rows, video_copy, wait_finished
from tests.servers import GatedVideoServer, Process, RedisServer, Service, wait_for

USER = "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee"
OUTAGE_S = 30


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (ConnectionError("Error 111 connecting"), True),
        (TimeoutError("Timeout reading from socket"), True),
        (BusyLoadingError("Redis is loading the dataset in memory"), True),
        (OutOfMemoryError("command not allowed when used memory > 'maxmemory'."), True),
        (ReadOnlyError("You can't write against a read only replica."), True),
        (ResponseError("MISCONF Redis is configured to save RDB snapshots"), True),
        (ResponseError("MASTERDOWN Link with MASTER is down"), True),
        (ResponseError("Error running script: OOM command not allowed when used memory"), True),
        (AuthenticationError("invalid username-password pair"), False),
        (ResponseError("WRONGTYPE Operation against a key holding the wrong kind"), False),
        (WatchError("Watched variable changed."), False),
        (ValueError("not Redis at all"), False),
    ],
)
def test_what_counts_as_redis_being_unavailable(error: Exception, unavailable: bool) -> None:
    assert is_unavailable(error) is unavailable


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis-data", aof=True)
    server.dir.mkdir()
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.proc.send_signal(signal.SIGCONT)  # should a test have stopped it
    server.stop()


@pytest.fixture
def service(private_redis: RedisServer, tmp_path: Path) -> Iterator[Service]:
    svc = Service(private_redis.url, tmp_path)
    try:
        svc.start(workers=1)
        yield svc
    except BaseException:
        print(svc.logs())
        raise
    finally:
        svc.stop()


def worker(svc: Service) -> Process:
    return next(p for p in svc.processes if p.log_path.name == "worker0.log")


def web(svc: Service) -> Process:
    return next(p for p in svc.processes if p.log_path.name == "web.log")


def accept(svc: Service, token: str, url: str) -> str:
    response = submit(svc, token, {"url": url})
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def assert_refused_for_now(response: httpx.Response) -> None:
    """`503 service_unavailable` with a Retry-After, not a `500 internal`."""
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "service_unavailable"
    assert int(response.headers["retry-after"]) > 0
    assert f"try again in {response.headers['retry-after']} s" in response.json()["message"]


def assert_all_done_once(svc: Service, token: str, task_ids: list[str]) -> None:
    assert set(statuses(svc, token, task_ids).values()) == {"SUCCESS"}
    rows = stored_rows(svc)
    assert {task_id: rows[task_id] for task_id in task_ids} == dict.fromkeys(task_ids, 1)


def test_redis_stopped_for_30_s_web_answers_503_and_the_worker_finishes_every_task(
    private_redis: RedisServer, service: Service, gated_video: GatedVideoServer, tmp_path: Path
) -> None:
    token = service.token(USER)
    accepted = [accept(service, token, gated_video.url)]
    wait_for(lambda: gated_video.requests == 1, what="the gated job's download")
    accepted += [accept(service, token, video_copy(tmp_path, f"before{n}")) for n in range(3)]

    private_redis.stop()  # SIGTERM: Redis writes its AOF, as `docker compose stop`
    stopped_at = time.monotonic()
    # While it is away, REST refuses for now, and /health says unhealthy.
    assert_refused_for_now(submit(service, token, {"url": video_copy(tmp_path, "during")}))
    assert_refused_for_now(
        httpx.get(f"{service.base_url}/task/{accepted[0]}", headers=auth(token), timeout=10)
    )
    health = httpx.get(f"{service.base_url}/health", timeout=10)
    assert (health.status_code, health.json()["status"]) == (503, "unhealthy")
    gated_video.release()  # the running job goes on and meets the outage in its writes
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped_at)))  # the outage itself

    assert worker(service).proc.poll() is None, worker(service).log()[-3000:]
    private_redis.start()  # same port, same data (AOF)
    accepted.append(accept(service, token, video_copy(tmp_path, "after")))
    wait_finished(service, token, accepted, timeout=60)

    assert_all_done_once(service, token, accepted)
    for process in service.processes:
        assert process.proc.poll() is None, process.log()[-3000:]
    # One warning per client when Redis went, one line when it came back.
    worker_log = worker(service).log()
    assert 1 <= len(log_lines(worker_log, "redis_unavailable")) <= 2, worker_log[-3000:]
    assert log_lines(worker_log, "redis_available_again"), worker_log[-3000:]
    web_log = web(service).log()
    assert "Traceback" not in web_log, web_log[-3000:]
    assert 1 <= len(log_lines(web_log, "redis_unavailable")) <= 2, web_log[-3000:]


def test_a_full_redis_refuses_submissions_with_503_and_tasks_finish_once_it_has_room(
    private_redis: RedisServer, service: Service, gated_video: GatedVideoServer, tmp_path: Path
) -> None:
    token = service.token(USER)
    accepted = [accept(service, token, gated_video.url)]
    wait_for(lambda: gated_video.requests == 1, what="the gated job's download")

    fill(private_redis.url)
    assert_refused_for_now(submit(service, token, {"url": video_copy(tmp_path, "during")}))
    # Reads still work: a user can watch the task that is waiting.
    status = httpx.get(f"{service.base_url}/task/{accepted[0]}", headers=auth(token), timeout=10)
    assert status.status_code == 200
    gated_video.release()  # the job's next progress write is refused
    # arq's loop (its abort check is a MULTI, refused when full) and the job's own
    # client both meet the refusal, and wait.
    for client in ("arq", "worker"):
        wait_for(
            lambda c=client: (
                f'"client": "{c}"' in "".join(log_lines(worker(service).log(), "redis_unavailable"))
            ),
            timeout=30,
            what=f"the {client} client meeting a full Redis",
        )
    assert worker(service).proc.poll() is None, worker(service).log()[-3000:]

    free(private_redis.url)
    accepted.append(accept(service, token, video_copy(tmp_path, "after")))
    wait_finished(service, token, accepted, timeout=60)

    assert_all_done_once(service, token, accepted)
    assert worker(service).proc.poll() is None, worker(service).log()[-3000:]
    assert "Traceback" not in worker(service).log(), worker(service).log()[-3000:]
    assert "Traceback" not in web(service).log(), web(service).log()[-3000:]


def test_a_hung_redis_gets_503_within_seconds_and_the_worker_carries_on(
    private_redis: RedisServer, service: Service, gated_video: GatedVideoServer
) -> None:
    token = service.token(USER)
    accepted = [accept(service, token, gated_video.url)]
    wait_for(lambda: gated_video.requests == 1, what="the gated job's download")
    assert private_redis.proc is not None
    os.kill(private_redis.proc.pid, signal.SIGSTOP)  # accepts connections, answers nothing
    try:
        gated_video.release()
        # Not held until the client gives up: the request's Redis read timeout.
        assert_refused_for_now(
            httpx.get(f"{service.base_url}/task/{accepted[0]}", headers=auth(token), timeout=15)
        )
        health = httpx.get(f"{service.base_url}/health", timeout=15)
        assert (health.status_code, health.json()["status"]) == (503, "unhealthy")
    finally:
        os.kill(private_redis.proc.pid, signal.SIGCONT)

    wait_finished(service, token, accepted, timeout=60)
    assert_all_done_once(service, token, accepted)
    assert worker(service).proc.poll() is None, worker(service).log()[-3000:]


async def test_arqs_result_write_waits_for_a_full_redis_and_then_lands(tmp_path: Path) -> None:
    """arq's `finish_job` (a MULTI writing the result, dropping the job from the
    queue) on a full Redis: it waits, instead of failing and leaving the job to
    run again after its in-progress key expires; it lands once there is room."""
    from arq.connections import create_pool
    from arq.constants import result_key_prefix
    from arq.worker import Worker

    from resimply.outages import PatientRetry
    from resimply.settings import Settings
    from resimply.worker import worker_options

    server = RedisServer(tmp_path / "redis-data", aof=False)
    server.dir.mkdir()
    server.start()
    try:
        options = worker_options(Settings.from_env({"REDIS_URL": server.url}))
        arq_worker = Worker(**options, handle_signals=False)
        pool = await create_pool(options["redis_settings"])
        arq_worker._pool = pool
        patience = options["redis_settings"].retry
        assert isinstance(patience, PatientRetry)
        await pool.zadd(options["queue_name"], {"job1": 1})
        fill(server.url)

        finishing = asyncio.create_task(
            arq_worker.finish_job("job1", True, b"result", 300, False, None, None)
        )
        await wait_until(lambda: patience.outage.down)  # the write was refused
        assert not finishing.done()
        free(server.url)
        await asyncio.wait_for(finishing, 30)

        assert await pool.get(result_key_prefix + "job1") == b"result"
        assert await pool.zscore(options["queue_name"], "job1") is None
        assert not patience.outage.down
        await pool.aclose()
    finally:
        server.stop()


async def wait_until(check: Callable[[], bool], timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


def test_an_outage_is_logged_once_and_blips_after_it_are_only_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outage = OutageLog("worker", interval_s=60.0, quiet_s=3600)
    for _ in range(50):
        outage.failed(ConnectionError("refused"))
    outage.answered()
    for _ in range(10):  # a Redis at the edge of full: refused, taken, refused...
        outage.failed(OutOfMemoryError("command not allowed"))
        outage.answered()
    lines = capsys.readouterr().out.splitlines()
    assert [("redis_unavailable" in line, "redis_available_again" in line) for line in lines] == [
        (True, False),
        (False, True),
    ]
    assert re.search(r"failed_attempts\W+50\b", lines[1])  # console or JSON logs


def test_a_long_outage_soon_after_a_blip_is_still_logged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outage = OutageLog("arq", interval_s=60.0, quiet_s=0.0)
    outage.failed(ConnectionError("refused"))
    outage.answered()
    outage.failed(ConnectionError("refused"))  # within the interval, but past quiet_s
    lines = capsys.readouterr().out.splitlines()
    assert sum("redis_unavailable" in line for line in lines) == 2


def test_a_worker_stopped_while_redis_is_away_exits_instead_of_waiting(
    private_redis: RedisServer, service: Service
) -> None:
    private_redis.stop()
    wait_for(
        lambda: log_lines(worker(service).log(), "redis_unavailable"),
        what="the worker meeting the outage",
    )
    worker(service).proc.send_signal(signal.SIGTERM)
    # Not held until a supervisor's kill: SIGTERM ends the wait and the process.
    worker(service).proc.wait(20)
