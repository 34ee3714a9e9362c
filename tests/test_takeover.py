"""A killed worker costs a lease, not the job timeout (`resimply/lease.py`).

Real arq workers with default settings (a 45 s lease, a 15 min job timeout):
one is SIGKILLed in the middle of a job and another finishes the task; a live
worker keeps its job past the lease. Jobs are held in their download step by a
local video server until the test releases them (as in test_shutdown.py)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq.constants import in_progress_key_prefix
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from resimply.heartbeat import INTERVAL_S, Heartbeat
from resimply.keys import Keys
from resimply.lease import LEASE_S, Leases
from resimply.resources import RETRY_ON_ERROR, redis_retry
from resimply.sample import SAMPLE_VIDEO
from resimply.settings import Settings
from tests.client import auth, sse_messages, submit
from tests.servers import BIN, GatedVideoServer, Process, RedisServer, Service, wait_for

CAPTION = SAMPLE_VIDEO.with_suffix(".txt").read_text()
JOB_TIMEOUT_S = Settings().job_timeout_s + Settings().worker_job_grace_s
# The process tests wait out a real 45 s lease, on top of starting three processes.
slow = pytest.mark.timeout(300)


@pytest.fixture
def service(redis_url: str, tmp_path: Path) -> Any:
    svc = Service(redis_url, tmp_path)
    try:
        yield svc
    except BaseException:
        print(svc.logs())
        raise
    finally:
        svc.stop()


def start_gated_task(
    svc: Service, user: str, gated_video: GatedVideoServer
) -> tuple[str, str, Process, Process]:
    """Web + worker A running a task held in its download, and an idle worker B."""
    svc.start(workers=1)
    token = svc.token(user)
    response = submit(svc, token, {"url": gated_video.url, "caption": CAPTION})
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    wait_for(lambda: gated_video.requests == 1, what="worker A's download")
    first = svc.processes[1]
    second = svc.spawn([str(BIN / "arq"), "resimply.worker.WorkerSettings"], "worker-b")
    wait_for(
        lambda: httpx.get(f"{svc.base_url}/health").json()["workers"] == 2,
        timeout=60,
        what="worker B",
    )
    return token, task_id, first, second


def lease_ms(redis_url: str, task_id: str) -> int:
    with SyncRedis.from_url(redis_url) as redis:
        return int(redis.pttl(in_progress_key_prefix + task_id))


def assert_done_once(svc: Service, token: str, task_id: str) -> list[dict[str, Any]]:
    status, messages = sse_messages(svc, token, task_id, timeout=120)
    assert status == 200
    final = messages[-1]
    assert (final["type"], final["status"]) == ("completion", "SUCCESS"), final
    assert sum(m["type"] in ("completion", "error") for m in messages) == 1
    task = httpx.get(f"{svc.base_url}/task/{task_id}", headers=auth(token), timeout=10).json()
    assert task["status"] == "SUCCESS"
    recipes = httpx.get(f"{svc.base_url}/recipes", headers=auth(token), timeout=10).json()
    assert [r["id"] for r in recipes["recipes"]] == [task["result"]["recipe_id"]]
    return messages


async def test_a_lease_is_renewed_only_while_its_key_exists(redis: Redis) -> None:
    running = {"job-live", "job-ended"}
    leases = Leases(redis, running)
    live, ended = (in_progress_key_prefix + j for j in ("job-live", "job-ended"))
    await redis.psetex(live, JOB_TIMEOUT_S * 1000, b"1")  # as arq's start_jobs
    await leases.take("job-live")
    assert 0 < await redis.pttl(live) <= LEASE_S * 1000

    heartbeat = Heartbeat(redis, Keys(f"lease-{id(leases)}:"), "w1", leases=leases)
    await redis.pexpire(live, 1000)
    await heartbeat.start()  # one beat
    await heartbeat.stop()
    assert await redis.pttl(live) > 1000  # renewed to a full lease
    assert await redis.exists(ended) == 0  # a finished job's key is not brought back
    await redis.delete(live)


@slow
async def test_a_lease_outlasts_a_30_s_redis_outage(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, aof=True)
    server.start()
    # The worker's client settings (resources.open_redis).
    redis = Redis.from_url(
        server.url, socket_connect_timeout=5, retry=redis_retry(), retry_on_error=RETRY_ON_ERROR
    )
    key = in_progress_key_prefix + "job"
    heartbeat = Heartbeat(redis, Keys("outage:"), "w1", leases=Leases(redis, {"job"}))
    try:
        await redis.psetex(key, JOB_TIMEOUT_S * 1000, b"1")
        await heartbeat.start()
        assert 0 < await redis.pttl(key) <= LEASE_S * 1000
        await asyncio.sleep(INTERVAL_S - 0.5)  # the worst moment: just before a renewal
        server.stop()
        await asyncio.sleep(30)
        server.start()
        back = time.monotonic()
        left = await redis.pttl(key)
        assert left > 0, "the lease ran out during the outage"
        # The next beat renews it (beats are bounded, so none is stuck in retries).
        while 0 < (ttl := await redis.pttl(key)) <= left:
            await asyncio.sleep(0.1)
        assert ttl > left, "the lease ran out before it was renewed"
        renewed = time.monotonic() - back
        print(f"lease left after a 30 s outage: {left / 1000:.1f} s; renewed {renewed:.1f} s later")
    finally:
        await heartbeat.stop()
        await redis.aclose()
        server.stop()


@slow
def test_a_killed_workers_task_is_finished_by_another_worker_within_a_lease(
    redis_url: str, service: Service, gated_video: GatedVideoServer
) -> None:
    token, task_id, first, second = start_gated_task(
        service, "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeee1", gated_video
    )
    # Worker A holds a lease, not arq's job-timeout lock.
    assert 0 < lease_ms(redis_url, task_id) <= LEASE_S * 1000

    first.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    first.proc.wait(10)
    # Before the lease, arq kept the job locked for the job timeout + 10 s.
    wait_for(
        lambda: gated_video.requests == 2,
        timeout=JOB_TIMEOUT_S / 5,
        what="worker B's download of the taken-over job",
    )
    taken_over = time.monotonic() - killed
    gated_video.release()
    messages = assert_done_once(service, token, task_id)
    print(f"takeover after SIGKILL: {taken_over:.1f} s (lease {LEASE_S:.0f} s)")

    assert task_id in second.log()
    assert second.proc.poll() is None
    # The stream shows the restart: step 1 again after the steps of the lost run.
    steps = [m["step"] for m in messages if m["type"] == "progress"]
    restart = steps.index(1, 1)
    assert max(steps[:restart]) == 3, steps
    progress = [m for m in messages if m["type"] == "progress"]
    assert progress[restart]["details"] == "Starting again: the previous run was interrupted"


@slow
def test_a_live_worker_keeps_its_job_past_the_lease(
    redis_url: str, service: Service, gated_video: GatedVideoServer
) -> None:
    token, task_id, first, second = start_gated_task(
        service, "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeee2", gated_video
    )
    # Worker B polls the queue all along; the job stays with A while A renews
    # its lease, well past the lease's length.
    until = time.monotonic() + LEASE_S + 10
    while time.monotonic() < until:
        assert 0 < lease_ms(redis_url, task_id) <= LEASE_S * 1000
        assert gated_video.requests == 1
        time.sleep(1.0)
    gated_video.release()
    assert_done_once(service, token, task_id)
    assert task_id in first.log()
    assert task_id not in second.log()


@slow
def test_a_task_cancelled_while_its_worker_is_dead_stays_cancelled(
    redis_url: str, service: Service, gated_video: GatedVideoServer
) -> None:
    token, task_id, first, second = start_gated_task(
        service, "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeee3", gated_video
    )
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    response = httpx.delete(f"{service.base_url}/task/{task_id}", headers=auth(token), timeout=10)
    assert response.status_code == 202, response.text
    _, messages = sse_messages(service, token, task_id)
    assert (messages[-1]["type"], messages[-1]["status"]) == ("error", "CANCELLED")

    # Once the lease is over, worker B takes the job and honours arq's abort.
    wait_for(
        lambda: "aborted before start" in second.log(),
        timeout=JOB_TIMEOUT_S / 5,
        what="worker B's abort of the job",
    )
    queue = Keys(service.env["RESIMPLY_KEY_PREFIX"]).queue
    with SyncRedis.from_url(redis_url) as redis:
        assert redis.zscore(queue, task_id) is None
    assert gated_video.requests == 1
    task = httpx.get(f"{service.base_url}/task/{task_id}", headers=auth(token), timeout=10).json()
    assert task["status"] == "CANCELLED"
    recipes = httpx.get(f"{service.base_url}/recipes", headers=auth(token), timeout=10).json()
    assert recipes["recipes"] == []
