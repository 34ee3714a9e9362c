"""Poisoned resume ids against a live victim (issue 11): `python -m bench.chaos poison`.

A real `resimply serve` on a private redis-server, for each stream path (the lean
protocol, and Hypercorn's ASGI endpoints with RESIMPLY_LEAN_STREAMS=0). A victim
follows its task over SSE while a writer XADDs a message every 50 ms, each
carrying its write time. In the baseline window nobody else is connected; in the
attack window an attacker (another user, in its own process) opens streams of
its own task as fast as it can for ATTACK_S seconds, with every poisoned id form
— as `Last-Event-ID`, as `?last_event_id=` and as a WebSocket's `?last_event_id=`.

Printed per path: the attacker's answers (HTTP statuses / WebSocket close codes
and how many), the victim's messages received / written and its delay from write
to receipt (p50, max) in each window, and what the web process logged about its
shared reader (refused stream reads, outage warnings). Before issue 11 the victim
got nothing for as long as the attack lasted (the shared XREAD failed and backed
off); now the attack is refused at the door and the victim does not notice it.

    PYTHONPATH=$PWD .venv/bin/python -m bench.chaos poison
    CHAOS_POISON_S=10 (attack seconds, default), CHAOS_POISON_PATHS=lean,asgi
"""

# The driver blocks outside the measured windows (set-up, reports) on purpose.

from __future__ import annotations

import asyncio
import collections
import json
import multiprocessing
import os
import statistics
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from redis.asyncio import Redis

from bench._web import dev_env, dev_web
from resimply.keys import Keys
from tests.client import auth
from tests.servers import RedisServer, free_port

VICTIM = "dddddddd-dddd-4ddd-8ddd-dddddddddddd"
ATTACKER = "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee"
POISONED = ["1_0", " 1", "+1", "١٢٣", "99999999999999999999", "1-2-3", "-1", "1-", "0x1"]
ATTACK_S = float(os.environ.get("CHAOS_POISON_S", "10"))
BASELINE_S = ATTACK_S
WRITE_EVERY_S = 0.05
ATTACKERS = 16  # connections the attacker keeps opening at once


# --- the attacker (its own process, so its work does not slow the victim's reads) ---


async def _sse_attack(port: int, task_id: str, token: str, event_id: str, header: bool) -> str:
    target = f"/events/{task_id}?token={token}"
    extra = b""
    if header:
        extra = b"Last-Event-ID: " + event_id.encode() + b"\r\n"
    else:
        target += "&last_event_id=" + urllib.parse.quote(event_id)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (target.encode(), extra))
        async with asyncio.timeout(10):
            status = (await reader.readline()).split(b" ")[1].decode()
        return f"sse {status}"
    finally:
        writer.close()


async def _ws_attack(
    session: aiohttp.ClientSession, port: int, task_id: str, token: str, event_id: str
) -> str:
    url = f"ws://127.0.0.1:{port}/ws/{task_id}"
    async with session.ws_connect(url, params={"token": token, "last_event_id": event_id}) as ws:
        message = await ws.receive(timeout=10)
        if message.type != aiohttp.WSMsgType.CLOSE:
            return f"ws {message.type.name.lower()} (stream opened)"
        return f"ws close {ws.close_code}"


async def _attack(port: int, task_id: str, token: str, seconds: float) -> dict[str, int]:
    seen: collections.Counter[str] = collections.Counter()
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:

        async def one_attacker(n: int) -> None:
            while time.monotonic() < deadline:
                event_id = POISONED[n % len(POISONED)]
                kind = n % 3
                n += ATTACKERS
                try:
                    if kind == 2:
                        seen[await _ws_attack(session, port, task_id, token, event_id)] += 1
                    else:
                        seen[await _sse_attack(port, task_id, token, event_id, kind == 0)] += 1
                except Exception as exc:
                    seen[f"error {type(exc).__name__}"] += 1

        await asyncio.gather(*(one_attacker(n) for n in range(ATTACKERS)))
    return dict(seen)


def _attacker_process(port: int, task_id: str, token: str, seconds: float, out: Any) -> None:
    out.put(asyncio.run(_attack(port, task_id, token, seconds)))


# --- the victim and the writer ------------------------------------------------------


class Victim:
    """An SSE client following one task; records each message's write-to-read delay."""

    def __init__(self, base: str, task_id: str, token: str) -> None:
        self.url = f"{base}/events/{task_id}?token={token}"
        self.delays: dict[int, float] = {}  # message number → seconds
        self.opened = asyncio.Event()

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(self.url) as response,
        ):
            assert response.status == 200, response.status
            self.opened.set()
            async for raw in response.content:
                if raw.startswith(b"data: "):
                    body = json.loads(raw[6:])
                    if body["type"] == "completion":
                        return
                    self.delays[body["n"]] = time.time() - body["sent"]


