"""What the model must answer, as msgspec structs — and the strict JSON schema
for OpenAI structured output generated from them (EXTERNALS.md §2).

The structs are the one source of truth: `RECIPE_SCHEMA` is
`msgspec.json.schema(RecipeOutput)` post-processed by `strict_schema` into what
OpenAI's strict mode accepts, and the model's answer is decoded back into the
same structs (`decode_output`), so the schema we send and the validation we
apply can never drift apart.

Strict mode rules (`strict_schema` enforces them recursively):
- every object has `additionalProperties: false` and lists every property in
  `required` (an optional value is a required property that may be null);
- nullable values are `anyOf: [{...}, {"type": "null"}]`;
- the root is a plain object: `$ref`s are inlined and `$defs` dropped;
- only supported keywords remain (no `default`, `title`, bounds, formats).
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

import msgspec

from ..models import MAX_RECIPES, Ingredient, Recipe, Step

# Keywords kept in the schema sent to OpenAI; everything else is dropped.
ALLOWED_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "anyOf",
        "enum",
        "const",
        "description",
    }
)

SCHEMA_NAME = "Recipe"


# Docstrings and `Meta(description=...)` end up in the schema: they are written
# for the model. Each struct mirrors a `models` struct; a test keeps the field
# names in step.


class IngredientOutput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One ingredient, in the order the video gives them."""

    text: Annotated[
        str,
        msgspec.Meta(description="The whole ingredient line, e.g. '200 g spaghetti, cooked'."),
    ]
    name: Annotated[str | None, msgspec.Meta(description="The ingredient alone, e.g. 'spaghetti'.")]
    quantity: Annotated[
        float | None,
        msgspec.Meta(
            description="The amount as a number ('1/2' -> 0.5; a range '2-3' -> 2). "
            "null when the video does not give one; never guess."
        ),
    ]
    quantity_max: Annotated[
        float | None,
        msgspec.Meta(description="Upper bound of a range ('2-3 eggs' -> 3), else null."),
    ]
    unit: Annotated[
        str | None,
        msgspec.Meta(
            description="The unit exactly as written in the source language ('g', 'EL', 'cups'); "
            "null for countable items."
        ),
    ]
    note: Annotated[
        str | None,
        msgspec.Meta(description="Preparation or remark, e.g. 'finely grated', else null."),
    ]
    group: Annotated[
        str | None,
        msgspec.Meta(description="The section it belongs to, e.g. 'For the sauce', else null."),
    ]


class StepOutput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One step of the method, in order."""

    text: Annotated[str, msgspec.Meta(description="One instruction, in the recipe's language.")]
    minutes: Annotated[
        int | None, msgspec.Meta(description="Time this step takes when stated, else null.")
    ]


class MoreRecipeOutput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Another dish of the same video, made separately with its own ingredients and
    steps (a sauce, dip or side served with the main dish). Same language and
    rules as the main recipe."""

    title: Annotated[str, msgspec.Meta(description="This dish's own name, e.g. 'Mushroom sauce'.")]
    description: Annotated[
        str | None, msgspec.Meta(description="One or two sentences about it, or null.")
    ]
    servings: Annotated[int | None, msgspec.Meta(description="Number of servings, or null.")]
    prep_minutes: int | None
    cook_minutes: int | None
    total_minutes: int | None
    ingredients: list[IngredientOutput]
    steps: list[StepOutput]


class RecipeOutput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The recipe shown in the video, written down exactly as the video shows or says it."""

    # The verdict plus `models.Recipe`'s content fields. `is_recipe` comes first
    # so the model decides before it writes anything else.

    is_recipe: Annotated[bool, msgspec.Meta(description="false when the video contains no recipe.")]
    not_a_recipe_reason: Annotated[
        str | None,
        msgspec.Meta(description="When is_recipe is false: one short sentence why; else null."),
    ]
    title: Annotated[str, msgspec.Meta(description="The dish's name; empty when not a recipe.")]
    description: Annotated[
        str | None, msgspec.Meta(description="One or two sentences about the dish, or null.")
    ]
    language: Annotated[
        str | None,
        msgspec.Meta(description="ISO 639-1 code of the language the recipe is written in."),
    ]
    servings: Annotated[int | None, msgspec.Meta(description="Number of servings, or null.")]
    prep_minutes: int | None
    cook_minutes: int | None
    total_minutes: int | None
    ingredients: list[IngredientOutput]
    steps: list[StepOutput]
    tags: Annotated[
        list[str],
        msgspec.Meta(description="A few lowercase keywords (dish type, cuisine, diet)."),
    ]
    # Last, so an answer read while it is written shows the main recipe first. A
    # default: answers without it (older fakes, recorded answers) still decode.
    more_recipes: Annotated[
        list[MoreRecipeOutput],
        msgspec.Meta(
            description="Further dishes of the video, each made separately with its own "
            "ingredients and its own steps (e.g. a sauce or side served with the main "
            "dish), in the video's order; the fields above hold the main dish. Parts of "
            "one dish (dough and filling of a cake, a sauce cooked into the dish, steps "
            "shared with the main) are not separate: keep them in the main ingredients "
            "with group. Usually empty."
        ),
    ] = msgspec.field(default_factory=list)


# --- schema ------------------------------------------------------------------


def strict_schema(struct_type: type[msgspec.Struct]) -> dict[str, Any]:
    """`msgspec.json.schema(struct_type)` rewritten for OpenAI strict mode."""
    raw = msgspec.json.schema(struct_type)
    defs: dict[str, Any] = raw.get("$defs", {})
    schema = _strict(_inline(raw, defs, ()))
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise TypeError(f"{struct_type.__name__} does not give an object schema")
    return schema


def _inline(node: Any, defs: dict[str, Any], seen: tuple[str, ...]) -> Any:
    """Replace every `{"$ref": "#/$defs/X"}` with a copy of X (our types are not recursive)."""
    if isinstance(node, list):
        return [_inline(item, defs, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.removeprefix("#/$defs/")
        if name in seen:
            raise TypeError(f"recursive type {name} cannot be inlined")
        target = dict(defs[name])
        # Keywords next to the $ref (e.g. a field's description) win over the target's.
        target.update({k: v for k, v in node.items() if k != "$ref"})
        return _inline(target, defs, (*seen, name))
    return {k: _inline(v, defs, seen) for k, v in node.items() if k != "$defs"}


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in ALLOWED_KEYWORDS:
            continue
        if key == "properties":
            out[key] = {name: _strict(sub) for name, sub in value.items()}
        elif key in ("items", "anyOf"):
            out[key] = _strict(value)
        else:
            out[key] = copy.deepcopy(value)
    if out.get("type") == "object" or "properties" in out:
        out["type"] = "object"
        out.setdefault("properties", {})
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


RECIPE_SCHEMA: dict[str, Any] = strict_schema(RecipeOutput)
"""The `schema` of `response_format={"type": "json_schema", ...}`."""


def response_format() -> dict[str, Any]:
    """The `response_format` request value (a fresh copy, safe to mutate)."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": SCHEMA_NAME,
            "strict": True,
            "schema": copy.deepcopy(RECIPE_SCHEMA),
        },
    }


