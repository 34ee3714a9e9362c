"""Operations that must survive a bad day, with real processes: SIGTERM to a web
process with open streams, SIGTERM to a worker in the middle of a job, and a
Redis restart (AOF on) in the middle of a run.

Jobs are made slow deterministically: the video comes from a local server that
holds the download open until the test releases it (development mode allows
loopback links)."""

from __future__ import annotations

import asyncio
import copy
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from resimply.sample import SAMPLE_VIDEO
from tests.client import auth, sse_messages, submit, ws_messages
from tests.servers import BIN, GatedVideoServer, RedisServer, Service, free_port, wait_for

CAPTION = SAMPLE_VIDEO.with_suffix(".txt").read_text()
USER = "dddddddd-dddd-4ddd-8ddd-dddddddddddd"


@pytest.fixture
def service_factory(tmp_path: Path) -> Any:
    services: list[Service] = []

    def make(redis_url: str) -> Service:
        svc = Service(redis_url, tmp_path)
        services.append(svc)
        return svc

    yield make
    for svc in services:
        svc.stop()


def task_status(svc: Service, token: str, task_id: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(
        f"{svc.base_url}/task/{task_id}", headers=auth(token), timeout=10
    ).json()
    return body


def submit_gated(svc: Service, token: str, gated_video: GatedVideoServer) -> str:
    response = submit(svc, token, {"url": gated_video.url, "caption": CAPTION})
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def another_web(svc: Service) -> Service:
    """A second `resimply serve` on the same Redis and key prefix, seen through a
    copy of the Service so the client helpers talk to it."""
    other = copy.copy(svc)
    other.port = free_port()
    other.base_url = f"http://127.0.0.1:{other.port}"
    svc.spawn(
        [str(BIN / "resimply"), "serve", "--host", "127.0.0.1", "--port", str(other.port)], "web2"
    )
    wait_for(lambda: httpx.get(f"{other.base_url}/health").status_code == 200, what="web2")
    return other


def assert_success(messages: list[dict[str, Any]]) -> None:
    assert messages, "no messages"
    final = messages[-1]
    assert (final["type"], final["status"]) == ("completion", "SUCCESS"), final
    assert sum(m["type"] in ("completion", "error") for m in messages) == 1


async def test_sigterm_to_web_ends_open_streams_and_clients_resume_elsewhere(
    redis_url: str, service_factory: Any, gated_video: GatedVideoServer
) -> None:
    svc = service_factory(redis_url)
    svc.start(workers=1)
    web2 = another_web(svc)
    token = svc.token(USER)
    task_id = submit_gated(svc, token, gated_video)
    wait_for(lambda: gated_video.requests == 1, what="the job's download")

    ws = asyncio.create_task(ws_messages(svc, token, task_id))
    sse = asyncio.create_task(asyncio.to_thread(sse_messages, svc, token, task_id))
    await asyncio.sleep(1.0)  # both are connected and have replayed the history
    assert not ws.done() and not sse.done()

    web = svc.processes[0]
    started = time.monotonic()
    web.proc.send_signal(signal.SIGTERM)
    (ws_code, ws_before), (sse_status, sse_before) = await asyncio.wait_for(
        asyncio.gather(ws, sse), timeout=5
    )
    ended = time.monotonic() - started
    assert web.proc.wait(10) == 0
    exited = time.monotonic() - started
    # The streams end at once; the process within its 5 s graceful timeout.
    assert ended < 3 and exited < 8, (ended, exited, web.log()[-2000:])
    assert ws_code == 1001, ws_code  # going away
    assert sse_status == 200
    assert ws_before and ws_before == sse_before
    assert all(m["type"] == "progress" for m in ws_before)

    # The clients resume on the other web process from their last event id.
    gated_video.release()
    _, sse_after = sse_messages(web2, token, task_id, last_event_id=sse_before[-1]["event_id"])
    ws_code, ws_after = await ws_messages(
        web2, token, task_id, last_event_id=ws_before[-1]["event_id"]
    )
    assert ws_code == 1000
    _, everything = sse_messages(web2, token, task_id)
    assert_success(everything)
    assert sse_before + sse_after == everything
    assert ws_before + ws_after == everything


def test_sigterm_to_a_worker_mid_job_hands_the_job_to_another_worker(
    redis_url: str, service_factory: Any, gated_video: GatedVideoServer
) -> None:
    svc = service_factory(redis_url)
    svc.start(workers=1)
    token = svc.token(USER)
    task_id = submit_gated(svc, token, gated_video)
    wait_for(lambda: gated_video.requests == 1, what="the job's download")
    assert task_status(svc, token, task_id)["step"] == 3

    first = svc.processes[1]
    second = svc.spawn([str(BIN / "arq"), "resimply.worker.WorkerSettings"], "worker1")
    wait_for(lambda: httpx.get(f"{svc.base_url}/health").json()["workers"] == 2, what="worker1")

    started = time.monotonic()
    first.proc.send_signal(signal.SIGTERM)
    first.proc.wait(20)
    stopped = time.monotonic() - started
    # compose.yaml gives workers a 30 s stop grace period; handing back is quick.
    assert stopped < 10, first.log()[-3000:]
    assert "will be run again" in first.log(), first.log()[-3000:]

    # The second worker downloads the video again and finishes the task.
    wait_for(lambda: gated_video.requests == 2, what="the second worker's download")
    gated_video.release()
    _, messages = sse_messages(svc, token, task_id)
    assert_success(messages)
    assert task_status(svc, token, task_id)["status"] == "SUCCESS"
    assert task_id in second.log()
    assert second.proc.poll() is None


async def test_a_redis_restart_mid_run_loses_no_accepted_task(
    tmp_path: Path, service_factory: Any, gated_video: GatedVideoServer
) -> None:
    redis = RedisServer(tmp_path / "redis-data", aof=True)
    redis.dir.mkdir()
    redis.start()
    try:
        svc = service_factory(redis.url)
        svc.start(workers=1)
        token = svc.token(USER)

        def sample_copy(name: str) -> str:
            target = tmp_path / f"{name}.mp4"
            shutil.copy(SAMPLE_VIDEO, target)
            shutil.copy(SAMPLE_VIDEO.with_suffix(".txt"), target.with_suffix(".txt"))
            return str(target)

        accepted = [submit_gated(svc, token, gated_video)]
        wait_for(lambda: gated_video.requests == 1, what="the job's download")
        for name in ("before1", "before2"):
            response = submit(svc, token, {"url": sample_copy(name)})
            assert response.status_code == 202, response.text
            accepted.append(response.json()["task_id"])
        readers = [
            asyncio.create_task(asyncio.to_thread(sse_messages, svc, token, task_id, timeout=90))
            for task_id in accepted
        ]
        await asyncio.sleep(0.5)

        redis.restart()  # a clean stop: the AOF has every acknowledged write

        response = submit(svc, token, {"url": sample_copy("after")})
        assert response.status_code == 202, response.text
        accepted.append(response.json()["task_id"])
        readers.append(
            asyncio.create_task(
                asyncio.to_thread(sse_messages, svc, token, accepted[-1], timeout=90)
            )
        )
        gated_video.release()

        results = await asyncio.wait_for(asyncio.gather(*readers), timeout=100)
        for task_id, (status, messages) in zip(accepted, results, strict=True):
            assert status == 200
            assert_success(messages)
            assert task_status(svc, token, task_id)["status"] == "SUCCESS"
        for process in svc.processes:
            assert process.proc.poll() is None, process.log()[-3000:]
    finally:
        redis.stop()
