"""A small client for the end-to-end tests: what an app does over HTTP, SSE and WebSocket."""

from __future__ import annotations

import json
from typing import Any

import httpx
import websockets

from tests.servers import Service

TERMINAL = {"completion", "error"}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def submit(svc: Service, token: str, body: Any, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{svc.base_url}/scrape/async", json=body, headers={**auth(token), **headers}, timeout=10
    )


def sse_messages(
    svc: Service,
    token: str,
    task_id: str,
    *,
    last_event_id: str | None = None,
    timeout: float = 60,
    partial: bool = False,
) -> tuple[int, list[dict[str, Any]]]:
    """Read a task's SSE stream to its end; returns the status and the messages,
    each with its SSE `id` and `event` fields checked against the JSON."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    messages: list[dict[str, Any]] = []
    with httpx.stream(
        "GET",
        f"{svc.base_url}/events/{task_id}",
        params={"token": token, **({"partial": "1"} if partial else {})},
        headers=headers,
        timeout=timeout,
    ) as response:
        if response.status_code != 200:
            response.read()
            return response.status_code, []
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            if line == "":
                if "data" in fields:
                    message = json.loads(fields["data"])
                    assert message["event_id"] == fields["id"]
                    assert message["type"] == fields["event"]
                    messages.append(message)
                fields = {}
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
    return 200, messages


async def ws_messages(
    svc: Service,
    token: str | None,
    task_id: str,
    *,
    last_event_id: str | None = None,
    path: str = "ws",
    partial: bool = False,
) -> tuple[int | None, list[dict[str, Any]]]:
    """Follow a task over WebSocket until the server closes; returns the close code
    and the messages."""
    query = []
    if token:
        query.append(f"token={token}")
    if last_event_id:
        query.append(f"last_event_id={last_event_id}")
    if partial:
        query.append("partial=1")
    url = f"ws://127.0.0.1:{svc.port}/{path}/{task_id}" + ("?" + "&".join(query) if query else "")
    messages: list[dict[str, Any]] = []
    async with websockets.connect(url, open_timeout=10, close_timeout=5) as ws:
        try:
            async for frame in ws:
                messages.append(json.loads(frame))
        except websockets.ConnectionClosed:
            pass
        code = ws.close_code
    return code, messages