# --- answers -------------------------------------------------------------------

_decoder = msgspec.json.Decoder(RecipeOutput)


def decode_output(content: str | bytes) -> RecipeOutput:
    """The model's JSON answer; raises `msgspec.DecodeError` (bad JSON or schema mismatch)."""
    return _decoder.decode(content)


MAX_TAGS = 10


def to_recipes(output: RecipeOutput, *, language: str | None = None) -> list[Recipe]:
    """The main recipe, then the further dishes that hold ingredients or steps;
    they share the main recipe's language and tags."""
    main = to_recipe(output, language=language)
    recipes = [main]
    for more in output.more_recipes[: MAX_RECIPES - 1]:
        recipe = to_recipe(
            RecipeOutput(
                is_recipe=True,
                not_a_recipe_reason=None,
                title=more.title,
                description=more.description,
                language=main.language,
                servings=more.servings,
                prep_minutes=more.prep_minutes,
                cook_minutes=more.cook_minutes,
                total_minutes=more.total_minutes,
                ingredients=more.ingredients,
                steps=more.steps,
                tags=main.tags,
            ),
            language=main.language,
        )
        if recipe.ingredients or recipe.steps:
            recipes.append(recipe)
    return recipes


def to_recipe(output: RecipeOutput, *, language: str | None = None) -> Recipe:
    """The `models.Recipe` of a positive answer (`id`, `source`, `created_at` stay None).

    Values the model may get slightly wrong are tidied, never invented: blank
    strings become None, non-positive counts and negative times become None,
    a range bound not above its start is dropped. `language`, when the user
    asked for one, overrides the model's own claim.
    """
    ingredients = [
        Ingredient(
            text=text,
            name=_clean(item.name),
            quantity=_amount(item.quantity),
            quantity_max=_upper(item.quantity, item.quantity_max),
            unit=_clean(item.unit),
            note=_clean(item.note),
            group=_clean(item.group),
        )
        for item in output.ingredients
        if (text := item.text.strip())
    ]
    steps = [
        Step(text=text, minutes=_minutes(step.minutes))
        for step in output.steps
        if (text := step.text.strip())
    ]
    return Recipe(
        title=output.title.strip() or "Untitled recipe",
        description=_clean(output.description),
        language=language_code(language) or language_code(output.language),
        servings=output.servings if output.servings is not None and output.servings > 0 else None,
        prep_minutes=_minutes(output.prep_minutes),
        cook_minutes=_minutes(output.cook_minutes),
        total_minutes=_minutes(output.total_minutes),
        ingredients=ingredients,
        steps=steps,
        tags=_tags(output.tags),
    )


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip() or None


def _amount(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None


def _upper(low: float | None, high: float | None) -> float | None:
    if high is None or high <= 0 or (low is not None and high <= low):
        return None
    return high


def _minutes(value: int | None) -> int | None:
    return value if value is not None and value >= 0 else None


def language_code(value: str | None) -> str | None:
    """The primary subtag, lowercase ('pt-BR' → 'pt'); None unless it looks like a code."""
    if not value:
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary.isascii() and primary.isalpha() and 2 <= len(primary) <= 3 else None


def _tags(values: list[str]) -> list[str]:
    tags: list[str] = []
    for value in values:
        tag = value.strip().lstrip("#").strip().lower()
        if tag and tag not in tags:
            tags.append(tag)
    return tags[:MAX_TAGS]


# Names the test keeps in step with `models` (the output mirrors these).
RECIPE_CONTENT_FIELDS = tuple(
    f for f in Recipe.__struct_fields__ if f not in {"id", "source", "created_at"}
)
INGREDIENT_FIELDS = Ingredient.__struct_fields__
STEP_FIELDS = Step.__struct_fields__
