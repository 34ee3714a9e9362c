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
master makes them ask the sentinels again; `+switch-master` frees commands stuck
on a hung master) are tested without the service's processes; the replication
wait on acceptance (replication.py) with them: an accepted task survives its
master killed right after the 202, and a replica too slow to acknowledge makes
the 202 come after 200 ms with a warning. (On one host the replication window
cannot be shown open: the killed master's socket still delivers what it sent,
so the survival test passes with RESIMPLY_ACCEPT_REPLICAS=0 too; it guards the
wait against regressions, the DEBUG SLEEP test shows the wait is real.)"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import ResponseError

from resimply import metrics, sentinel_watch
from resimply.jobs import JobQueue
from resimply.keys import Keys
from resimply.outages import PatientRetry, is_unavailable
from resimply.resources import open_redis, open_request_redis, open_worker_redis, task_store
from resimply.settings import Settings, SettingsError
from resimply.tasks import TaskStore
from resimply.worker import worker_options
from tests.client import submit
from tests.failover import FAULTS, USER, failover_mid_run, ha_service
from tests.faults import statuses, video_copy, wait_finished
from tests.sentinels import MASTER_NAME, SentinelGroup
from tests.servers import BIN, GatedVideoServer, Service, wait_for


def test_sentinels_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {"REDIS_SENTINELS": "s1:26379, s2:26380,s3", "REDIS_SENTINEL_MASTER": "main"}
    )
    assert settings.redis_sentinels == (("s1", 26379), ("s2", 26380), ("s3", 26379))
    assert settings.redis_sentinel_master == "main"
    assert Settings.from_env({}).redis_sentinels == ()
    with pytest.raises(SettingsError, match="REDIS_SENTINELS must list sentinels as host:port"):
        Settings.from_env({"REDIS_SENTINELS": "s1:notaport"})


def test_the_replication_wait_on_acceptance_is_read_from_the_environment() -> None:
    defaults = Settings.from_env({})
    assert (defaults.accept_replicas, defaults.accept_wait_ms) == (1, 200)
    tuned = Settings.from_env({"RESIMPLY_ACCEPT_REPLICAS": "2", "RESIMPLY_ACCEPT_WAIT_MS": "50"})
    assert (tuned.accept_replicas, tuned.accept_wait_ms) == (2, 50)
    assert Settings.from_env({"RESIMPLY_ACCEPT_REPLICAS": "0"}).accept_replicas == 0  # off
    with pytest.raises(SettingsError, match="RESIMPLY_ACCEPT_WAIT_MS must be positive"):
        Settings.from_env({"RESIMPLY_ACCEPT_WAIT_MS": "0"})
    with pytest.raises(SettingsError, match="RESIMPLY_ACCEPT_REPLICAS must be a whole number"):
        Settings.from_env({"RESIMPLY_ACCEPT_REPLICAS": "one"})


async def test_only_a_store_on_sentinels_waits_for_replicas() -> None:
    """Without Sentinel no replica takes over, so none is waited for (nor does
    WAIT cost a round trip on every submission)."""
    plain = Settings(accept_replicas=1)
    on_sentinels = Settings(
        accept_replicas=1, accept_wait_ms=80, redis_sentinels=(("127.0.0.1", 26379),)
    )
    for settings, replicas in ((plain, None), (on_sentinels, 1)):
        client = open_request_redis(settings)
        store = task_store(client, settings, jobs=JobQueue(client, Keys("x:")))
        wait = store._accept_wait
        assert (wait.replicas if wait else None) == replicas
        assert wait is None or wait.timeout_ms == 80
        await client.aclose()


