"""A recipe as Markdown, for people (`resimply extract`'s default on a terminal)."""

from __future__ import annotations

from .models import Recipe


def recipe_markdown(recipe: Recipe) -> str:
    lines = [f"# {recipe.title}", ""]
    if recipe.description:
        lines += [recipe.description, ""]
    facts = [
        f"{label}: {value}"
        for label, value in (
            ("Serves", recipe.servings),
            ("Prep", f"{recipe.prep_minutes} min" if recipe.prep_minutes else None),
            ("Cook", f"{recipe.cook_minutes} min" if recipe.cook_minutes else None),
            ("Total", f"{recipe.total_minutes} min" if recipe.total_minutes else None),
        )
        if value
    ]
    if facts:
        lines += [" · ".join(facts), ""]
    if recipe.ingredients:
        lines += ["## Ingredients", ""]
        group: str | None = None
        for item in recipe.ingredients:
            if item.group and item.group != group:
                group = item.group
                lines += ["", f"### {group}", ""]
            lines.append(f"- {item.text}")  # as written; the JSON has the parsed parts
        lines.append("")
    if recipe.steps:
        lines += ["## Steps", ""]
        for number, step in enumerate(recipe.steps, 1):
            timing = f" ({step.minutes} min)" if step.minutes else ""
            lines.append(f"{number}. {step.text}{timing}")
        lines.append("")
    if recipe.tags:
        lines += ["Tags: " + ", ".join(recipe.tags), ""]
    if recipe.source is not None:
        by = f" by {recipe.source.author}" if recipe.source.author else ""
        lines += [f"Source: {recipe.source.url}{by}", ""]
    return "\n".join(lines).rstrip() + "\n"
