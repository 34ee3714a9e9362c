"""The progress handle a step receives: publishes into the task's stream."""

from __future__ import annotations

from ..errors import Cancelled
from ..messages import STAGES, Partial, Progress
from ..models import TaskStatus
from ..providers.partial_recipe import PartialRecipe
from ..tasks import TaskStore


class TaskProgress:
    """Publishes `progress` messages for one task, one step at a time.

    A publish that the task store refuses means the task already finished —
    in practice, that someone cancelled it — so the step stops right there.
    """

    def __init__(self, tasks: TaskStore, task_id: str) -> None:
        self._tasks = tasks
        self._task_id = task_id
        self._step = 0
        self._status = ""

    @property
    def step(self) -> int:
        return self._step

    async def begin(self, step: int, status: str, details: str | None = None) -> None:
        """Announce the start of step `step` (1-based, see API.md)."""
        self._step = step
        self._status = status
        await self._publish(details, None, TaskStatus.STARTED if step == 1 else TaskStatus.PROGRESS)

    async def update(self, details: str, fraction: float | None = None) -> None:
        if fraction is not None:
            fraction = round(min(max(fraction, 0.0), 1.0), 3)
        await self._publish(details, fraction, TaskStatus.PROGRESS)

    async def partial(self, recipe: PartialRecipe) -> None:
        """Publish a `partial` message (the extractor limits how often)."""
        message = Partial(
            task_id=self._task_id,
            title=recipe.title,
            ingredients=list(recipe.ingredients),
            steps=list(recipe.steps),
        )
        if await self._tasks.partial(message) is None:
            raise Cancelled()

    async def _publish(
        self, details: str | None, fraction: float | None, status: TaskStatus
    ) -> None:
        message = Progress(
            task_id=self._task_id,
            step=self._step,
            stage=STAGES[self._step - 1],
            status=self._status,
            details=details,
            fraction=fraction,
        )
        if await self._tasks.progress(message, status=status) is None:
            raise Cancelled()
