"""The recipe as far as a streamed answer has written it.

The model writes its structured answer as JSON, a few characters at a time.
`read_partial` parses the incomplete text with jiter's partial mode (the parser
the OpenAI SDK itself uses for partial JSON) and keeps only what the model has
*finished* writing, so that nothing shown early changes later except by growing:

- jiter (`partial_mode="on"`) leaves out a string that is still open, so a title
  or an item field that is there is whole;
- but a number at the very end may still be growing ("quantity": 20 of 200), and
  the last item of a list may lack its last fields; so the last item of a list
  counts only once the list is closed, which is when its object has a key after
  it (the model writes the keys in the schema's order; a list with nothing after
  it is still being written).

The answer is either one recipe object or, with several recipes per post, an
object whose `recipes` list holds them: then the first recipe is read.
Items that do not fit the schema are skipped, not guessed at; the `completion`
message, built from the whole answer, is the recipe.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

import jiter
import msgspec

from ..models import Ingredient, Step
from .recipe_schema import IngredientOutput, StepOutput

T = TypeVar("T")

# At most this often per task: a few a second is as fast as anyone reads, and
# each one is a Redis stream entry every watching client is sent.
PARTIAL_INTERVAL_S = 0.3
# And at most this many per task: each is a stream entry kept as long as the task
# (RESIMPLY_TASK_TTL_S) and replayed to late clients. A recipe takes 10–40 (one
# per finished item at most); the cap only stops a runaway answer.
MAX_PARTIALS = 100


@dataclasses.dataclass(frozen=True, slots=True)
class PartialRecipe:
    title: str | None = None
    ingredients: tuple[Ingredient, ...] = ()
    steps: tuple[Step, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.title or self.ingredients or self.steps)


@runtime_checkable
class PartialSink(Protocol):
    """Where partial recipes go (the task's progress handle, in the worker)."""

    async def partial(self, recipe: PartialRecipe) -> None: ...


def read_partial(text: str) -> PartialRecipe:
    """What the (possibly incomplete) answer `text` holds for sure; empty if nothing."""
    try:
        document = jiter.from_json(text.encode(), partial_mode="on")
    except ValueError:
        return PartialRecipe()  # not JSON (yet, or at all): nothing to show
    recipe = _first_recipe(document)
    if recipe is None:
        return PartialRecipe()
    title = recipe.get("title")
    return PartialRecipe(
        title=title.strip() or None if isinstance(title, str) else None,
        ingredients=tuple(_items(recipe, "ingredients", _ingredient)),
        steps=tuple(_items(recipe, "steps", _step)),
    )


def _first_recipe(document: Any) -> dict[str, Any] | None:
    if not isinstance(document, dict):
        return None
    recipes = document.get("recipes")
    if isinstance(recipes, list):
        first = recipes[0] if recipes else None
        return first if isinstance(first, dict) else None
    return document


def _items(recipe: dict[str, Any], key: str, convert: Callable[[Any], T | None]) -> list[T]:
    values = recipe.get(key)
    if not isinstance(values, list):
        return []
    keys = list(recipe)
    closed = keys.index(key) < len(keys) - 1  # something follows the list: it is closed
    done = values if closed else values[:-1]
    return [item for value in done if (item := convert(value)) is not None]


def _ingredient(value: Any) -> Ingredient | None:
    try:
        item = msgspec.convert(value, IngredientOutput)
    except msgspec.ValidationError:
        return None
    text = item.text.strip()
    if not text:
        return None
    # The same tidying as `recipe_schema.to_recipe`, so the completion only adds.
    quantity = item.quantity if item.quantity is not None and item.quantity > 0 else None
    high = item.quantity_max
    if high is not None and (high <= 0 or (quantity is not None and high <= quantity)):
        high = None
    return Ingredient(
        text=text,
        name=_clean(item.name),
        quantity=quantity,
        quantity_max=high,
        unit=_clean(item.unit),
        note=_clean(item.note),
        group=_clean(item.group),
    )


def _step(value: Any) -> Step | None:
    try:
        item = msgspec.convert(value, StepOutput)
    except msgspec.ValidationError:
        return None
    text = item.text.strip()
    if not text:
        return None
    minutes = item.minutes if item.minutes is not None and item.minutes >= 0 else None
    return Step(text=text, minutes=minutes)


def _clean(value: str | None) -> str | None:
    return (value.strip() or None) if value is not None else None


class PartialPublisher:
    """Feeds a `PartialSink` from a streamed answer, at most once per `interval_s`.

    One per task (it outlives the answers asked for, so a retried answer does not
    reset the limit). The answer is parsed only when a message may be sent, and a
    message goes only when the recipe read so far changed."""

    def __init__(
        self,
        sink: PartialSink | None,
        *,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._interval_s = interval_s
        self._clock = clock
        self._last_sent: PartialRecipe | None = None
        self._sent_at: float | None = None
        self.sent = 0

    def restart(self) -> None:
        """A new answer begins: what it writes is compared with nothing yet."""
        self._last_sent = None

    async def offer(self, text: str | Callable[[], str]) -> None:
        """`text`: the whole answer so far, or a function that returns it (called
        only when a message may be sent)."""
        if self._sink is None or self.sent >= MAX_PARTIALS:
            return
        now = self._clock()
        if self._sent_at is not None and now - self._sent_at < self._interval_s:
            return
        recipe = read_partial(text if isinstance(text, str) else text())
        if recipe.empty or recipe == self._last_sent:
            return
        self._last_sent = recipe
        self._sent_at = now
        self.sent += 1
        await self._sink.partial(recipe)
