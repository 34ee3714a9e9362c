"""Measure what the resource requests and limits in deploy/kubernetes are based on.

    cd <checkout> && PYTHONPATH=$PWD .venv/bin/python deploy/kubernetes/measure.py

Starts, for real and on this machine only (loopback): a private redis-server,
one `resimply serve` and one `arq resimply.worker.WorkerSettings` with the local
providers (development mode), then reads the resident memory (RSS) of each
process *with its children* (a worker decodes videos in processes of its own,
RESIMPLY_MEDIA_PROCESSES) and its CPU time:

- idle: both started, nothing to do;
- load: TASKS tasks of the bundled sample video at once (served from a local
  HTTP server) with one SSE watcher each, plus STREAMS idle SSE streams on the
  web process; the peak RSS is sampled every 0.1 s until every task ends.

Prints one table; the figures are quoted in the manifests' comments.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SAMPLE = ROOT / "resimply" / "samples" / "carbonara.mp4"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
    return total / 2**20


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of `pid`'s tree (children still running)."""
    total = 0
    for p in tree(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


@contextlib.contextmanager
def video_server(video: Path, release: threading.Event) -> Iterator[int]:
    """Serves `video`; a request for /hold waits for `release` first (a task that
    stays running, for the idle streams to watch)."""
    body = video.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/hold"):
                release.wait(600)
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        release.set()
        server.shutdown()


class PeakSampler(threading.Thread):
    """The highest RSS of each process tree, every 0.1 s until stopped."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak = {name: 0.0 for name in pids}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], rss_mb(pid))


def wait_healthy(url: str, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2).json().get("workers", 0) >= 1:
                return
        time.sleep(0.2)
    raise RuntimeError("web + worker did not become healthy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument(
        "--no-caption", action="store_true", help="no caption: frames and speech are read"
    )
    args = parser.parse_args()
    # One descriptor per idle stream here, as in the web process.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    tmp = Path(tempfile.mkdtemp(prefix="resimply-measure-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        rport, wport = free_port(), free_port()
        procs.append(
            subprocess.Popen(
                [redis_server, "--port", str(rport), "--bind", "127.0.0.1", "--save", ""],
                stdout=subprocess.DEVNULL,
            )
        )
        env = {
            **os.environ,
            "REDIS_URL": f"redis://127.0.0.1:{rport}/0",
            "RESIMPLY_DEV": "1",  # local providers, development tokens, loopback links
            "RESIMPLY_DATA_DIR": str(tmp / "data"),
            "LOG_FORMAT": "json",
            "RESIMPLY_RATE_LIMIT_PER_MINUTE": "100000",
            "RESIMPLY_STREAMS_PER_USER": "100000",
            "RESIMPLY_MAX_CONNECTIONS_PER_IP": "100000",
            "RESIMPLY_CACHE_TTL_S": "0",  # every task does the whole pipeline
        }
        logs = (tmp / "web.log").open("wb"), (tmp / "worker.log").open("wb")
        web = subprocess.Popen(
            [BIN / "resimply", "serve", "--host", "127.0.0.1", "--port", str(wport)],
            env=env,
            stdout=logs[0],
            stderr=subprocess.STDOUT,
        )
        worker = subprocess.Popen(
            [BIN / "arq", "resimply.worker.WorkerSettings"],
            env=env,
            stdout=logs[1],
            stderr=subprocess.STDOUT,
        )
        procs += [web, worker]
        base = f"http://127.0.0.1:{wport}"
        wait_healthy(base)
        time.sleep(5)  # let imports, media processes and first polls settle
        idle = {"web": rss_mb(web.pid), "worker": rss_mb(worker.pid)}
        cpu0 = {"web": cpu_s(web.pid), "worker": cpu_s(worker.pid)}
        token = subprocess.run(
            [BIN / "resimply", "token", "--user", "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        caption = "" if args.no_caption else SAMPLE.with_suffix(".txt").read_text()
        release = threading.Event()
        sampler = PeakSampler({"web": web.pid, "worker": worker.pid})
        sampler.start()
        with video_server(SAMPLE, release) as vport, httpx.Client(timeout=30) as client:

            def submit(path: str) -> str:
                r = client.post(
                    f"{base}/scrape/async",
                    json={"url": f"http://127.0.0.1:{vport}/{path}"}
                    | ({"caption": caption} if caption else {}),
                    headers=headers,
                )
                r.raise_for_status()
                task_id: str = r.json()["task_id"]
                return task_id

            held = submit("hold.mp4")  # runs until the end: the idle streams watch it
            streams = []
            for _ in range(args.streams):
                s = httpx.Client(timeout=600).stream(
                    "GET", f"{base}/events/{held}", params={"token": token}
                )
                response = s.__enter__()
                streams.append(s)
                if response.status_code != 200:
                    sys.exit(f"stream refused: {response.status_code} {response.read()[:200]!r}")
            t0 = time.monotonic()
            pending = {submit(f"v{n}.mp4") for n in range(args.tasks)}
            outcomes: dict[str, int] = {}
            while pending and time.monotonic() - t0 < 300:
                for task_id in list(pending):
                    status = client.get(f"{base}/task/{task_id}", headers=headers).json()
                    if status.get("status") in {"SUCCESS", "FAILURE", "CANCELLED"}:
                        pending.discard(task_id)
                        outcomes[status["status"]] = outcomes.get(status["status"], 0) + 1
                time.sleep(0.2)
            elapsed = time.monotonic() - t0
            release.set()
            for s in streams:
                with contextlib.suppress(Exception):
                    s.__exit__(None, None, None)
        sampler.done.set()
        sampler.join()
        peak = sampler.peak
        cpu = {k: cpu_s(p.pid) - cpu0[k] for k, p in (("web", web), ("worker", worker))}
        print(
            f"{args.tasks} tasks in {elapsed:.1f} s ({outcomes}, {len(pending)} unfinished), "
            f"{len(streams)} idle SSE streams open on the web process meanwhile"
        )
        print(f"{'process':8} {'idle RSS MB':>12} {'peak RSS MB':>12} {'CPU s under load':>17}")
        for name in ("web", "worker"):
            print(f"{name:8} {idle[name]:12.0f} {peak[name]:12.0f} {cpu[name]:17.1f}")
    finally:
        for p in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
