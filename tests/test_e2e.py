"""End to end: `resimply serve` and `arq resimply.worker.WorkerSettings` as real
processes on a real Redis, driven the way the app and curl users drive them."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from jose import jwt

from resimply.sample import SAMPLE_VIDEO
from tests.client import auth, sse_messages, submit, ws_messages
from tests.servers import Service

STAGES = ["init", "scrape", "media", "extract", "store"]


def wait_until_finished(
    svc: Service, token: str, task_id: str, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = httpx.get(
            f"{svc.base_url}/task/{task_id}", headers=auth(token)
        ).json()
        if body["status"] in ("SUCCESS", "FAILURE", "CANCELLED"):
            return body
        time.sleep(0.1)
    raise TimeoutError(task_id)


def run_sample(svc: Service, token: str) -> dict[str, Any]:
    """A good task: it must succeed whatever happened before it."""
    response = submit(svc, token, {"url": str(SAMPLE_VIDEO)})
    assert response.status_code in (200, 202), response.text
    task = wait_until_finished(svc, token, response.json()["task_id"])
    assert task["status"] == "SUCCESS", task
    return task


def assert_full_run(messages: list[dict[str, Any]], task_id: str) -> None:
    progress = [m for m in messages if m["type"] == "progress"]
    assert [s for s in STAGES if any(m["stage"] == s for m in progress)] == STAGES
    assert [m["step"] for m in progress] == sorted(m["step"] for m in progress)
    for message in progress:
        assert set(message) >= {
            "type",
            "task_id",
            "step",
            "total_steps",
            "stage",
            "status",
            "details",
            "fraction",
            "timestamp",
            "event_id",
        }
        assert message["task_id"] == task_id and message["total_steps"] == 5
    final = messages[-1]
    assert final["type"] == "completion" and final["status"] == "SUCCESS"
    assert set(final) == {
        "type",
        "task_id",
        "status",
        "message",
        "recipe_id",
        "recipe_name",
        "recipe",
        "recipe_ids",
        "recipes",
        "timestamp",
        "event_id",
    }
    assert final["recipe"]["id"] == final["recipe_id"]
    assert final["recipes"] == [final["recipe"]]
    assert final["recipe_ids"] == [final["recipe_id"]]
    assert sum(m["type"] in ("completion", "error") for m in messages) == 1
    ids = [m["event_id"] for m in messages]
    assert len(set(ids)) == len(ids)


async def test_sample_video_becomes_a_stored_recipe_live_over_ws_and_sse(service: Service) -> None:
    token = service.token("11111111-1111-4111-8111-111111111111")
    response = submit(service, token, {"url": str(SAMPLE_VIDEO)})
    assert response.status_code == 202, response.text
    body = response.json()
    task_id = body["task_id"]
    assert body == {
        "task_id": task_id,
        "status": "PENDING",
        "status_url": f"/task/{task_id}",
        "events_url": f"/events/{task_id}",
        "ws_url": f"/ws/{task_id}",
    }
    assert response.headers["location"] == f"/task/{task_id}"

    # Live: a WebSocket and an SSE client follow the task while it runs.
    (ws_code, ws_live), (sse_status, sse_live) = await asyncio.gather(
        ws_messages(service, token, task_id),
        asyncio.to_thread(sse_messages, service, token, task_id),
    )
    assert ws_code == 1000 and sse_status == 200
    assert_full_run(ws_live, task_id)
    assert ws_live == sse_live

    recipe = ws_live[-1]["recipe"]
    assert "carbonara" in recipe["title"].lower()
    assert recipe["servings"] == 2
    spaghetti = next(i for i in recipe["ingredients"] if "spaghetti" in i["name"])
    assert (spaghetti["quantity"], spaghetti["unit"]) == (200, "g")
    assert len(recipe["steps"]) >= 3
    assert recipe["source"]["platform"] == "direct"

    # Late clients, after the end, still get every message; /wss is an alias.
    ws_code, ws_late = await ws_messages(service, token, task_id, path="wss")
    _, sse_late = sse_messages(service, token, task_id)
    assert ws_late == ws_live and sse_late == sse_live and ws_code == 1000

    # Resuming: only what came after the given id.
    middle = ws_live[2]["event_id"]
    _, sse_resumed = sse_messages(service, token, task_id, last_event_id=middle)
    assert sse_resumed == ws_live[3:]
    _, ws_resumed = await ws_messages(service, token, task_id, last_event_id=middle)
    assert ws_resumed == ws_live[3:]
    # EventSource reconnecting after the terminal message is told to stop.
    status, none = sse_messages(service, token, task_id, last_event_id=ws_live[-1]["event_id"])
    assert (status, none) == (204, [])

    task = httpx.get(f"{service.base_url}/task/{task_id}", headers=auth(token)).json()
    assert task["status"] == "SUCCESS" and task["step"] == 5 and task["total_steps"] == 5
    assert task["error"] is None
    assert task["result"]["recipe_id"] == recipe["id"]
    assert task["result"]["recipe"] == recipe

    stored = httpx.get(f"{service.base_url}/recipes/{recipe['id']}", headers=auth(token))
    assert stored.status_code == 200 and stored.json() == recipe
    listed = httpx.get(f"{service.base_url}/recipes", headers=auth(token)).json()
    assert [r["id"] for r in listed["recipes"]] == [recipe["id"]]
    active = httpx.get(f"{service.base_url}/tasks/active", headers=auth(token)).json()
    assert active == {"tasks": []}


def test_health_reports_redis_and_live_workers(service: Service) -> None:
    body = httpx.get(f"{service.base_url}/health").json()
    assert body["status"] == "healthy" and body["redis_connected"] is True
    assert body["workers"] == 1 and body["services"] == ["web", "redis", "worker"]


def test_landing_page_is_html(service: Service) -> None:
    response = httpx.get(service.base_url + "/")
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    assert 'id="url"' in response.text


# --- authentication and ownership ---------------------------------------------


def _expired_token(service: Service, user: str) -> str:
    secret = (service.data_dir / "dev-jwt-secret").read_text().strip()
    now = int(time.time())
    claims = {"sub": user, "aud": "authenticated", "iat": now - 7200, "exp": now - 3600}
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.mark.parametrize("token", [None, "not-a-jwt", "expired"])
async def test_bad_tokens_get_401_and_close_4001(service: Service, token: str | None) -> None:
    user = "22222222-2222-4222-8222-222222222222"
    good = service.token(user)
    task_id = submit(service, good, {"url": str(SAMPLE_VIDEO)}).json()["task_id"]
    bad = _expired_token(service, user) if token == "expired" else token
    headers = auth(bad) if bad else {}
    for method, path in [
        ("POST", "/scrape/async"),
        ("GET", f"/task/{task_id}"),
        ("GET", "/tasks/active"),
        ("DELETE", f"/task/{task_id}"),
        ("GET", "/recipes"),
        ("GET", f"/events/{task_id}"),
    ]:
        response = httpx.request(
            method, service.base_url + path, headers=headers, json={"url": "x"}
        )
        assert response.status_code == 401, (method, path)
        assert response.json()["error"] == "unauthorized"
        assert response.json()["message"]
    code, messages = await ws_messages(service, bad, task_id)
    assert (code, messages) == (4001, [])
    wait_until_finished(service, good, task_id)
    run_sample(service, good)


async def test_another_users_task_is_not_found(service: Service) -> None:
    owner = service.token("33333333-3333-4333-8333-333333333333")
    intruder = service.token("44444444-4444-4444-8444-444444444444")
    task = run_sample(service, owner)
    task_id = task["task_id"]
    for method, path in [
        ("GET", f"/task/{task_id}"),
        ("DELETE", f"/task/{task_id}"),
        ("GET", f"/events/{task_id}?token={intruder}"),
        ("GET", f"/recipes/{task['result']['recipe_id']}"),
        ("GET", "/task/00000000-0000-4000-8000-000000000000"),
    ]:
        response = httpx.request(method, service.base_url + path, headers=auth(intruder))
        assert (response.status_code, response.json()["error"]) == (404, "not_found"), path
    code, messages = await ws_messages(service, intruder, task_id)
    assert (code, messages) == (4003, [])
    assert httpx.get(f"{service.base_url}/recipes", headers=auth(intruder)).json()["recipes"] == []
    run_sample(service, intruder)


# --- bad requests ----------------------------------------------------------------


def test_bad_requests_get_clear_errors_and_nothing_breaks(service: Service) -> None:
    token = service.token("55555555-5555-4555-8555-555555555555")
    url = f"{service.base_url}/scrape/async"
    cases = [
        (httpx.post(url, content=b"{not json", headers=auth(token)), 400, "invalid_request"),
        (httpx.post(url, json={"link": "x"}, headers=auth(token)), 400, "invalid_request"),
        (httpx.post(url, json=["x"], headers=auth(token)), 400, "invalid_request"),
        (
            httpx.post(
                url, json={"url": str(SAMPLE_VIDEO), "language": "english"}, headers=auth(token)
            ),
            400,
            "invalid_request",
        ),
        (httpx.post(url, content=b"x" * 100_000, headers=auth(token)), 413, "payload_too_large"),
        (
            httpx.post(url, json={"url": "ftp://example.com/v.mp4"}, headers=auth(token)),
            422,
            "unsupported_url",
        ),
        (
            httpx.post(
                url,
                # A profile, not a post: no scraper reads it (the page names what it takes).
                json={"url": "https://www.tiktok.com/@chef"},
                headers=auth(token),
            ),
            422,
            "unsupported_url",
        ),
        (
            httpx.delete(f"{service.base_url}/scrape/async", headers=auth(token)),
            405,
            "method_not_allowed",
        ),
        (httpx.get(f"{service.base_url}/nowhere"), 404, "not_found"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.json()["error"] == code and response.json()["message"]
    run_sample(service, token)


def test_same_video_while_unfinished_and_idempotency_key_return_the_first_task(
    service: Service,
) -> None:
    token = service.token("66666666-6666-4666-8666-666666666666")
    first = submit(service, token, {"url": str(SAMPLE_VIDEO)}, **{"Idempotency-Key": "abc"})
    again = submit(service, token, {"video_url": str(SAMPLE_VIDEO)})
    repeat = submit(service, token, {"url": str(SAMPLE_VIDEO)}, **{"Idempotency-Key": "abc"})
    assert first.status_code == 202
    task_id = first.json()["task_id"]
    if again.status_code == 200:  # the first may already have finished on a fast machine
        assert again.json()["task_id"] == task_id
    assert (repeat.status_code, repeat.json()["task_id"]) == (202, task_id)
    wait_until_finished(service, token, task_id)


def test_rate_limit_answers_429_with_retry_after(service: Service) -> None:
    token = service.token("77777777-7777-4777-8777-777777777777")
    statuses = [submit(service, token, {"url": "ftp://x"}).status_code for _ in range(3)]
    assert statuses == [422, 422, 422]  # refused links are not counted
    # The limit (60) counts per fixed minute: 121 submissions land at least 61 in
    # one window even when they straddle a minute boundary.
    limited = []
    for _ in range(121):
        response = submit(service, token, {"url": str(SAMPLE_VIDEO)})
        if response.status_code == 429:
            limited.append(response)
            break
    assert limited, "121 submissions within two minutes must hit the limit of 60 a minute"
    assert limited[0].json()["error"] == "rate_limited"
    assert 0 < int(limited[0].headers["retry-after"]) <= 60


# --- task outcomes -----------------------------------------------------------------


def _outcome(
    service: Service, token: str, body: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    response = submit(service, token, body)
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]
    _, messages = sse_messages(service, token, task_id)
    return wait_until_finished(service, token, task_id), messages


def test_a_file_that_is_not_a_video_ends_with_invalid_media(
    service: Service, tmp_path: Path
) -> None:
    token = service.token("88888888-8888-4888-8888-888888888888")
    fake = tmp_path / "notes.mp4"
    fake.write_text("200 g spaghetti, this is text, not a video\n" * 50)
    task, messages = _outcome(service, token, {"url": str(fake)})
    assert task["status"] == "FAILURE" and task["error"]["error"] == "invalid_media"
    final = messages[-1]
    assert (final["type"], final["status"], final["error"], final["retryable"]) == (
        "error",
        "FAILURE",
        "invalid_media",
        False,
    )
    assert set(final) == {
        "type",
        "task_id",
        "status",
        "error",
        "message",
        "retryable",
        "timestamp",
        "event_id",
    }
    run_sample(service, token)


def test_a_video_over_the_limits_ends_with_video_too_large(
    service: Service, tmp_path: Path
) -> None:
    from tests.mediagen import make_video

    token = service.token("99999999-9999-4999-8999-999999999999")
    long_video = tmp_path / "long.mp4"
    make_video(long_video, width=32, height=32, seconds=1000, fps=1)
    task, messages = _outcome(service, token, {"url": str(long_video)})
    assert task["error"]["error"] == "video_too_large", task
    assert "limit" in task["error"]["message"]
    assert messages[-1]["error"] == "video_too_large"
    run_sample(service, token)


def test_a_caption_without_a_recipe_ends_with_not_a_recipe(
    service: Service, tmp_path: Path
) -> None:
    from tests.mediagen import make_video

    token = service.token("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")
    dance = tmp_path / "dance.mp4"
    make_video(dance, width=64, height=96, seconds=3, fps=10)
    task, messages = _outcome(
        service, token, {"url": str(dance), "caption": "Sunday vibes ☀️ #fyp #dance"}
    )
    assert task["error"]["error"] == "not_a_recipe"
    assert [m["stage"] for m in messages if m["type"] == "progress"][-1] == "extract"
    run_sample(service, token)


def test_cancelling_a_task_ends_its_stream_with_cancelled(service: Service) -> None:
    token = service.token("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb")
    task_id = submit(service, token, {"url": str(SAMPLE_VIDEO)}).json()["task_id"]
    response = httpx.delete(f"{service.base_url}/task/{task_id}", headers=auth(token))
    if response.status_code == 409:  # finished before we could cancel: try a slower start
        pytest.fail(f"the task finished before DELETE: {response.text}")
    assert (
        response.json() == {"task_id": task_id, "status": "CANCELLED"}
        and response.status_code == 202
    )
    _, messages = sse_messages(service, token, task_id)
    final = messages[-1]
    assert (final["type"], final["status"], final["error"]) == ("error", "CANCELLED", "cancelled")
    assert sum(m["type"] in ("error", "completion") for m in messages) == 1
    task = wait_until_finished(service, token, task_id)
    assert task["status"] == "CANCELLED"
    again = httpx.delete(f"{service.base_url}/task/{task_id}", headers=auth(token))
    assert (again.status_code, again.json()["error"]) == (409, "already_finished")
    run_sample(service, token)


def test_cancelling_reaches_a_running_job(service: Service) -> None:
    """DELETE while the worker is downloading: the job stops (the download's
    connection is dropped), the stream ends with CANCELLED, the next task runs."""
    import http.server
    import threading

    dropped = threading.Event()

    class SlowVideo(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(10_000_000))
            self.end_headers()
            try:
                for _ in range(240):  # at most two minutes, then give up
                    self.wfile.write(b"\0" * 1024)
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                dropped.set()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowVideo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        token = service.token("cccccccc-cccc-4ccc-8ccc-cccccccccccc")
        url = f"http://127.0.0.1:{server.server_address[1]}/slow.mp4"
        task_id = submit(service, token, {"url": url, "caption": "200 g pasta"}).json()["task_id"]
        deadline = time.monotonic() + 30
        while (
            httpx.get(f"{service.base_url}/task/{task_id}", headers=auth(token)).json()["step"] < 3
        ):
            assert time.monotonic() < deadline, "the job never reached the media step"
            time.sleep(0.1)
        response = httpx.delete(f"{service.base_url}/task/{task_id}", headers=auth(token))
        assert response.status_code == 202
        assert dropped.wait(20), "the running job was not aborted: its download went on"
        _, messages = sse_messages(service, token, task_id)
        assert messages[-1]["status"] == "CANCELLED"
        assert [m["stage"] for m in messages if m["type"] == "progress"][-1] == "media"
    finally:
        server.shutdown()
    run_sample(service, token)


async def test_stream_tokens_never_reach_the_logs(service: Service) -> None:
    """Browsers put the token in the stream URL (`?token=`): every process's log
    has the stream requests, and none has the token."""
    token = service.token("7e7e7e7e-7e7e-4e7e-8e7e-7e7e7e7e7e7e")
    response = submit(service, token, {"url": str(SAMPLE_VIDEO)})
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]
    (ws_code, _), (sse_status, _) = await asyncio.gather(
        ws_messages(service, token, task_id),
        asyncio.to_thread(sse_messages, service, token, task_id),
    )
    assert (ws_code, sse_status) == (1000, 200)
    await asyncio.sleep(0.5)  # the access lines are written as the streams close
    logs = service.logs()
    assert token not in logs and token.split(".")[-1] not in logs
    streams = [
        json.loads(line)
        for line in logs.splitlines()
        if line.startswith("{") and task_id in line and '"event": "request"' in line
    ]
    paths = {(line["method"], line["path"].split("/")[1]) for line in streams}
    assert {("WS", "ws"), ("GET", "events")} <= paths, streams
    assert all(line["query"] == "token=[redacted]" for line in streams if line["query"])