async def test_an_unreplicated_submission_is_accepted_counted_and_logged(
    redis: Redis, key_prefix: str
) -> None:
    """A master without a replica (the test Redis): WAIT gives up after its
    timeout, and the task is accepted anyway, counted once (not its duplicate)."""
    keys = Keys(key_prefix)
    store = TaskStore(
        redis,
        keys,
        ttl_s=60,
        stream_maxlen=10,
        dedupe_ttl_s=60,
        jobs=JobQueue(redis, keys),
        accept_replicas=1,
        accept_wait_ms=50,
    )
    accepts = metrics.UNREPLICATED_WRITES.labels(write="accept")
    finishes = metrics.UNREPLICATED_WRITES.labels(write="finish")
    before, finished_before = accepts._value.get(), finishes._value.get()
    submit = dict(
        user_id="u1",
        url="https://x/v.mp4",
        canonical_url="https://x/v.mp4",
        language=None,
        caption=None,
        idempotency_key=None,
    )
    started = time.monotonic()
    first = await store.create(**submit)  # type: ignore[arg-type]
    waited = time.monotonic() - started
    again = await store.create(**submit)  # type: ignore[arg-type]
    assert (first.http_status, again.http_status) == (202, 200)
    assert again.task_id == first.task_id
    assert waited >= 0.05  # WAIT ran, after the writes, and timed out
    assert await redis.zscore(keys.queue, first.task_id) is not None  # job queued
    assert accepts._value.get() == before + 1
    await redis.script_flush()  # NOSCRIPT: loaded again, still waited for
    third = await store.create(
        **{**submit, "url": "https://x/w.mp4", "canonical_url": "https://x/w.mp4"}
    )  # type: ignore[arg-type]
    assert third.http_status == 202
    assert accepts._value.get() == before + 2
    # A task's end waits too; a second end writes nothing and is not counted.
    record = await store.get(third.task_id)
    assert record is not None
    ended = await store.fail(record, code="internal", text="x", retryable=True)
    assert (
        ended is not None
        and await store.fail(record, code="internal", text="x", retryable=True) is None
    )
    assert finishes._value.get() == finished_before + 1


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


@pytest.mark.timeout(120)
async def test_a_switch_announced_by_the_sentinels_frees_commands_stuck_on_a_hung_master(
    group: SentinelGroup,
) -> None:
    """A worker's command on a frozen master (SIGSTOP) would wait out its 30 s read
    timeout; on `+switch-master` the watcher disconnects the pool at once and the
    command goes to the new master."""
    settings = Settings(
        redis_sentinels=tuple(("127.0.0.1", s.port) for s in group.sentinels),
        redis_sentinel_master=MASTER_NAME,
    )
    client = open_worker_redis(settings)  # socket_timeout 30 s, waits Redis out
    watcher = sentinel_watch.start(settings)
    try:
        await client.set("before", "1")
        await asyncio.sleep(0.5)  # the watcher subscribed
        group.freeze_master()
        frozen_at = time.monotonic()
        stuck = asyncio.create_task(client.set("during", "1"))
        promoted_at = await asyncio.to_thread(group.wait_promoted)
        await asyncio.wait_for(stuck, timeout=25)
        freed_s = time.monotonic() - promoted_at
        print(
            f"\npromoted {promoted_at - frozen_at:.1f} s after the freeze; command done {freed_s:.1f} s after"
        )
        assert freed_s < 10, freed_s  # not the 30 s read timeout
        assert group.replica.client().get("during") == b"1"
    finally:
        await sentinel_watch.stop(watcher)
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


# The suite runs the failover that must never lose a task. A hung master (DEBUG
# SLEEP, SIGSTOP) still can, about 1 run in 5 here, through arq's job start
# (deploy/OPERATIONS.md, "Known, open"): those run in `make chaos` (failover),
# which prints what each did, until that is mended.
SUITE_FAULTS = ("SIGKILL",)
assert set(SUITE_FAULTS) <= set(FAULTS)


@pytest.mark.timeout(400)
@pytest.mark.parametrize("fault", SUITE_FAULTS)
async def test_a_failover_mid_run_loses_no_accepted_task_and_every_watcher_resumes(
    group: SentinelGroup,
    service_on_sentinels: Service,
    gated_video: GatedVideoServer,
    tmp_path: Path,
    fault: str,
) -> None:
    """SIGKILL: the master is gone. DEBUG SLEEP: it hangs (connections open, no
    answers) for HANG_S, long past the failover, then wakes up as master until
    Sentinel makes it a replica of the new one. SIGSTOP: it hangs for good; the
    clients drop their connections to it at the sentinels' `+switch-master`."""
    svc = service_on_sentinels
    run = await failover_mid_run(group, svc, gated_video, tmp_path, fault)
    print("\n" + run.report())
    try:
        assert run.lost == [] and len(run.completed) == len(run.accepted), run
        assert all(run.watchers_resumed), run
        assert set(run.refused) <= {503}, run  # told to retry, never a 500
        assert run.without_service_s < 30, run
        for process in svc.processes:
            assert process.proc.poll() is None, process.log()[-3000:]
        assert httpx.get(f"{svc.base_url}/health", timeout=5).json()["workers"] == 2
    except AssertionError:  # the fixtures print the logs only for their own errors
        unfinished = set(run.accepted) - set(run.completed)
        print(f"unfinished: {sorted(unfinished)}\n{svc.logs()[-30000:]}\n{group.logs()}")
        raise


