"""Redis Sentinel (issue 16): the service on a master + replica + three sentinels,
and a failover in the middle of a run.

Real processes throughout: `resimply serve` and two `arq` workers find the master
through the sentinels (REDIS_SENTINELS); tasks are held in their download while
SSE and WebSocket watchers follow them, and a client keeps submitting. The
master is SIGKILLed; the sentinels promote the replica. Every accepted task
finishes, every open watcher ends with its task's completion (no event twice),
a client that left comes back with its last event id, and the figures (tasks
accepted / completed / lost, watchers resumed, seconds without service) are
printed — `pytest -s` shows them.

The settings and the clients' behaviour under sentinel (READONLY from a demoted
master makes them ask the sentinels again) are tested without the processes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import ResponseError

from resimply.outages import PatientRetry, is_unavailable
from resimply.resources import open_redis, open_request_redis, open_worker_redis
from resimply.settings import Settings, SettingsError
from resimply.worker import worker_options
from tests.failover import FAULTS, failover_mid_run, ha_service
from tests.sentinels import MASTER_NAME, SentinelGroup
from tests.servers import GatedVideoServer, Service, wait_for


def test_sentinels_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {"REDIS_SENTINELS": "s1:26379, s2:26380,s3", "REDIS_SENTINEL_MASTER": "main"}
    )
    assert settings.redis_sentinels == (("s1", 26379), ("s2", 26380), ("s3", 26379))
    assert settings.redis_sentinel_master == "main"
    assert Settings.from_env({}).redis_sentinels == ()
    with pytest.raises(SettingsError, match="REDIS_SENTINELS must list sentinels as host:port"):
        Settings.from_env({"REDIS_SENTINELS": "s1:notaport"})


async def test_every_client_asks_the_sentinels_and_keeps_its_patience() -> None:
    settings = Settings(
        redis_url="redis://:secret@ignored:1/3",
        redis_sentinels=(("127.0.0.1", 26379),),
        redis_sentinel_master="main",
    )
    clients = [open_redis(settings), open_request_redis(settings), open_worker_redis(settings)]
    for client in clients:
        pool = client.connection_pool
        assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "main"
        # The data nodes' password and database come from REDIS_URL.
        assert (pool.connection_kwargs["password"], pool.connection_kwargs["db"]) == ("secret", 3)
    assert isinstance(clients[2].connection_pool.connection_kwargs["retry"], PatientRetry)
    arq_pool = worker_options(settings)["redis_pool"]
    assert isinstance(arq_pool.connection_pool, SentinelConnectionPool)
    assert isinstance(arq_pool.connection_pool.connection_kwargs["retry"], PatientRetry)
    assert worker_options(Settings())["redis_pool"] is None  # arq builds its own from the URL
    for client in [*clients, arq_pool]:
        await client.aclose()


@pytest.fixture
def group(tmp_path: Path) -> Iterator[SentinelGroup]:
    sentinels = SentinelGroup(tmp_path / "redis")
    try:
        sentinels.start()
        yield sentinels
    except BaseException:
        print(sentinels.logs())
        raise
    finally:
        sentinels.stop()


async def test_a_demoted_master_sends_clients_to_the_new_one(group: SentinelGroup) -> None:
    """A switch without any process dying (SENTINEL FAILOVER): the old master, now a
    replica, answers writes READONLY; every kind of client asks the sentinels again
    and writes to the new master, instead of waiting for the replica to take them."""
    settings = Settings(
        redis_sentinels=tuple(("127.0.0.1", s.port) for s in group.sentinels),
        redis_sentinel_master=MASTER_NAME,
    )
    clients = [open_redis(settings), open_request_redis(settings), open_worker_redis(settings)]
    try:
        for n, client in enumerate(clients):
            await client.set(f"before{n}", "1")  # connected to the old master
        old = group.master_port()
        group.sentinels[0].client().sentinel_failover(MASTER_NAME)
        await asyncio.to_thread(
            wait_for, lambda: group.master_port() != old, timeout=30, what="switch"
        )
        # The old master kills its clients when it turns replica; wait for that.
        await asyncio.to_thread(
            wait_for,
            lambda: group.master.client().info("replication")["role"] == "slave",
            timeout=30,
            what="old master turned replica",
        )
        for n, client in enumerate(clients):
            await asyncio.wait_for(client.set(f"after{n}", "1"), timeout=20)
        new_master = group.replica.client()
        assert new_master.info("replication")["role"] == "master"
        assert all(new_master.get(f"after{n}") == b"1" for n in range(len(clients)))
    finally:
        for client in clients:
            await client.aclose()


@pytest.fixture
def service_on_sentinels(group: SentinelGroup, tmp_path: Path) -> Iterator[Service]:
    svc = ha_service(group, tmp_path)
    try:
        svc.start(workers=2)
        yield svc
    except BaseException:
        print(svc.logs()[-20000:])
        print(group.logs())
        raise
    finally:
        svc.stop()


@pytest.mark.timeout(400)
@pytest.mark.parametrize("fault", FAULTS)
async def test_a_failover_mid_run_loses_no_accepted_task_and_every_watcher_resumes(
    group: SentinelGroup,
    service_on_sentinels: Service,
    gated_video: GatedVideoServer,
    tmp_path: Path,
    fault: str,
) -> None:
    """SIGKILL: the master is gone. DEBUG SLEEP: it hangs (connections open, no
    answers) for HANG_S, long past the failover, then wakes up as master until
    Sentinel makes it a replica of the new one. SIGSTOP: it hangs for good, and
    every client must give up on it by its own read timeout."""
    svc = service_on_sentinels
    run = await failover_mid_run(group, svc, gated_video, tmp_path, fault)
    print("\n" + run.report())
    assert run.lost == [] and len(run.completed) == len(run.accepted), run
    assert all(run.watchers_resumed), run
    assert set(run.refused) <= {503}, run  # told to retry, never a 500
    assert run.without_service_s < 30, run
    for process in svc.processes:
        assert process.proc.poll() is None, process.log()[-3000:]
    assert httpx.get(f"{svc.base_url}/health", timeout=5).json()["workers"] == 2


def test_a_master_without_its_replicas_counts_as_unavailable() -> None:
    """`min-replicas-to-write` (OPERATIONS.md): a master cut off from its replicas
    refuses writes with NOREPLICAS, which the web answers 503 and a job retries."""
    refusal = ResponseError("NOREPLICAS Not enough good replicas to write.")
    assert is_unavailable(refusal)
