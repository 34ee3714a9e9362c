"""`?servings=`, `?scale=`, `?units=` on `GET /recipes/{id}` and `GET /task/{id}`,
against the real service (`resimply serve` + worker + Redis, the SQLite store)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from resimply.models import Ingredient, Recipe, Step
from resimply.offline import parse_ingredient
from resimply.providers.sqlite_store import SqliteRecipeStore
from tests.client import auth
from tests.servers import Service
from tests.test_e2e import run_sample

USER = "5ca1ed00-0000-4000-8000-000000000001"
OTHER = "5ca1ed00-0000-4000-8000-000000000002"
RECIPE_KEYS = {
    "id", "title", "description", "language", "servings", "prep_minutes", "cook_minutes",
    "total_minutes", "ingredients", "steps", "tags", "source", "created_at",
}  # fmt: skip
INGREDIENT_KEYS = {"text", "name", "quantity", "quantity_max", "unit", "note", "group"}

PANCAKES = [
    "250 g Mehl",
    "3 Eier",
    "500 ml Milch",
    "1 EL Öl",
    "1 Prise Salz",
    "1 Becher Sahne",
    "Butter zum Braten",
]


def _store(service: Service, user: str, recipe: Recipe) -> str:
    async def save() -> str:
        store = SqliteRecipeStore(service.data_dir / "recipes.sqlite3")
        try:
            saved = await store.save(user_id=user, task_id=str(uuid.uuid4()), recipe=recipe)
        finally:
            await store.aclose()
        assert saved.id is not None
        return saved.id

    return asyncio.run(save())


def _pancakes(servings: int | None = 4) -> Recipe:
    return Recipe(
        title="Pfannkuchen",
        language="de",
        servings=servings,
        ingredients=[parse_ingredient(line) for line in PANCAKES],
        steps=[Step(text="Teig 30 Minuten ruhen lassen.", minutes=30)],
    )


def _get(service: Service, token: str, path: str, **params: str) -> httpx.Response:
    return httpx.get(f"{service.base_url}{path}", params=params, headers=auth(token), timeout=10)


def _texts(recipe: dict[str, Any]) -> list[str]:
    return [i["text"] for i in recipe["ingredients"]]


@pytest.fixture(scope="module")
def token(service: Service) -> str:
    return service.token(USER)


def test_a_stored_recipe_scaled_and_converted(service: Service, token: str) -> None:
    recipe_id = _store(service, USER, _pancakes())
    path = f"/recipes/{recipe_id}"
    plain = _get(service, token, path)
    assert plain.status_code == 200 and set(plain.json()) == RECIPE_KEYS

    doubled = _get(service, token, path, servings="8").json()
    assert doubled["servings"] == 8
    assert _texts(doubled) == [
        "500 g Mehl",
        "6 Eier",
        "1 l Milch",
        "2 EL Öl",
        "2 Prisen Salz",
        "2 Becher Sahne",
        "Butter zum Braten",
    ]
    assert doubled["scaling"]["factor"] == 2 and doubled["scaling"]["original_servings"] == 4
    assert doubled["steps"] == plain.json()["steps"]
    # The original is kept alongside, the additions never replace a field of API.md.
    for scaled, original in zip(doubled["ingredients"], plain.json()["ingredients"], strict=True):
        assert set(scaled) == INGREDIENT_KEYS | {"amount", "original", "flags", "notes"}
        assert scaled["original"] == {
            k: original[k] for k in ("text", "quantity", "quantity_max", "unit")
        }
    salt = doubled["ingredients"][4]
    assert salt["flags"] == ["seasoning", "rounded"] and salt["notes"]
    assert doubled["ingredients"][6]["flags"] == ["unmeasured"]

    us = _get(service, token, path, servings="2", units="us").json()
    assert _texts(us)[:4] == ["1 Cup Mehl", "2 Eier", "1 Cup Milch", "1 ½ TL Öl"]
    assert us["ingredients"][0]["flags"] == ["converted"]
    assert us["ingredients"][0]["amount"] == "1"


def test_without_the_parameters_the_answer_is_unchanged(service: Service, token: str) -> None:
    recipe_id = _store(service, USER, _pancakes())
    path = f"/recipes/{recipe_id}"
    plain = _get(service, token, path)
    other = _get(service, token, path, other="x")
    assert other.content == plain.content
    assert set(plain.json()) == RECIPE_KEYS
    assert all(set(i) == INGREDIENT_KEYS for i in plain.json()["ingredients"])


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"servings": "0"}, 400, "invalid_servings"),
        ({"servings": "abc"}, 400, "invalid_servings"),
        ({"servings": "2", "scale": "2"}, 400, "invalid_servings"),
        ({"scale": "1000"}, 400, "invalid_servings"),
        ({"units": "imperial"}, 400, "invalid_units"),
    ],
)
def test_bad_values_are_refused_with_what_to_send(
    service: Service, token: str, params: dict[str, str], status: int, code: str
) -> None:
    recipe_id = _store(service, USER, _pancakes())
    for path in (f"/recipes/{recipe_id}", "/task/00000000-0000-4000-8000-000000000000"):
        response = _get(service, token, path, **params)
        assert response.status_code == status, response.text
        body = response.json()
        assert body["error"] == code and body["message"]


def test_servings_of_a_recipe_that_does_not_say_how_many(service: Service, token: str) -> None:
    recipe_id = _store(service, USER, _pancakes(servings=None))
    refused = _get(service, token, f"/recipes/{recipe_id}", servings="4")
    assert refused.status_code == 422
    assert refused.json()["error"] == "servings_unknown" and "scale=" in refused.json()["message"]
    halved = _get(service, token, f"/recipes/{recipe_id}", scale="0.5")
    assert halved.status_code == 200 and _texts(halved.json())[0] == "130 g Mehl"
    assert halved.json()["servings"] is None


def test_someone_elses_recipe_stays_hidden_with_parameters(service: Service, token: str) -> None:
    recipe_id = _store(service, OTHER, _pancakes())
    response = _get(service, token, f"/recipes/{recipe_id}", servings="8", units="metric")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_a_task_result_scaled_and_converted(service: Service, token: str) -> None:
    task = run_sample(service, token)  # the carbonara sample: serves 2
    path = f"/task/{task['task_id']}"
    assert _get(service, token, path, other="x").json() == task
    scaled = _get(service, token, path, servings="4", units="us").json()
    recipe = scaled["result"]["recipe"]
    assert {k: v for k, v in scaled.items() if k != "result"} == {
        k: v for k, v in task.items() if k != "result"
    }
    assert recipe["servings"] == 4 and recipe["scaling"]["units"] == "us"
    spaghetti = next(i for i in recipe["ingredients"] if i["name"] == "spaghetti")
    assert (spaghetti["quantity"], spaghetti["unit"]) == (14, "oz")  # 400 g
    assert spaghetti["original"]["quantity"] == 200 and spaghetti["original"]["unit"] == "g"
    eggs = next(i for i in recipe["ingredients"] if i["name"] == "eggs")
    assert eggs["quantity"] == 4
    # The stored recipe itself is untouched.
    stored = _get(service, token, f"/recipes/{task['result']['recipe_id']}").json()
    assert stored == task["result"]["recipe"]


def test_ingredient_struct_fields_are_what_the_test_expects() -> None:
    # Guards the sets above: a field added to Ingredient must be added here too.
    assert set(Ingredient.__struct_fields__) == INGREDIENT_KEYS
    assert set(Recipe.__struct_fields__) == RECIPE_KEYS
