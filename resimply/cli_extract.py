"""`resimply extract <url-or-file>`: the terminal side — progress, output, exit codes.

    0  the recipe is printed (Markdown on a terminal, JSON when piped; --json / --markdown);
       a post with several recipes (a main and its sauce) prints them all — see `render`
    1  the task ended with an error: `resimply: <code>: <message>` on stderr
    2  the link cannot be a task (`invalid_request`, `unsupported_url`) or the
       configuration is wrong — nothing was started
    130 interrupted (Ctrl-C)

Progress goes to stderr and only when stderr is a terminal (rich's live
display); stdout holds the recipe alone, so `resimply extract … --json | jq` works.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from typing import IO, Any

import msgspec
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .errors import ResimplyError
from .messages import Completion, ErrorMessage, Message, Partial
from .models import TOTAL_STEPS, Recipe, TaskResult
from .oneshot import ExtractFailed, Outcome, extract
from .recipe_text import recipe_markdown
from .settings import Settings

EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_INTERRUPTED = 130


class LiveProgress:
    """Rich's progress bar over the task's five steps, one ✓ line per step done."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._bar.add_task("Starting", total=TOTAL_STEPS)
        self._step = 0
        self._done_line = ""

    def __enter__(self) -> LiveProgress:
        self._bar.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._bar.stop()

    def __call__(self, message: Message) -> None:
        if isinstance(message, Completion | ErrorMessage):
            self._finish_step(ok=isinstance(message, Completion))
            return
        if isinstance(message, Partial):
            return  # the bar shows steps; the recipe is printed once it is read
        if message.step != self._step:
            self._finish_step(ok=True)
            self._step = message.step
        self._done_line = f"{message.step}/{message.total_steps} {message.stage}: {message.status}"
        details = f" — {message.details}" if message.details else ""
        self._bar.update(
            self._task,
            description=self._done_line + details,
            completed=message.step - 1 + (message.fraction or 0.0),
        )

    def _finish_step(self, *, ok: bool) -> None:
        if self._done_line:
            mark = "[green]✓[/]" if ok else "[red]✗[/]"
            self._bar.console.print(f"{mark} {self._done_line}", highlight=False)
            self._done_line = ""


def cli_settings(settings: Settings) -> Settings:
    """The environment's settings, for a command a person runs on their own machine:
    local files and addresses on their own network are theirs to read (the
    direct scraper takes them in development mode), and the log shows warnings
    only unless LOG_LEVEL asks for more (progress has its own display)."""
    return dataclasses.replace(
        settings,
        dev=True,
        log_level=settings.log_level if os.environ.get("LOG_LEVEL") else "WARNING",
    )


def run_extract(
    settings: Settings,
    url: str,
    *,
    language: str | None,
    caption: str | None,
    output: str | None,
    stdout: IO[str] = sys.stdout,
) -> int:
    err = Console(stderr=True, highlight=False)
    redis_url = os.environ.get("REDIS_URL", "").strip() or None

    async def go(on_message: Any) -> Outcome:
        return await extract(
            settings,
            url,
            language=language,
            caption=caption,
            redis_url=redis_url,
            on_message=on_message,
        )

    try:
        if err.is_terminal:
            with LiveProgress(err) as live:
                outcome = asyncio.run(go(live))
        else:
            outcome = asyncio.run(go(lambda _: None))
    except ResimplyError as exc:  # the link itself: nothing was started
        print(f"resimply: {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_REFUSED
    except ExtractFailed as exc:
        print(f"resimply: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("resimply: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if outcome.result is None:
        error = outcome.error
        code, text = (error.error, error.message) if error else ("internal", "No recipe.")
        print(f"resimply: {code}: {text}", file=sys.stderr)
        return EXIT_FAILED
    fmt = output or ("markdown" if stdout.isatty() else "json")
    stdout.write(render(recipes_of(outcome.result), fmt))
    stdout.flush()
    if err.is_terminal:
        err.print(summary(outcome.result), style="dim")
    return 0


def recipes_of(result: TaskResult) -> list[Recipe]:
    """Every recipe of the post, in its order (results without `recipes`: the one)."""
    return list(result.recipes) if result.recipes else [result.recipe]


def render(recipes: list[Recipe], fmt: str) -> str:
    """The recipes as the command prints them.

    JSON: the first recipe's object, as for a post with one — so `jq .title` and
    anything reading it as a `Recipe` keep working — plus, when the post has
    several, `recipes`: all of them in the post's order (the first included), as
    `recipe` and `recipes` of the API's task result. Markdown: each recipe its own
    `# ` section, separated by a rule.
    """
    if fmt == "json":
        data = msgspec.to_builtins(recipes[0])
        if len(recipes) > 1:
            data["recipes"] = msgspec.to_builtins(recipes)
        return msgspec.json.format(msgspec.json.encode(data), indent=2).decode() + "\n"
    return "\n---\n\n".join(recipe_markdown(recipe) for recipe in recipes)


def summary(result: TaskResult) -> str:
    """One line on what the recipe was read from and what it cost."""
    parts = []
    if result.recipes and len(result.recipes) > 1:
        parts.append(f"{len(result.recipes)} recipes in this post")
    if result.evidence:
        parts.append("read from " + ", ".join(result.evidence))
    usage = result.usage
    if usage is not None:
        if usage.requests:
            parts.append(
                f"{usage.requests} model request(s), "
                f"{usage.prompt_tokens + usage.completion_tokens} tokens"
            )
        if usage.total_usd:
            parts.append(f"≈ ${usage.total_usd:.4f}")
        elif not usage.requests:
            parts.append("no model call")
        if usage.cache_hit:
            parts.append("from the extraction cache")
    return "; ".join(parts) or "done"
