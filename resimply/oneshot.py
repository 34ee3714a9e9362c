"""`resimply extract`: one video (or recipe page) to one recipe, in this process.

It runs the real pipeline (`pipeline.run_task`) with the providers the
environment configures — the embedded defaults, or Apify / OpenAI when their
keys are set — exactly as a worker would. The pipeline keeps its task record and
publishes its progress in Redis, so the command needs one: `REDIS_URL` when set,
else a private `redis-server` on a Unix socket in a temporary directory (no port
to collide with, nothing persisted, gone when the command ends). Reading the
task's stream back is what drives the progress display: the same messages a
client of the server sees.

Nothing is stored: the recipe is printed (`PrintOnlyStore`), so a production
Supabase configured in the environment is never written to by a try-out.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from redis.asyncio import Redis

from .errors import InvalidRequest, UnsupportedUrl
from .keys import Keys
from .links import canonical_link, is_local_path, link_problem
from .logs import redact_text
from .messages import Message, decode
from .models import Recipe, TaskErrorInfo, TaskResult
from .pipeline import PipelineDeps, run_task
from .providers.registry import build_scraper
from .providers.routing import refusal
from .resources import open_redis
from .settings import Settings
from .worker import media_threads, pipeline_deps

# How long a private redis-server may take to answer its first ping.
REDIS_START_TIMEOUT_S = 10.0
# How long an existing Redis (REDIS_URL) may take to answer before we say so.
REDIS_PING_TIMEOUT_S = 5.0
# One XREAD's wait for the next progress message.
READ_BLOCK_MS = 250


class ExtractFailed(Exception):
    """The command cannot run at all (no Redis): a message for the person."""


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What the task ended with: a result, or an error (code and message)."""

    result: TaskResult | None
    error: TaskErrorInfo | None


class PrintOnlyStore:
    """A `RecipeStore` that keeps nothing: the command prints the recipe instead.
    It gives the recipe an id and a time, as a stored one has."""

    name = "printed-only"

    async def save(
        self, *, user_id: str, task_id: str, recipe: Recipe, thumbnail: bytes | None = None
    ) -> Recipe:
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return msgspec.structs.replace(recipe, id=str(uuid.uuid4()), created_at=now)

    async def save_all(
        self,
        *,
        user_id: str,
        task_id: str,
        recipes: Sequence[Recipe],
        thumbnail: bytes | None = None,
    ) -> list[Recipe]:
        return [await self.save(user_id=user_id, task_id=task_id, recipe=r) for r in recipes]

    async def get(
        self, *, user_id: str, recipe_id: str, access_token: str | None = None
    ) -> Recipe | None:
        return None

    async def list(
        self, *, user_id: str, limit: int = 50, offset: int = 0, access_token: str | None = None
    ) -> list[Recipe]:
        return []

    async def aclose(self) -> None:
        return None


def as_link(url_or_file: str) -> str:
    """The argument as the pipeline takes it: a relative path to an existing file
    becomes an absolute one (the direct scraper reads absolute paths)."""
    text = url_or_file.strip()
    if "://" not in text and not is_local_path(text) and Path(text).is_file():
        return str(Path(text).resolve())
    return text


@contextlib.asynccontextmanager
async def redis_url_for_run(redis_url: str | None) -> AsyncIterator[str]:
    """`redis_url` when given, else a private redis-server's, for the block's duration."""
    if redis_url:
        yield redis_url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise ExtractFailed(
            "resimply extract needs Redis, and no redis-server was found: install it "
            "(sudo apt-get install redis-server, or brew install redis), or set REDIS_URL."
        )
    with tempfile.TemporaryDirectory(prefix="resimply-extract-") as tmp:
        sock = Path(tmp) / "redis.sock"
        process = await asyncio.create_subprocess_exec(
            binary,
            *("--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"),
            *("--dir", tmp, "--save", "", "--appendonly", "no", "--loglevel", "warning"),
            # Redis logs to stdout: warnings only, a few lines at most, read on failure.
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            url = f"unix://{sock}"
            await _wait_for_private_redis(process, url)
            yield url
        finally:
            if process.returncode is None:
                process.terminate()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5):
                        await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()


async def _wait_for_private_redis(process: asyncio.subprocess.Process, url: str) -> None:
    client: Redis = Redis.from_url(url, socket_connect_timeout=1)
    try:
        async with asyncio.timeout(REDIS_START_TIMEOUT_S):
            while True:
                if process.returncode is not None:
                    assert process.stdout is not None
                    said = (await process.stdout.read()).decode(errors="replace").strip()
                    raise ExtractFailed(
                        "the private redis-server could not start"
                        + (f": {said.splitlines()[-1]}" if said else "")
                    )
                with contextlib.suppress(Exception):  # not up yet
                    if await client.ping():
                        return
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise ExtractFailed(
            f"the private redis-server did not answer within {REDIS_START_TIMEOUT_S:.0f} s"
        ) from None
    finally:
        await client.aclose()


