"""Many nodes on one Redis (issue 6): 2 `resimply serve` + 3 `arq` workers.

Any web process streams any task; jobs spread over the workers; a SIGKILLed
worker's job finishes on another one (arq runs it again once its in-progress key
expires: job timeout + grace + 10 s, made short here); `/health` counts live
workers. Jobs are held deterministically in their download by a gated local
video server, and each worker takes one job at a time (max_jobs=1), so three
held jobs land on three different workers."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from resimply.sample import SAMPLE_VIDEO
from tests.client import sse_messages, submit, ws_messages
from tests.servers import BIN, GatedVideoServer, Service, free_port, wait_for

CAPTION = SAMPLE_VIDEO.with_suffix(".txt").read_text()
USER = "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee"


@pytest.fixture
def cluster(redis_url: str, tmp_path: Path) -> Any:
    svc = Service(
        redis_url,
        tmp_path,
        RESIMPLY_WORKER_MAX_JOBS="1",
        # The orphaned job runs again 10 + 2 + 10 s after it started.
        RESIMPLY_JOB_TIMEOUT_S="10",
        RESIMPLY_WORKER_JOB_GRACE_S="2",
    )
    try:
        svc.start(workers=3)
        yield svc
    except BaseException:
        print(svc.logs()[-20000:])
        raise
    finally:
        svc.stop()


def health(base_url: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{base_url}/health", timeout=5).json()
    return body


def second_web(svc: Service) -> Service:
    other = Service.__new__(Service)
    other.__dict__.update(svc.__dict__)
    other.port = free_port()
    other.base_url = f"http://127.0.0.1:{other.port}"
    svc.spawn(
        [str(BIN / "resimply"), "serve", "--host", "127.0.0.1", "--port", str(other.port)], "webB"
    )
    wait_for(lambda: httpx.get(f"{other.base_url}/health").status_code == 200, what="web B")
    return other


def assert_one_success(messages: list[dict[str, Any]]) -> None:
    assert messages, "no messages"
    assert (messages[-1]["type"], messages[-1]["status"]) == ("completion", "SUCCESS"), messages
    assert sum(m["type"] in ("completion", "error") for m in messages) == 1
    ids = [m["event_id"] for m in messages]
    assert len(set(ids)) == len(ids)


async def test_two_webs_three_workers_spread_failover_and_health(
    cluster: Service, gated_video: GatedVideoServer
) -> None:
    web_a = cluster
    web_b = second_web(cluster)
    workers = cluster.processes[1:4]
    token = web_a.token(USER)
    assert health(web_a.base_url)["workers"] == 3
    assert health(web_b.base_url)["workers"] == 3

    # Submitted on web A; three held jobs, one per worker.
    task_ids = []
    for n in range(3):
        url = gated_video.url.replace("video.mp4", f"video{n}.mp4")  # three distinct links
        response = submit(web_a, token, {"url": url, "caption": CAPTION})
        assert response.status_code == 202, response.text
        task_ids.append(response.json()["task_id"])
    wait_for(lambda: gated_video.requests == 3, what="three downloads")
    wait_for(
        lambda: all(sum(t in w.log() for w in workers) == 1 for t in task_ids),
        what="each job on one worker",
    )
    owner = {t: next(w for w in workers if t in w.log()) for t in task_ids}
    assert len(set(map(id, owner.values()))) == 3, "jobs did not spread over the workers"

    # Followed on web B over both WS and SSE (and on A for comparison).
    victim_task = task_ids[0]
    victim = owner[victim_task]
    ws_b = asyncio.create_task(ws_messages(web_b, token, victim_task))
    sse_b = asyncio.create_task(
        asyncio.to_thread(sse_messages, web_b, token, victim_task, timeout=90)
    )
    sse_a = asyncio.create_task(
        asyncio.to_thread(sse_messages, web_a, token, victim_task, timeout=90)
    )
    await asyncio.to_thread(
        wait_for, lambda: health(web_b.base_url)["streams"] == 2, what="streams on web B"
    )

    killed_at = time.monotonic()
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(10)
    gated_video.release()

    # /health on both webs sees the dead worker go within the heartbeat's window.
    await asyncio.to_thread(
        wait_for,
        lambda: health(web_a.base_url)["workers"] == 2 and health(web_b.base_url)["workers"] == 2,
        timeout=20,
        what="/health to count 2 workers",
    )
    dropped_after = time.monotonic() - killed_at
    assert dropped_after <= 17, dropped_after

    # The killed worker's job finishes on another worker.
    ws_code, ws_got = await asyncio.wait_for(ws_b, timeout=60)
    (sse_status, sse_got), (_, sse_a_got) = await asyncio.wait_for(
        asyncio.gather(sse_b, sse_a), timeout=30
    )
    assert ws_code == 1000 and sse_status == 200
    assert_one_success(ws_got)
    assert ws_got == sse_got == sse_a_got
    survivors = [w for w in workers if w is not victim]
    assert any(victim_task in w.log() for w in survivors), "no other worker ran the job"
    assert all(w.proc.poll() is None for w in survivors)
    assert gated_video.requests == 4  # the orphaned job downloaded again

    # The other two tasks finished too, readable from either web.
    for task_id in task_ids[1:]:
        for web in (web_a, web_b):
            status, messages = await asyncio.to_thread(sse_messages, web, token, task_id)
            assert status == 200
            assert_one_success(messages)
