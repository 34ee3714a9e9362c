"""A Redis Sentinel failover in the middle of a run, against real processes: the
scenario behind tests/test_sentinel.py and `make chaos` (bench/chaos/failover.py).

Three tasks are held in their download (a gated video server), each followed
over WebSocket and SSE; a seventh watcher takes one message and leaves; a client
submits a new video every 0.3 s. Then the master is SIGKILLed or hung (`DEBUG
SLEEP`), the sentinels promote the replica, the held downloads are released, the
seventh watcher comes back with its last event id, and every accepted task is
followed to its end."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from resimply.sample import SAMPLE_VIDEO
from tests.client import sse_messages, submit, ws_messages
from tests.faults import statuses, video_copy
from tests.sentinels import SentinelGroup
from tests.servers import GatedVideoServer, Service, wait_for

CAPTION = SAMPLE_VIDEO.with_suffix(".txt").read_text()
USER = "5e5e5e5e-5e5e-4e5e-8e5e-5e5e5e5e5e5e"
# DEBUG SLEEP's length: long past the failover (≈ 2–3 s with the group's settings).
HANG_S = 10
# SIGKILL: the master is gone. DEBUG SLEEP: it hangs for HANG_S, then wakes up
# as master until Sentinel makes it a replica. SIGSTOP: it hangs for good.
FAULTS = ("SIGKILL", "DEBUG SLEEP", "SIGSTOP")


def ha_service(group: SentinelGroup, tmp: Path) -> Service:
    """`resimply serve` + workers (not started) on the group, through its sentinels."""
    env = group.env
    return Service(
        env.pop("REDIS_URL"),
        tmp,
        **env,
        RESIMPLY_WORKER_MAX_JOBS="20",
        RESIMPLY_RATE_LIMIT_PER_MINUTE="1000",
    )


@dataclasses.dataclass
class FailoverRun:
    fault: str
    accepted: list[str]
    completed: list[str]
    lost: list[str]  # accepted, and unknown on the new master
    watchers_resumed: list[bool]
    reconnects: int  # the returning watcher's, beyond its first
    promoted_s: float  # fault -> the sentinels name the replica
    without_service_s: float  # last 202 before the fault -> first 202 after
    refused: list[int]  # statuses of the submissions not accepted after the fault

    def report(self) -> str:
        unfinished = len(self.accepted) - len(self.completed) - len(self.lost)
        return (
            f"sentinel failover (master: {self.fault} mid-run):"
            f"\n  tasks accepted {len(self.accepted)}, completed {len(self.completed)},"
            f" lost {len(self.lost)}, not finished {unfinished}"
            f"\n  watchers resumed {sum(self.watchers_resumed)}/{len(self.watchers_resumed)}"
            " (3 WebSocket + 3 SSE kept open, 1 SSE back with Last-Event-ID,"
            f" reconnecting {self.reconnects} times)"
            f"\n  fault -> replica promoted {self.promoted_s:.1f} s;"
            f" without service (last 202 before -> first after) {self.without_service_s:.1f} s;"
            f" submissions refused meanwhile {len(self.refused)} {sorted(set(self.refused))}"
        )


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


def come_back(
    svc: Service, token: str, task_id: str, last_event_id: str, *, attempts: int = 10
) -> tuple[list[int], list[dict[str, Any]]]:
    """A client that left comes back with its last event id and, like a browser's
    EventSource, reconnects with the newest id it has until the task has ended."""
    seen: list[int] = []
    messages: list[dict[str, Any]] = []
    for _ in range(attempts):
        status, got = sse_messages(svc, token, task_id, last_event_id=last_event_id, timeout=60)
        seen.append(status)
        messages += got
        if messages and messages[-1]["type"] in ("completion", "error"):
            break
        last_event_id = messages[-1]["event_id"] if messages else last_event_id
        time.sleep(1.0)
    return seen, messages


def ended_once(messages: list[dict[str, Any]]) -> bool:
    """One completion, last, and no event twice: a watcher that rode the failover."""
    ids = [m["event_id"] for m in messages]
    return (
        bool(messages)
        and (messages[-1]["type"], messages[-1]["status"]) == ("completion", "SUCCESS")
        and sum(m["type"] in ("completion", "error") for m in messages) == 1
        and len(set(ids)) == len(ids)
    )


async def failover_mid_run(
    group: SentinelGroup, svc: Service, gated_video: GatedVideoServer, tmp: Path, fault: str
) -> FailoverRun:
    """Runs the scenario on a started group and service; `fault`: one of FAULTS."""
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

    submitter = Submitter(svc, token, tmp)
    submitter.start()
    await asyncio.sleep(3)  # tasks queued, running and finishing when the master dies
    killed_at = time.monotonic()
    if fault == "SIGKILL":
        group.kill_master()
    elif fault == "SIGSTOP":
        group.freeze_master()
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

    statuses_back, messages_back = await asyncio.to_thread(
        come_back, svc, token, held[0], first["event_id"]
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
        ended_once([first, *messages_back])
        and all(m["event_id"] > first["event_id"] for m in messages_back)
    )
    return FailoverRun(
        fault=fault,
        accepted=accepted,
        completed=completed,
        lost=lost,
        watchers_resumed=resumed_ok,
        reconnects=len(statuses_back) - 1,
        promoted_s=promoted_at - killed_at,
        without_service_s=gap,
        refused=[status for _, status, _ in refused],
    )
