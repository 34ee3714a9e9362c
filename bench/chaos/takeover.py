"""A worker SIGKILLed mid-task: how long until another worker runs it, and until it is done.

    python -m bench.chaos takeover

Real processes with default settings (a 45 s lease, a 15 min job timeout): a
private redis-server, `resimply serve` and two `arq` workers. Every task's video
comes from a local server that holds each download `HOLD_S` seconds before it
sends the rest, so a task runs that long on its own. The baseline is the same
task on the same service, not killed. Then the worker that took the second task
is SIGKILLed as its download starts, and the figures are the seconds from the
kill to the other worker's download of the same video (the job's steps 1–2 are
instant here) and to the task's end, with the stored recipes counted.
"""

from __future__ import annotations

import http.server
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from resimply.lease import LEASE_S
from resimply.sample import SAMPLE_VIDEO
from resimply.settings import Settings
from tests.client import auth, submit
from tests.servers import Process, Service, redis_server, wait_for

HOLD_S = 10.0
CAPTION = SAMPLE_VIDEO.with_suffix(".txt").read_text()


class HeldVideoServer:
    """Serves the sample: the first bytes at once, the rest `HOLD_S` later; notes
    when each download started."""

    def __init__(self) -> None:
        body = SAMPLE_VIDEO.read_bytes()
        self.started: list[float] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.started.append(time.monotonic())
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body[:4096])
                    self.wfile.flush()
                    time.sleep(HOLD_S)
                    self.wfile.write(body[4096:])
                except OSError:
                    pass  # the killed worker's download

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/video.mp4"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _status(svc: Service, token: str, task_id: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(
        f"{svc.base_url}/task/{task_id}", headers=auth(token), timeout=10
    ).json()
    return body


def _submit(svc: Service, token: str, video: HeldVideoServer) -> str:
    response = submit(svc, token, {"url": video.url, "caption": CAPTION})
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def _done(svc: Service, token: str, task_id: str, timeout: float) -> float:
    wait_for(
        lambda: _status(svc, token, task_id)["status"] in ("SUCCESS", "FAILURE", "CANCELLED"),
        timeout=timeout,
        what="the task's end",
    )
    return time.monotonic()


def _recipes(svc: Service, token: str) -> int:
    body = httpx.get(f"{svc.base_url}/recipes", headers=auth(token), timeout=10).json()
    return len(body["recipes"])


def _runner(svc: Service, task_id: str, workers: list[Process]) -> Process:
    """The worker whose log names the task (logs carry `task_id`)."""
    found: list[Process] = []
    wait_for(
        lambda: found.extend(w for w in workers if task_id in w.log()) or found,
        what="the worker running the task",
    )
    return found[0]


def run(tmp: Path) -> None:
    settings = Settings()
    old_lock_s = settings.job_timeout_s + settings.worker_job_grace_s + 10
    video = HeldVideoServer()
    with redis_server(tmp) as redis_url:
        svc = Service(redis_url, tmp)
        try:
            svc.start(workers=2)
            workers = svc.processes[1:]

            token = svc.token("f0000000-0000-4000-8000-000000000001")
            submitted = time.monotonic()
            baseline_id = _submit(svc, token, video)
            baseline = _done(svc, token, baseline_id, timeout=120) - submitted
            assert _status(svc, token, baseline_id)["status"] == "SUCCESS"

            token = svc.token("f0000000-0000-4000-8000-000000000002")
            task_id = _submit(svc, token, video)
            wait_for(lambda: len(video.started) == 2, what="the task's download")
            victim = _runner(svc, task_id, workers)
            victim.proc.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            victim.proc.wait(10)
            wait_for(lambda: len(video.started) == 3, timeout=old_lock_s, what="the takeover")
            taken_over = video.started[2] - killed
            finished = _done(svc, token, task_id, timeout=120) - killed
            status = _status(svc, token, task_id)
            recipes = _recipes(svc, token)
        except BaseException:
            print(svc.logs()[-5000:])
            raise
        finally:
            svc.stop()
            video.close()

    print(f"lease {LEASE_S:.0f} s; without it arq kept the job locked {old_lock_s} s")
    print(f"baseline: a task not killed runs {baseline:.1f} s (submit to done)")
    print(f"SIGKILL to the other worker starting the task: {taken_over:.1f} s")
    print(
        f"SIGKILL to the task done: {finished:.1f} s "
        f"(status {status['status']}, recipes stored: {recipes})"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmpdir:
        run(Path(tmpdir))


if __name__ == "__main__":
    main()