async def write(redis: Redis, key: str, first: int, seconds: float) -> range:
    """A progress message every WRITE_EVERY_S for `seconds`; the numbers written."""
    n = first
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = {"type": "progress", "n": n, "sent": time.time()}
        await redis.xadd(key, {"t": "progress", "d": json.dumps(body).encode()})
        n += 1
        await asyncio.sleep(WRITE_EVERY_S)
    return range(first, n)


def window(victim: Victim, written: range) -> str:
    delays = [victim.delays[n] for n in written if n in victim.delays]
    if not delays:
        return f"received 0/{len(written)}"
    return (
        f"received {len(delays)}/{len(written)}, delay p50 "
        f"{statistics.median(delays) * 1000:.1f} ms, max {max(delays) * 1000:.1f} ms"
    )


def make_task(base: str, token: str) -> str:
    url = f"http://127.0.0.1:9/{os.urandom(6).hex()}.mp4"
    response = httpx.post(
        f"{base}/scrape/async", json={"url": url}, headers=auth(token), timeout=10
    )
    response.raise_for_status()
    task_id: str = response.json()["task_id"]
    return task_id


async def scenario(
    redis_url: str, base: str, port: int, prefix: str, tokens: dict[str, str]
) -> None:
    victim_task = make_task(base, tokens[VICTIM])
    attacker_task = make_task(base, tokens[ATTACKER])
    key = Keys(prefix).events(victim_task)
    redis = Redis.from_url(redis_url)
    victim = Victim(base, victim_task, tokens[VICTIM])
    following = asyncio.create_task(victim.run())
    try:
        async with asyncio.timeout(10):
            await victim.opened.wait()
        baseline = await write(redis, key, 0, BASELINE_S)
        results: Any = multiprocessing.get_context("spawn").Queue()
        attacker = multiprocessing.get_context("spawn").Process(
            target=_attacker_process,
            args=(port, attacker_task, tokens[ATTACKER], ATTACK_S, results),
        )
        attacker.start()
        attacked = await write(redis, key, baseline.stop, ATTACK_S + 1)
        answers: dict[str, int] = await asyncio.to_thread(results.get, True, 60)
        await asyncio.to_thread(attacker.join, 30)
        completion = json.dumps({"type": "completion"}).encode()
        await redis.xadd(key, {"t": "completion", "d": completion})
        async with asyncio.timeout(30):
            await following
    finally:
        following.cancel()
        await redis.aclose()
    total = sum(answers.values())
    print(f"  attacker: {total} stream requests with poisoned ids in {ATTACK_S:.0f} s")
    for answer, count in sorted(answers.items()):
        print(f"    {answer:<28} {count}")
    print(f"  victim, baseline ({BASELINE_S:.0f} s, no attacker): {window(victim, baseline)}")
    print(f"  victim, under attack ({ATTACK_S:.0f} s):            {window(victim, attacked)}")


def run_path(path: str, redis: RedisServer, tmp: Path) -> None:
    port = free_port()
    prefix = f"poison{port}:"
    env = dev_env(
        redis.url,
        tmp / path,
        prefix,
        RESIMPLY_LEAN_STREAMS="1" if path == "lean" else "0",
        LOG_LEVEL="info",
    )
    log_path = tmp / f"{path}-web.log"
    with dev_web(env, port, log_path, VICTIM) as (base, victim_token):
        attacker_token = _token(env, ATTACKER)
        print(f"- {path} stream path", flush=True)
        asyncio.run(
            scenario(
                redis.url, base, port, prefix, {VICTIM: victim_token, ATTACKER: attacker_token}
            )
        )
    events = collections.Counter(
        json.loads(line).get("event")
        for line in log_path.read_text().splitlines()
        if line.startswith("{")
    )
    print(
        f"  web process: shared reader refused reads {events['stream_read_refused']}, "
        f"outage warnings {events['stream_reader_unavailable'] + events['stream_reader_error']}, "
        f"lagged/cut-off victims {events['sse_watcher_lagged']}",
        flush=True,
    )


def _token(env: dict[str, str], user: str) -> str:
    import subprocess

    from tests.servers import BIN

    return subprocess.run(
        [str(BIN / "resimply"), "token", "--user", user],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def main() -> None:
    paths = os.environ.get("CHAOS_POISON_PATHS", "lean,asgi").split(",")
    with tempfile.TemporaryDirectory(prefix="chaos-poison-") as tmp_dir:
        tmp = Path(tmp_dir)
        redis = RedisServer(tmp / "redis", aof=False)
        redis.dir.mkdir()
        redis.start()
        try:
            for path in paths:
                run_path(path, redis, tmp)
        finally:
            redis.stop()


if __name__ == "__main__":
    main()
