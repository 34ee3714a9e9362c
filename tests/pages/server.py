"""A threaded local HTTP server for the test pages (tests/pages/*.html).

Besides the files of this folder it serves the bundled sample video at
`/carbonara.mp4` and `/media/carbonara.mp4`, a redirect (`/go/<file>` → `/<file>`),
a 404 (`/missing.html`), and `/big.html`: a recipe page of over 2 MB whose
JSON-LD sits in the head (pages are cut at the size cap, not refused). Every
request path is recorded in `requests` (to show what was not fetched).
"""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

from resimply.sample import SAMPLE_VIDEO

PAGES = Path(__file__).parent
BIG_PAGE_BYTES = 3 * 1024 * 1024


class PageServer:
    def __init__(self) -> None:
        self.requests: list[str] = []
        owner = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, directory=str(PAGES), **kwargs)  # type: ignore[arg-type]

            def do_GET(self) -> None:
                owner.requests.append(self.path)
                path = self.path.split("?", 1)[0]
                if path in ("/carbonara.mp4", "/media/carbonara.mp4"):
                    self._send(SAMPLE_VIDEO.read_bytes(), "video/mp4")
                elif path.startswith("/go/"):
                    self.send_response(302)
                    self.send_header("Location", "/" + path[len("/go/") :])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif path == "/big.html":
                    head = (PAGES / "carbonara.html").read_bytes().split(b"<body>")[0]
                    filler = b"<p>" + b"x" * 1000 + b"</p>\n"
                    body = head + b"<body>" + filler * (BIG_PAGE_BYTES // len(filler)) + b"</body>"
                    self._send(body, "text/html; charset=utf-8")
                else:
                    super().do_GET()

            def _send(self, body: bytes, content_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + "/" + path.lstrip("/")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
