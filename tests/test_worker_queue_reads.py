"""The worker's queue reads leave out the jobs it is running (see `skip_own_running_jobs`)."""

import asyncio

import pytest
from arq.connections import ArqRedis
from redis.asyncio import Redis

from resimply import worker


async def test_queue_reads_leave_out_this_workers_running_jobs(
    redis: Redis, key_prefix: str
) -> None:
    queue = f"{key_prefix}queue"
    await redis.zadd(queue, {"a": 1, "b": 2, "c": 3})
    pool = ArqRedis(connection_pool=redis.connection_pool)
    running: set[str] = set()
    worker.skip_own_running_jobs(pool, running)

    assert await pool.zrangebyscore(queue, min=0, max=10) == [b"a", b"b", b"c"]
    running.update({"a", "c"})
    assert await pool.zrangebyscore(queue, min=0, max=10) == [b"b"]
    running.clear()
    assert await pool.zrangebyscore(queue, min=0, max=10) == [b"a", b"b", b"c"]


async def test_a_job_counts_as_running_exactly_while_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def run_task(deps: object, task_id: str, *, attempt: int) -> str:
        started.set()
        await release.wait()
        return "SUCCESS"

    monkeypatch.setattr(worker, "run_task", run_task)
    ctx: dict[str, object] = {"deps": None, "running": set(), "job_try": 1}
    job = asyncio.create_task(worker.process_task(ctx, "t-1"))
    await started.wait()
    assert ctx["running"] == {"t-1"}
    release.set()
    assert await job == "SUCCESS"
    assert ctx["running"] == set()
