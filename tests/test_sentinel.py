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
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import ResponseError

from resimply.outages import PatientRetry, is_unavailable
from resimply.resources import open_redis, open_request_redis, open_worker_redis
from resimply.sample import SAMPLE_VIDEO
from resimply.settings import Settings, SettingsError
from resimply.worker import worker_options
from tests.client import sse_messages, submit, ws_messages
from tests.faults import statuses, video_copy
from tests.sentinels import MASTER_NAME, SentinelGroup
from tests.servers import GatedVideoServer, Service, wait_for

CAPTION = SAMPLE_VIDEO.with_suffix(".txt").read_text()
USER = "5e5e5e5e-5e5e-4e5e-8e5e-5e5e5e5e5e5e"
HANG_S = 10


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
def ha_service(group: SentinelGroup, tmp_path: Path) -> Iterator[Service]:
    env = group.env
    svc = Service(
        env.pop("REDIS_URL"),
        tmp_path,
        **env,
        RESIMPLY_WORKER_MAX_JOBS="20",
        RESIMPLY_RATE_LIMIT_PER_MINUTE="1000",
    )
    try:
        svc.start(workers=2)
        yield svc
    except BaseException:
        print(svc.logs()[-20000:])
        print(group.logs())
        raise
    finally:
        svc.stop()


class Submitter(threading.Thread):
    """A client submitting a new video every `every_s`, noting each answer's time."""

    def __init__(self, svc: Service, token: str, tmp: Path, every_s: float = 0.3) -> None:
        super().__init__(daemon=True)
        self.svc, self.token, self.tmp, self.every_s = svc, token, tmp, every_s
        self.answers: list[tuple[float, int, str | None]] = []  # (time, status, task id)
        self.stopping = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            n += 1
            url = video_copy(self.tmp, f"steady{n}")
            try:
                response = submit(self.svc, self.token, {"url": url})
                status = response.status_code
                task_id = response.json().get("task_id") if status == 202 else None
            except httpx.HTTPError:
                status, task_id = 0, None
            self.answers.append((time.monotonic(), status, task_id))
            self.stopping.wait(self.every_s)

    def accepted(self, after: float = 0.0) -> list[str]:
        return [t for at, status, t in self.answers if status == 202 and t and at > after]