async def extract(
    settings: Settings,
    url: str,
    *,
    language: str | None = None,
    caption: str | None = None,
    redis_url: str | None = None,
    on_message: Callable[[Message], None] = lambda _: None,
) -> Outcome:
    """Run one task through the pipeline and return how it ended.

    Raises `ResimplyError` (`invalid_request`, `unsupported_url`) for a link that
    cannot be a task, before anything is started, and `ExtractFailed` when Redis
    cannot be had. `on_message` sees each progress message, then the terminal one.
    """
    link = as_link(url)
    problem = link_problem(link)
    if problem or not link:
        raise InvalidRequest(problem or "Give a video link or a file path.")
    scraper = build_scraper(settings)
    if not scraper.accepts(link):
        await scraper.aclose()
        raise UnsupportedUrl(refusal(scraper, link))
    executor = concurrent.futures.ThreadPoolExecutor(
        max_workers=media_threads(settings), thread_name_prefix="media"
    )
    try:
        async with redis_url_for_run(redis_url) as url_of_redis:
            # A private server stands alone: no sentinels to ask.
            run_settings = dataclasses.replace(
                settings,
                redis_url=url_of_redis,
                redis_sentinels=settings.redis_sentinels if redis_url else (),
            )
            redis = open_redis(run_settings)
            try:
                await _ping(redis, url_of_redis)
                deps = pipeline_deps(
                    run_settings,
                    redis,
                    executor=executor,
                    processes=None,  # threads: one video, no process start-up to pay
                    scraper=scraper,
                    store=PrintOnlyStore(),
                )
                try:
                    return await _run(
                        deps, redis, run_settings, link, language, caption, on_message
                    )
                finally:
                    for provider in (deps.extractor, deps.transcriber):
                        if provider is not None:
                            await provider.aclose()
            finally:
                await redis.aclose()
    finally:
        await scraper.aclose()
        executor.shutdown(wait=False, cancel_futures=True)


async def _ping(redis: Redis, url: str) -> None:
    try:
        async with asyncio.timeout(REDIS_PING_TIMEOUT_S):
            await redis.ping()
    except Exception as exc:  # a timeout, a refused connection, a wrong password
        raise ExtractFailed(
            f"Redis at {redact_text(url)} does not answer ({type(exc).__name__}); start it, "
            "or unset REDIS_URL to let resimply extract start a private one."
        ) from None


async def _run(
    deps: PipelineDeps,
    redis: Redis,
    settings: Settings,
    link: str,
    language: str | None,
    caption: str | None,
    on_message: Callable[[Message], None],
) -> Outcome:
    # A user of its own per run: two runs on the same video in one shared Redis
    # must not be deduplicated into one task (tasks.TaskStore.create).
    submission = await deps.tasks.create(
        user_id=f"cli-{uuid.uuid4()}",
        url=link,
        canonical_url=canonical_link(link),
        language=language,
        caption=caption,
        idempotency_key=None,
    )
    task_id = submission.task_id
    runner = asyncio.create_task(run_task(deps, task_id), name="extract")
    try:
        await _follow(redis, Keys(settings.key_prefix).events(task_id), runner, on_message)
        await runner  # its own exceptions (a crash it did not turn into an outcome)
    finally:
        if not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
    record = await deps.tasks.get(task_id)
    if record is None:  # expired within the run: only with an absurd RESIMPLY_TASK_TTL_S
        return Outcome(None, TaskErrorInfo(error="internal", message="The task record is gone."))
    return Outcome(record.result, record.error)


async def _follow(
    redis: Redis,
    stream: str,
    runner: asyncio.Task[str],
    on_message: Callable[[Message], None],
) -> None:
    """Hand each message of the task's stream to `on_message` until the terminal
    one, or until the run has ended and the stream holds nothing more."""
    last = b"0-0"
    while True:
        ran_out = runner.done()  # checked before reading: a last read follows its end
        answer = await redis.xread({stream: last}, count=100, block=READ_BLOCK_MS)
        for _, entries in answer or []:
            for entry_id, fields in entries:
                last = entry_id
                message = decode(fields[b"d"])
                on_message(message)
                if message.__struct_config__.tag != "progress":
                    return
        if ran_out and not answer:
            return
