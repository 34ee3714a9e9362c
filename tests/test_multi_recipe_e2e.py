"""A post with a main and its sauce becomes two stored recipes, through the real
service (`resimply serve` + an arq worker on Redis, offline extractor, SQLite).

`recipe` (and `recipe_id`, `recipe_name`) stay the first recipe for clients
that know one recipe per task; `recipes` / `recipe_ids` carry both."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx

from resimply.sample import SAMPLE_VIDEO
from tests.client import auth, sse_messages, submit, ws_messages
from tests.servers import Service
from tests.test_e2e import wait_until_finished

CAPTIONS = Path(__file__).parent / "data" / "captions"


async def test_a_main_and_its_sauce_become_two_recipes_of_the_task(
    service: Service, tmp_path: Path
) -> None:
    user = "12121212-1212-4121-8121-121212121212"
    token = service.token(user)
    # A video file of its own (not the shared sample: no task to share with).
    video = tmp_path / "schnitzel.mp4"
    shutil.copyfile(SAMPLE_VIDEO, video)
    caption = (CAPTIONS / "en_schnitzel_and_sauce.txt").read_text()
    response = submit(service, token, {"url": str(video), "caption": caption})
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]

    (ws_code, ws_live), (_, sse_live) = await asyncio.gather(
        ws_messages(service, token, task_id),
        asyncio.to_thread(sse_messages, service, token, task_id),
    )
    assert ws_code == 1000 and ws_live == sse_live
    final = ws_live[-1]
    assert final["type"] == "completion" and final["status"] == "SUCCESS"
    main, sauce = final["recipes"]
    assert final["recipe_ids"] == [main["id"], sauce["id"]]
    # Older clients: the first recipe where it always was.
    assert (final["recipe_id"], final["recipe_name"]) == (main["id"], main["title"])
    assert final["recipe"] == main
    assert main["title"] == "Crispy Schnitzel with Mushroom Sauce"
    assert sauce["title"] == "Crispy Schnitzel with Mushroom Sauce – sauce"
    assert "mushrooms" in [i["name"] for i in sauce["ingredients"]]
    assert "mushrooms" not in [i["name"] for i in main["ingredients"]]
    assert main["source"]["url"] == sauce["source"]["url"] == video.as_uri()

    task = wait_until_finished(service, token, task_id)
    result = task["result"]
    assert result["recipe_id"] == main["id"] and result["recipe"] == main
    assert result["recipe_ids"] == [main["id"], sauce["id"]]
    assert result["recipes"] == [main, sauce]

    # Scaled on request: every recipe of the result, not only the first. The
    # sauce does not say whom it serves: it follows the main's factor (2 → 4).
    scaled = httpx.get(
        f"{service.base_url}/task/{task_id}", params={"servings": 4}, headers=auth(token)
    ).json()["result"]
    assert scaled["recipe"]["scaling"]["factor"] == 2
    assert scaled["recipes"][0] == scaled["recipe"]
    cream = next(i for i in scaled["recipes"][1]["ingredients"] if i["name"] == "cream")
    assert (cream["quantity"], scaled["recipes"][1]["scaling"]["factor"]) == (400, 2)

    # Two rows, each fetched and listed as a recipe of its own.
    for recipe in (main, sauce):
        stored = httpx.get(f"{service.base_url}/recipes/{recipe['id']}", headers=auth(token))
        assert stored.status_code == 200 and stored.json() == recipe
    listed = httpx.get(f"{service.base_url}/recipes", headers=auth(token)).json()["recipes"]
    assert sorted(r["id"] for r in listed) == sorted([main["id"], sauce["id"]])

    # Another user gets neither.
    other = service.token("34343434-3434-4343-8343-343434343434")
    for recipe in (main, sauce):
        hidden = httpx.get(f"{service.base_url}/recipes/{recipe['id']}", headers=auth(other))
        assert hidden.status_code == 404
