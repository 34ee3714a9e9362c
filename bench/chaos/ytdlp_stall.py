"""A platform that stops answering while yt-dlp reads a post.

    python -m bench.chaos ytdlp_stall

In-process, against the yt-dlp scraper itself (its generic/html5 extractors
stand in for a platform, served from 127.0.0.1): a page that answers at once is
the baseline; a page that never answers is the fault. Figures: how long a user
waits for the answer (the scrape time limit, here `TIMEOUT_S`), how long a
cancelled scrape takes to return, and how long a healthy scrape on the same
worker waits while every yt-dlp thread is still stuck in a dead socket read
(a thread cannot be killed: it ends when yt-dlp's socket timeout fires).
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.server
import statistics
import threading
import time
from typing import Any

from resimply import errors
from resimply.models import ScrapeRequest
from resimply.providers.ytdlp import MAX_THREADS, SOCKET_TIMEOUT_S, YtDlpScraper
from resimply.settings import Settings

TIMEOUT_S = 10.0
PAGE = b"""<html><head><title>Pasta</title></head><body>
<video src="/clip.mp4" width="640" height="360"></video></body></html>"""


class Site:
    """/page.html at once; /stall.html holds the connection until `release`."""

    def __init__(self) -> None:
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/stall"):
                    outer.release.wait()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(PAGE)))
                    self.end_headers()
                    self.wfile.write(PAGE)
                except OSError:
                    pass  # the client gave up

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


class _Progress:
    async def update(self, details: str, fraction: float | None = None) -> None:
        return None


async def _scrape(scraper: YtDlpScraper, url: str) -> tuple[float, str]:
    started = time.monotonic()
    try:
        await scraper.scrape(ScrapeRequest(url=url, user_id="bench"), _Progress())
        outcome = "ok"
    except errors.ResimplyError as exc:
        outcome = exc.code
    return time.monotonic() - started, outcome


async def run() -> None:
    site = Site()
    settings = dataclasses.replace(
        Settings(),
        allow_private_urls=True,
        ytdlp_extractors=("generic", "html5"),
        ytdlp_timeout_s=TIMEOUT_S,
    )
    scraper = YtDlpScraper(settings)
    try:
        base = [(await _scrape(scraper, f"{site.base}/page.html"))[0] for _ in range(5)]
        print(f"baseline: a post read in {statistics.median(base) * 1000:.0f} ms (median of 5)")

        waited, outcome = await _scrape(scraper, f"{site.base}/stall.html")
        print(f"platform silent: the user gets {outcome} (retryable) after {waited:.1f} s")

        stuck = [
            asyncio.create_task(_scrape(scraper, f"{site.base}/stall.html?{i}"))
            for i in range(MAX_THREADS)
        ]
        await asyncio.sleep(1.0)  # every thread is now in its socket read
        started = time.monotonic()
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)
        print(
            f"{MAX_THREADS} stalled scrapes cancelled: returned after "
            f"{(time.monotonic() - started) * 1000:.0f} ms"
        )
        healthy, outcome = await _scrape(scraper, f"{site.base}/page.html")
        print(
            f"a healthy post right after, all {MAX_THREADS} yt-dlp threads still stuck: "
            f"{outcome} after {healthy:.1f} s (threads free at the {SOCKET_TIMEOUT_S:g} s "
            f"socket timeout; the scrape limit is {TIMEOUT_S:g} s)"
        )
    finally:
        site.close()
        await scraper.aclose()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
