"""Pure-ASGI access log (BaseHTTPMiddleware would not see WebSockets): one
structured line per request, with `token=` redacted from the query string."""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..logs import redact_text

log = structlog.get_logger("resimply.access")


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status: dict[str, Any] = {"code": None}
        request_id = uuid.uuid4().hex[:12]
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            elif message["type"] == "websocket.close":
                status["code"] = f"ws-close-{message.get('code', 1000)}"
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            log_request(
                method=scope.get("method", "WS"),
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                status=status["code"],
                started=started,
            )
            structlog.contextvars.unbind_contextvars("request_id")


def log_request(
    *,
    method: str,
    path: str,
    query: str | None,
    status: int | str | None,
    started: float,
    **extra: Any,
) -> None:
    """The one access line per request (`started`: its `time.monotonic()`),
    for the ASGI app here and the lean stream connections (`stream_server.py`)."""
    log.info(
        "request",
        method=method,
        path=path,
        query=redact_text(query) if query else None,
        status=status,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
        **extra,
    )