def test_a_master_without_its_replicas_counts_as_unavailable() -> None:
    """`min-replicas-to-write` (OPERATIONS.md): a master cut off from its replicas
    refuses writes with NOREPLICAS, which the web answers 503 and a job retries."""
    refusal = ResponseError("NOREPLICAS Not enough good replicas to write.")
    assert is_unavailable(refusal)


def unreplicated(svc: Service) -> float:
    """The web process's `resimply_unreplicated_writes_total{write="accept"}`
    (0 before the first count: the series exists once a store waits)."""
    text = httpx.get(f"{svc.base_url}/metrics", timeout=10).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = families["resimply_unreplicated_writes"].samples
    return sum(s.value for s in samples if s.labels.get("write") == "accept")


@pytest.fixture
def web_on_sentinels(group: SentinelGroup, tmp_path: Path) -> Iterator[Service]:
    """`resimply serve` on the group, no worker yet: accepted tasks wait in the queue."""
    svc = ha_service(group, tmp_path)
    try:
        svc.start(workers=0)
        yield svc
    except BaseException:
        print(svc.logs()[-20000:])
        print(group.logs())
        raise
    finally:
        svc.stop()


@pytest.mark.timeout(200)
def test_an_accepted_task_survives_its_master_killed_right_after_the_202(
    group: SentinelGroup, web_on_sentinels: Service, tmp_path: Path
) -> None:
    """The 202 comes after the replica has the task (WAIT): SIGKILL the master the
    moment it is answered, and the task is on the promoted replica, queued, and
    runs to its end on a worker started after the failover."""
    svc = web_on_sentinels
    token = svc.token(USER)
    accepted = []
    for n in range(5):
        response = submit(svc, token, {"url": video_copy(tmp_path, f"v{n}")})
        assert response.status_code == 202, response.text
        accepted.append(response.json()["task_id"])
    group.kill_master()  # right after the last 202
    group.wait_promoted()
    new_master = group.replica.client()
    queue = new_master.zrange(Keys(svc.env["RESIMPLY_KEY_PREFIX"]).queue, 0, -1)
    assert {t.encode() for t in accepted} <= set(queue)
    svc.spawn([str(BIN / "arq"), "resimply.worker.WorkerSettings"], "worker-after")
    wait_finished(svc, token, accepted, timeout=120)
    assert set(statuses(svc, token, accepted).values()) == {"SUCCESS"}
    assert unreplicated(svc) == 0


@pytest.mark.timeout(120)
def test_a_submission_the_replica_does_not_acknowledge_in_time_is_accepted_with_a_warning(
    group: SentinelGroup, web_on_sentinels: Service, tmp_path: Path
) -> None:
    """The replica stops answering (`DEBUG SLEEP`): WAIT gives up after
    RESIMPLY_ACCEPT_WAIT_MS (200), the submission is accepted anyway, counted and
    logged; the replica has the task once it wakes up."""
    svc = web_on_sentinels
    token = svc.token(USER)
    warm = submit(svc, token, {"url": video_copy(tmp_path, "warm")})
    assert warm.status_code == 202 and unreplicated(svc) == 0
    sleeper = socket.create_connection(("127.0.0.1", group.replica.port), timeout=5)
    try:
        sleeper.sendall(b"DEBUG SLEEP 2\r\n")
        time.sleep(0.2)  # the replica is asleep
        started = time.monotonic()
        response = submit(svc, token, {"url": video_copy(tmp_path, "late")})
        took = time.monotonic() - started
        assert response.status_code == 202, response.text
        assert 0.2 <= took < 2, took  # waited the 200 ms, not for the replica
        assert unreplicated(svc) == 1
        assert '"write_unreplicated"' in svc.web.log()
        task_key = Keys(svc.env["RESIMPLY_KEY_PREFIX"]).task(response.json()["task_id"])
        wait_for(lambda: group.replica.client().exists(task_key) == 1, timeout=10, what="sync")
    finally:
        sleeper.close()
