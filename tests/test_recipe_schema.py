"""The structured-output schema is derived from the msgspec structs and obeys
OpenAI's strict-mode rules (resimply.providers.recipe_schema)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from resimply.models import MAX_RECIPES, Ingredient, Recipe, Step
from resimply.providers import recipe_schema
from resimply.providers.recipe_schema import (
    ALLOWED_KEYWORDS,
    RECIPE_SCHEMA,
    IngredientOutput,
    RecipeOutput,
    StepOutput,
    decode_output,
    strict_schema,
    to_recipe,
)
from tests.fakes.openai import full_recipe, ingredient, more_recipe

NULLABLE_INT = [{"type": "integer"}, {"type": "null"}]
NULLABLE_NUMBER = [{"type": "number"}, {"type": "null"}]
NULLABLE_STRING = [{"type": "string"}, {"type": "null"}]


def strict_violations(node: Any, path: str = "$") -> list[str]:
    """Every place where `node` breaks a strict-mode rule."""
    problems: list[str] = []
    if isinstance(node, list):
        for index, item in enumerate(node):
            problems += strict_violations(item, f"{path}[{index}]")
        return problems
    if not isinstance(node, dict):
        return problems
    for key in node:
        if key not in ALLOWED_KEYWORDS:
            problems.append(f"{path}: keyword {key!r}")
    if node.get("type") == "object" or "properties" in node:
        if node.get("additionalProperties") is not False:
            problems.append(f"{path}: additionalProperties is not false")
        if sorted(node.get("required", [])) != sorted(node.get("properties", {})):
            problems.append(f"{path}: required != properties")
    if "type" not in node and "anyOf" not in node:
        problems.append(f"{path}: neither type nor anyOf")
    for name, sub in node.get("properties", {}).items():
        problems += strict_violations(sub, f"{path}.{name}")
    if "items" in node:
        problems += strict_violations(node["items"], f"{path}[]")
    if "anyOf" in node:
        problems += strict_violations(node["anyOf"], f"{path}|")
    return problems


def test_the_recipe_schema_satisfies_strict_mode_everywhere() -> None:
    assert strict_violations(RECIPE_SCHEMA) == []
    assert RECIPE_SCHEMA["type"] == "object"
    assert "$defs" not in json.dumps(RECIPE_SCHEMA)
    assert "$ref" not in json.dumps(RECIPE_SCHEMA)
    assert '"default"' not in json.dumps(RECIPE_SCHEMA)


def test_the_checker_catches_what_msgspec_emits_raw() -> None:
    raw = msgspec.json.schema(RecipeOutput)
    problems = strict_violations(raw)
    assert "$: keyword '$ref'" in problems
    assert "$: keyword '$defs'" in problems


def test_properties_are_the_struct_fields_in_order() -> None:
    assert list(RECIPE_SCHEMA["properties"]) == list(RecipeOutput.__struct_fields__)
    assert RECIPE_SCHEMA["required"] == list(RecipeOutput.__struct_fields__)
    items = RECIPE_SCHEMA["properties"]["ingredients"]["items"]
    assert list(items["properties"]) == list(IngredientOutput.__struct_fields__)
    steps = RECIPE_SCHEMA["properties"]["steps"]["items"]
    assert list(steps["properties"]) == ["text", "minutes"]
    assert list(RecipeOutput.__struct_fields__)[:2] == ["is_recipe", "not_a_recipe_reason"]


def test_field_types_follow_the_structs() -> None:
    props = RECIPE_SCHEMA["properties"]
    assert props["is_recipe"] == {
        "description": "false when the video contains no recipe.",
        "type": "boolean",
    }
    assert props["title"]["type"] == "string"
    assert props["servings"]["anyOf"] == NULLABLE_INT
    assert props["prep_minutes"] == {"anyOf": NULLABLE_INT}
    assert props["tags"]["type"] == "array"
    assert props["tags"]["items"] == {"type": "string"}
    ingredient_props = props["ingredients"]["items"]["properties"]
    assert ingredient_props["quantity"]["anyOf"] == NULLABLE_NUMBER
    assert ingredient_props["quantity_max"]["anyOf"] == NULLABLE_NUMBER
    assert ingredient_props["unit"]["anyOf"] == NULLABLE_STRING
    assert ingredient_props["text"]["type"] == "string"
    assert props["steps"]["items"]["properties"]["minutes"]["anyOf"] == NULLABLE_INT


def test_output_structs_mirror_the_models() -> None:
    verdict_and_more = {"is_recipe", "not_a_recipe_reason", "more_recipes"}
    content = set(RecipeOutput.__struct_fields__) - verdict_and_more
    assert content == set(recipe_schema.RECIPE_CONTENT_FIELDS)
    assert content == set(Recipe.__struct_fields__) - {"id", "source", "created_at"}
    assert IngredientOutput.__struct_fields__ == Ingredient.__struct_fields__
    assert StepOutput.__struct_fields__ == Step.__struct_fields__


class Spice(msgspec.Struct, kw_only=True):
    name: str
    heat: int = 3


class ExtendedOutput(RecipeOutput, kw_only=True):
    spiciness: int | None = None
    spices: list[Spice] = msgspec.field(default_factory=list)
    main_spice: Spice | None = None


def test_a_field_added_to_the_struct_shows_up_strict() -> None:
    schema = strict_schema(ExtendedOutput)
    assert list(schema["properties"])[-3:] == ["spiciness", "spices", "main_spice"]
    assert schema["required"] == list(ExtendedOutput.__struct_fields__)
    assert schema["properties"]["spiciness"] == {"anyOf": NULLABLE_INT}
    spice = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "heat": {"type": "integer"}},
        "required": ["name", "heat"],
        "additionalProperties": False,
    }
    assert schema["properties"]["spices"] == {"type": "array", "items": spice}
    assert schema["properties"]["main_spice"] == {"anyOf": [spice, {"type": "null"}]}
    assert strict_violations(schema) == []


def test_a_schema_that_is_not_an_object_is_refused() -> None:
    class Wrapper(msgspec.Struct, array_like=True):
        value: int

    with pytest.raises(TypeError, match="Wrapper"):
        strict_schema(Wrapper)


def test_response_format_wraps_the_schema() -> None:
    fmt = recipe_schema.response_format()
    assert fmt == {
        "type": "json_schema",
        "json_schema": {"name": "Recipe", "strict": True, "schema": RECIPE_SCHEMA},
    }
    fmt["json_schema"]["schema"]["properties"].clear()
    assert "title" in RECIPE_SCHEMA["properties"]  # a copy


# --- decoding and conversion --------------------------------------------------------

CARBONARA = full_recipe(
    title="  Spaghetti Carbonara ",
    description="Roman pasta with egg and guanciale.",
    language="EN",
    servings=2,
    prep_minutes=10,
    cook_minutes=15,
    total_minutes=25,
    ingredients=[
        ingredient(text="200 g spaghetti", name="spaghetti", quantity=200, unit="g"),
        ingredient(
            text="2-3 eggs", name="eggs", quantity=2, quantity_max=3, note="  ", group="Sauce"
        ),
        ingredient(text="salt", name="salt"),
        ingredient(text="  "),
    ],
    steps=[{"text": "Boil the pasta.", "minutes": 9}, {"text": "Mix.", "minutes": -1}],
    tags=["Pasta", "#carbonara", "pasta", " "],
)


def test_decode_then_convert_gives_the_recipe() -> None:
    output = decode_output(json.dumps(CARBONARA))
    assert output.is_recipe is True
    recipe = to_recipe(output)
    assert recipe == Recipe(
        title="Spaghetti Carbonara",
        description="Roman pasta with egg and guanciale.",
        language="en",
        servings=2,
        prep_minutes=10,
        cook_minutes=15,
        total_minutes=25,
        ingredients=[
            Ingredient(text="200 g spaghetti", name="spaghetti", quantity=200.0, unit="g"),
            Ingredient(text="2-3 eggs", name="eggs", quantity=2.0, quantity_max=3.0, group="Sauce"),
            Ingredient(text="salt", name="salt"),
        ],
        steps=[Step(text="Boil the pasta.", minutes=9), Step(text="Mix.", minutes=None)],
        tags=["pasta", "carbonara"],
    )
    assert recipe.id is None and recipe.source is None and recipe.created_at is None


def test_conversion_drops_nonsense_and_keeps_the_requested_language() -> None:
    answer = full_recipe(
        title=" ",
        language="it",
        servings=0,
        ingredients=[ingredient(text="1 egg", quantity=2, quantity_max=1, unit=" ")],
    )
    recipe = to_recipe(decode_output(json.dumps(answer)), language="pt-BR")
    assert recipe.title == "Untitled recipe"
    assert recipe.language == "pt"
    assert recipe.servings is None
    assert recipe.ingredients == [Ingredient(text="1 egg", quantity=2.0)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("title"), "missing required field `title`"),
        (lambda a: a.update(extra=1), "unknown field `extra`"),
        (lambda a: a.update(servings="two"), "Expected `int | null`, got `str`"),
        (lambda a: a["ingredients"][0].pop("unit"), "missing required field `unit`"),
    ],
)
def test_answers_that_break_the_schema_do_not_decode(change: Any, message: str) -> None:
    answer = json.loads(json.dumps(CARBONARA))
    change(answer)
    with pytest.raises(msgspec.ValidationError, match=message):
        decode_output(json.dumps(answer))


def test_bad_json_does_not_decode() -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_output('{"is_recipe": true, "title": "Carbo')


def test_further_dishes_become_recipes_up_to_the_cap() -> None:
    step = [{"text": "Cook it."}]
    answer = full_recipe(
        title="Main",
        language="en",
        steps=step,
        tags=["x"],
        more_recipes=[more_recipe(title=f"Side {n}", steps=step) for n in range(1, 8)],
    )
    recipes = recipe_schema.to_recipes(recipe_schema.decode_output(json.dumps(answer)))
    assert [r.title for r in recipes] == ["Main"] + [f"Side {n}" for n in range(1, MAX_RECIPES)]
    assert {(r.language, tuple(r.tags)) for r in recipes} == {("en", ("x",))}
