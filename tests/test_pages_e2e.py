"""End to end: a recipe page through `resimply serve` + an `arq` worker + Redis as
real processes. The page is served locally (dev mode allows local addresses)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.client import sse_messages, submit
from tests.pages.server import PageServer
from tests.servers import Service
from tests.test_e2e import wait_until_finished


@pytest.fixture(scope="module")
def pages() -> Iterator[PageServer]:
    server = PageServer()
    yield server
    server.close()


def test_a_recipe_page_is_a_recipe_with_no_video_and_no_model(
    service: Service, pages: PageServer
) -> None:
    token = service.token("9a9a9a9a-9a9a-4a9a-8a9a-9a9a9a9a9a9a")
    response = submit(service, token, {"url": pages.url("graph_de.html")})
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]
    task = wait_until_finished(service, token, task_id)
    assert task["status"] == "SUCCESS", task
    result = task["result"]
    assert result["evidence"] == ["page"]
    recipe = result["recipe"]
    assert recipe["title"] == "Kräuter-Pfannkuchen" and recipe["language"] == "de"
    assert recipe["servings"] == 4 and len(recipe["steps"]) == 4
    assert recipe["source"]["platform"] == "page"
    assert {"quantity": 1.0, "unit": "Prise", "name": "Salz"}.items() <= next(
        i for i in recipe["ingredients"] if i["name"] == "Salz"
    ).items()
    usage = result["usage"]
    assert (usage["requests"], usage["prompt_tokens"], usage["completion_tokens"]) == (0, 0, 0)

    _, messages = sse_messages(service, token, task_id)
    progress = [m for m in messages if m["type"] == "progress"]
    assert {m["step"] for m in progress} == {1, 2, 3, 4, 5}
    assert any("Not needed" in (m["details"] or "") for m in progress if m["step"] == 3)
    assert messages[-1]["type"] == "completion" and messages[-1]["status"] == "SUCCESS"
    # The worker's cost line for this task: nothing paid, no model request.
    costs = [
        json.loads(line)
        for line in service.logs().splitlines()
        if '"task_cost"' in line and task_id in line
    ]
    assert costs and all(c["requests"] == 0 and c["status"] == "SUCCESS" for c in costs)
