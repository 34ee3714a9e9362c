"""`/drafts` through the real service (`resimply serve` + arq worker + Redis, the
SQLite store): a video with no recipe leaves a draft; its owner reads it, fixes it
into a recipe or reads it again; any other user gets 404 everywhere."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.client import auth, sse_messages, submit
from tests.mediagen import make_video
from tests.screengen import Overlay, make_screen_video
from tests.servers import Service
from tests.test_e2e import wait_until_finished
from tests.test_screen_text import require_ocr

USER = "d7af7000-0000-4000-8000-000000000001"
OTHER = "d7af7000-0000-4000-8000-000000000002"
CAPTION = "Golden hour at the lake 🌅 #nofilter #travel"
FIXED = {
    "title": "Lake-side flatbread",
    "servings": 2,
    "ingredients": [
        {"text": "200 g flour", "quantity": 200, "unit": "g", "name": "flour"},
        {"text": "120 ml water", "quantity": 120, "unit": "ml", "name": "water"},
    ],
    "steps": [{"text": "Knead, rest 10 minutes, bake on a hot stone.", "minutes": 10}],
    "tags": ["bread"],
}


def _post(svc: Service, token: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.post(f"{svc.base_url}{path}", json=body, headers=auth(token), timeout=10)


def _get(svc: Service, token: str, path: str) -> httpx.Response:
    return httpx.get(f"{svc.base_url}{path}", headers=auth(token), timeout=10)


@pytest.fixture(scope="module")
def tokens(service: Service) -> tuple[str, str]:
    return service.token(USER), service.token(OTHER)


def _failed_import(svc: Service, token: str, tmp: Path) -> tuple[str, dict[str, Any], Path]:
    """A video of a lake with a travel caption: not a recipe. Its task, error, file."""
    video = make_video(tmp / "lake.mp4", seconds=3.0)
    response = submit(svc, token, {"url": str(video), "caption": CAPTION})
    assert response.status_code == 202, response.text
    task = wait_until_finished(svc, token, response.json()["task_id"])
    assert task["status"] == "FAILURE" and task["error"]["error"] == "not_a_recipe", task
    return task["task_id"], task["error"], video


def test_a_failed_import_is_a_draft_its_owner_alone_can_read(
    service: Service, tokens: tuple[str, str], tmp_path: Path
) -> None:
    token, other = tokens
    task_id, error, _ = _failed_import(service, token, tmp_path)
    draft_id = error["draft_id"]
    # The terminal message says so too (an added field: old clients ignore it).
    status, messages = sse_messages(service, token, task_id)
    assert status == 200 and messages[-1]["type"] == "error"
    assert messages[-1]["draft_id"] == draft_id

    listing = _get(service, token, "/drafts")
    assert listing.status_code == 200
    (line,) = [d for d in listing.json()["drafts"] if d["draft_id"] == draft_id]
    assert (line["task_id"], line["error"], line["title"]) == (task_id, "not_a_recipe", CAPTION)
    assert line["frames"] >= 1

    draft = _get(service, token, f"/drafts/{draft_id}")
    assert draft.status_code == 200
    body = draft.json()
    assert body["caption"] == CAPTION and body["source"]["caption"] == CAPTION
    assert body["frames"] and all(
        base64.b64decode(f["jpeg"]).startswith(b"\xff\xd8") for f in body["frames"]
    )
    assert "user_id" not in body

    # Another user: no listing, and 404 on every route, as for an unknown id.
    assert all(d["draft_id"] != draft_id for d in _get(service, other, "/drafts").json()["drafts"])
    for path in (f"/drafts/{draft_id}", "/drafts/00000000-0000-4000-8000-000000000000"):
        answer = _get(service, other, path)
        assert answer.status_code == 404 and answer.json()["error"] == "not_found"
    assert _post(service, other, f"/drafts/{draft_id}/recipe", FIXED).status_code == 404
    assert _post(service, other, f"/drafts/{draft_id}/retry", {}).status_code == 404
    # ...and the owner's draft is untouched by those attempts.
    assert _get(service, token, f"/drafts/{draft_id}").status_code == 200


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"servings": 2}, "title"),
        ({"title": "   ", "steps": [{"text": "Mix."}]}, "title"),
        ({"title": "Bread"}, "at least one ingredient or one step"),
        ({"title": "Bread", "ingredients": [{"text": 5}]}, "ingredients[0].text"),
        ({"title": "Bread", "steps": [{"text": "Bake", "minutes": -5}]}, "minutes"),
        ({"title": "Bread\u0000", "steps": [{"text": "Bake"}]}, "NUL"),
        (["not", "an", "object"], "recipe"),
    ],
)
def test_a_recipe_that_is_not_one_is_refused_with_a_stable_code(
    service: Service, tokens: tuple[str, str], tmp_path: Path, body: Any, says: str
) -> None:
    token, _ = tokens
    _, error, _ = _failed_import(service, token, tmp_path)
    answer = _post(service, token, f"/drafts/{error['draft_id']}/recipe", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_recipe" and says in answer.json()["message"]
    # Nothing was saved: the draft is still there.
    assert _get(service, token, f"/drafts/{error['draft_id']}").status_code == 200


def test_a_fixed_draft_is_saved_as_a_recipe_and_the_draft_goes(
    service: Service, tokens: tuple[str, str], tmp_path: Path
) -> None:
    token, other = tokens
    _, error, _ = _failed_import(service, token, tmp_path)
    draft_id = error["draft_id"]
    saved = _post(service, token, f"/drafts/{draft_id}/recipe", FIXED)
    assert saved.status_code == 201, saved.text
    recipe = saved.json()
    assert saved.headers["location"] == f"/recipes/{recipe['id']}"
    assert recipe["title"] == FIXED["title"] and recipe["source"]["caption"] == CAPTION
    assert [i["quantity"] for i in recipe["ingredients"]] == [200, 120]
    stored = _get(service, token, f"/recipes/{recipe['id']}")
    assert stored.status_code == 200 and stored.json()["title"] == FIXED["title"]
    assert _get(service, other, f"/recipes/{recipe['id']}").status_code == 404
    assert _get(service, token, f"/drafts/{draft_id}").status_code == 404
    assert _post(service, token, f"/drafts/{draft_id}/recipe", FIXED).status_code == 404


def test_a_retry_reads_the_draft_not_the_video(
    service: Service, tokens: tuple[str, str], tmp_path: Path
) -> None:
    token, _ = tokens
    _, error, video = _failed_import(service, token, tmp_path)
    draft_id = error["draft_id"]
    video.unlink()  # a retry that downloaded the video again would end in video_not_found
    for body, says in (
        ({"language": "german"}, "language"),
        ({"extractor": "gpt-9"}, "extractor"),
        ({"language": 5}, "language"),
    ):
        refused = _post(service, token, f"/drafts/{draft_id}/retry", body)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_retry"
        assert says in refused.json()["message"]
    answer = _post(service, token, f"/drafts/{draft_id}/retry", {"language": "de"})
    assert answer.status_code == 202, answer.text
    retry_id = answer.json()["task_id"]
    task = wait_until_finished(service, token, retry_id)
    # The offline extractor still finds no recipe in a travel caption: the same
    # draft, now saying so for the retry.
    assert task["status"] == "FAILURE", task
    assert (task["error"]["error"], task["error"]["draft_id"]) == ("not_a_recipe", draft_id)
    status, messages = sse_messages(service, token, retry_id)
    assert status == 200
    stages = [m["details"] for m in messages if m["type"] == "progress" and m["step"] in (2, 3)]
    assert stages and all("draft" in (d or "") for d in stages)
    draft = _get(service, token, f"/drafts/{draft_id}").json()
    assert (draft["task_id"], draft["language"]) == (retry_id, "de")


def test_a_draft_shows_the_text_read_on_screen(
    service: Service, tokens: tuple[str, str], tmp_path: Path
) -> None:
    require_ocr()
    token, _ = tokens
    cards = (Overlay(0.0, 1.5, ("Lake Bled",)), Overlay(1.5, 3.0, ("Sunrise swim", "day 2")))
    video = make_screen_video(tmp_path / "bled.mp4", cards, seconds=3.0, keyframe_s=1.5)
    response = submit(service, token, {"url": str(video), "caption": CAPTION})
    assert response.status_code == 202, response.text
    task = wait_until_finished(service, token, response.json()["task_id"])
    assert task["status"] == "FAILURE" and task["error"]["error"] == "not_a_recipe", task
    draft = _get(service, token, f"/drafts/{task['error']['draft_id']}")
    assert draft.status_code == 200
    shown = [line for line in (draft.json()["screen_text"] or "").splitlines() if line.strip()]
    assert shown == [line for card in cards for line in card.lines]


def test_drafts_need_a_token(service: Service) -> None:
    for answer in (
        httpx.get(f"{service.base_url}/drafts", timeout=10),
        httpx.post(f"{service.base_url}/drafts/x/retry", json={}, timeout=10),
    ):
        assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"