def first_sse_message(svc: Service, token: str, task_id: str) -> dict[str, Any]:
    """Open the task's SSE stream, take its first message and leave."""
    with httpx.stream(
        "GET", f"{svc.base_url}/events/{task_id}", params={"token": token}, timeout=30
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data:"):
                message: dict[str, Any] = json.loads(line.removeprefix("data:"))
                return message
    raise AssertionError("no message")


def ended_once(messages: list[dict[str, Any]]) -> bool:
    """One completion, last, and no event twice: a watcher that rode the failover."""
    ids = [m["event_id"] for m in messages]
    return (
        bool(messages)
        and (messages[-1]["type"], messages[-1]["status"]) == ("completion", "SUCCESS")
        and sum(m["type"] in ("completion", "error") for m in messages) == 1
        and len(set(ids)) == len(ids)
    )


@pytest.mark.timeout(400)
@pytest.mark.parametrize("fault", ["SIGKILL", "DEBUG SLEEP"])
async def test_a_failover_mid_run_loses_no_accepted_task_and_every_watcher_resumes(
    group: SentinelGroup,
    ha_service: Service,
    gated_video: GatedVideoServer,
    tmp_path: Path,
    fault: str,
) -> None:
    """SIGKILL: the master is gone. DEBUG SLEEP: it hangs (connections open, no
    answers) for HANG_S, long past the failover, then wakes up as master until
    Sentinel makes it a replica of the new one."""
    svc = ha_service
    token = svc.token(USER)
    # Three tasks held in their download, each followed over WebSocket and SSE.
    held = []
    for n in range(3):
        url = gated_video.url.replace("video.mp4", f"held{n}.mp4")
        response = submit(svc, token, {"url": url, "caption": CAPTION})
        assert response.status_code == 202, response.text
        held.append(response.json()["task_id"])
    await asyncio.to_thread(wait_for, lambda: gated_video.requests == 3, what="held downloads")
    watchers = [asyncio.create_task(ws_messages(svc, token, t)) for t in held]
    watchers += [
        asyncio.create_task(asyncio.to_thread(sse_messages, svc, token, t, timeout=180))
        for t in held
    ]
    # A client that leaves before the failover and comes back after it.
    first = await asyncio.to_thread(first_sse_message, svc, token, held[0])
    await asyncio.to_thread(
        wait_for,
        lambda: httpx.get(f"{svc.base_url}/health", timeout=5).json()["streams"] == 6,
        what="six open streams",
    )

    submitter = Submitter(svc, token, tmp_path)
    submitter.start()
    await asyncio.sleep(3)  # tasks queued, running and finishing when the master dies
    killed_at = time.monotonic()
    if fault == "SIGKILL":
        group.kill_master()
    else:
        group.hang_master(HANG_S)
    promoted_at = await asyncio.to_thread(group.wait_promoted)
    await asyncio.to_thread(
        wait_for,
        lambda: len(submitter.accepted(after=killed_at)) >= 5,
        timeout=60,
        what="submissions accepted again",
    )
    submitter.stopping.set()
    await asyncio.to_thread(submitter.join, 30)
    gated_video.release()

    resumed = await asyncio.to_thread(
        sse_messages, svc, token, held[0], last_event_id=first["event_id"], timeout=120
    )
    ends = await asyncio.wait_for(asyncio.gather(*watchers), timeout=180)

    accepted = held + submitter.accepted()
    deadline = time.monotonic() + 120
    final = statuses(svc, token, accepted)
    while time.monotonic() < deadline and not all(s == "SUCCESS" for s in final.values()):
        await asyncio.sleep(0.5)
        final = statuses(svc, token, accepted)
    completed = [t for t, s in final.items() if s == "SUCCESS"]
    lost = [t for t, s in final.items() if s == "?"]  # unknown on the new master
    refused = [a for a in submitter.answers if a[1] != 202 and a[0] > killed_at]
    before = [at for at, status, _ in submitter.answers if status == 202 and at < killed_at]
    after = [at for at, status, _ in submitter.answers if status == 202 and at > killed_at]
    gap = after[0] - (before[-1] if before else killed_at)
    resumed_ok = [ended_once(messages) for _, messages in ends]
    resumed_ok.append(
        resumed[0] == 200
        and ended_once([first, *resumed[1]])
        and all(m["event_id"] > first["event_id"] for m in resumed[1])
    )
    print(
        f"\nsentinel failover (master: {fault} mid-run):"
        f"\n  tasks accepted {len(accepted)}, completed {len(completed)}, lost {len(lost)},"
        f" not finished {len(accepted) - len(completed) - len(lost)}"
        f"\n  watchers resumed {sum(resumed_ok)}/{len(resumed_ok)}"
        f" (3 WebSocket + 3 SSE kept open, 1 SSE back with Last-Event-ID)"
        f"\n  fault -> replica promoted {promoted_at - killed_at:.1f} s;"
        f" without service (last 202 before -> first after) {gap:.1f} s;"
        f" submissions refused meanwhile {len(refused)}"
        f" ({sorted({a[1] for a in refused})})"
    )
    assert lost == [] and len(completed) == len(accepted), final
    assert all(resumed_ok), (ends, resumed)
    assert {status for _, status, _ in refused} <= {503}, refused  # told to retry, never a 500
    assert gap < 30, gap
    for process in svc.processes:
        assert process.proc.poll() is None, process.log()[-3000:]
    assert httpx.get(f"{svc.base_url}/health", timeout=5).json()["workers"] == 2


def test_a_master_without_its_replicas_counts_as_unavailable() -> None:
    """`min-replicas-to-write` (OPERATIONS.md): a master cut off from its replicas
    refuses writes with NOREPLICAS, which the web answers 503 and a job retries."""
    refusal = ResponseError("NOREPLICAS Not enough good replicas to write.")
    assert is_unavailable(refusal)
