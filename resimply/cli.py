"""The `resimply` command: `serve` (web, optionally with an in-process worker), `token`,
and `extract` (one video to one recipe, in this process)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import structlog

from . import __version__
from .logs import configure_logging
from .sample import SAMPLE_VIDEO
from .settings import Settings, SettingsError

log = structlog.get_logger("resimply")


@contextlib.asynccontextmanager
async def in_process_worker(settings: Settings) -> AsyncIterator[None]:
    """An arq worker on the web process's event loop. Messages still go through
    Redis, exactly as with a separate worker process."""
    from arq.worker import Worker

    from .worker import worker_options

    worker = Worker(**worker_options(settings, embedded=True), handle_signals=False)
    run = asyncio.create_task(worker.async_run(), name="in-process-worker")
    try:
        yield
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        # arq's close writes to Redis through its pool, which waits out an outage
        # (worker._redis_settings): a server stopping while Redis is away must not.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await worker.close()


def _print_dev_banner(settings: Settings, host: str, port: int) -> None:
    from .auth import mint_dev_token

    token = mint_dev_token(settings, settings.dev_user_id)
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    print(
        f"\nResiMply {__version__} (development mode) on {base}\n"
        f"  open {base}/ in a browser, or try:\n\n"
        f"  export TOKEN={token}\n"
        f'  curl -s -X POST {base}/scrape/async -H "Authorization: Bearer $TOKEN" '
        f"-H 'Content-Type: application/json' -d '{{\"url\": \"{SAMPLE_VIDEO}\"}}'\n"
        f'  curl -N "{base}/events/<task_id>?token=$TOKEN"\n\n'
        f"  another token later: make token  (or RESIMPLY_DEV=1 .venv/bin/resimply token)\n",
        file=sys.stderr,
        flush=True,
    )


class CannotListen(Exception):
    """The web port cannot be bound: said in one line, before anything else."""


def _check_listen(config: Any, host: str, port: int) -> None:
    """Bind the listening sockets once and let them go, so that a busy port is
    one clear line (not a banner, then a traceback of the app's start-up)."""
    try:
        sockets = config.create_sockets()
    except OSError as exc:
        raise CannotListen(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; stop what uses it, "
            f"or choose another port: --port {port + 1} (make run: PORT={port + 1} make run)"
        ) from None
    for sock in sockets.insecure_sockets:
        sock.close()


def _stopper(stop: asyncio.Event, sig: signal.Signals) -> Callable[[], None]:
    def handler() -> None:
        if not stop.is_set():
            log.info("shutting_down", signal=sig.name)
        stop.set()

    return handler


async def _serve(settings: Settings, host: str, port: int, with_worker: bool) -> None:
    from .web import create_app
    from .web.server import hypercorn_config, serve

    config = hypercorn_config(settings, host, port)
    _check_listen(config, host, port)
    companion = (lambda: in_process_worker(settings)) if with_worker else None
    stop = asyncio.Event()
    app = create_app(settings, companion=companion, stopping=stop)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stopper(stop, sig))
    if settings.dev:
        _print_dev_banner(settings, host, port)
    log.info(
        "serving",
        bind=config.bind,
        with_worker=with_worker,
        scraper=settings.scraper,
        extractor=settings.extractor,
        store=settings.store,
    )
    tune_gc_for_long_lived_connections()
    await serve(app, config, shutdown_trigger=stop.wait)


# Python's collector, tuned for a process holding thousands of open streams.
GC_YOUNG_THRESHOLD = 50_000  # allocations between young collections (default 700)
GC_OLD_THRESHOLD = 100  # young collections of the middle generation per full one (default 10)


def tune_gc_for_long_lived_connections() -> None:
    """Keep full collections rare: each one walks every object of every open
    connection (≈150 per watcher through Hypercorn; far fewer on the lean stream
    protocol, but the REST API's churn still fills the old generation), which at
    5,000 watchers stalled the event loop for 150–300 ms — every live message
    waited that long. Objects that exist at
    start-up (modules, the app) are frozen out of collection altogether; young
    collections, which free the per-message garbage and its cycles, still run.
    """
    gc.freeze()
    _, middle, _ = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, GC_OLD_THRESHOLD)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="resimply", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the web server (Hypercorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--with-worker", action="store_true", help="also run a worker in this process"
    )
    token = sub.add_parser("token", help="mint a development token (needs RESIMPLY_DEV=1)")
    token.add_argument("--user", default=None, help="user id (default: the demo user)")
    token.add_argument("--ttl", type=int, default=7 * 24 * 3600, help="lifetime in seconds")
    extract = sub.add_parser(
        "extract",
        help="turn one video link, recipe page or local video file into a recipe, here and now",
        description="Runs the pipeline in this process with the providers the environment "
        "configures (the embedded defaults without keys; Apify / OpenAI with theirs). Uses "
        "REDIS_URL when set, else starts a private redis-server for the run. Prints the recipe; "
        "exit 1 with `resimply: <code>: <message>` when the task fails, 2 when the link "
        "cannot be a task.",
    )
    extract.add_argument("url", metavar="url-or-file", help="a video link, a recipe page, a file")
    extract.add_argument(
        "--language",
        type=_language,
        help="two-letter language of the recipe to read (e.g. de), if known",
    )
    extract.add_argument("--caption", help="the post's text, when the link has none (a file)")
    fmt = extract.add_mutually_exclusive_group()
    fmt.add_argument(
        "--json",
        dest="output",
        action="store_const",
        const="json",
        help="print the recipe as JSON (the default when stdout is not a terminal)",
    )
    fmt.add_argument(
        "--markdown",
        dest="output",
        action="store_const",
        const="markdown",
        help="print the recipe as Markdown (the default on a terminal)",
    )
    return parser


def _language(raw: str) -> str:
    """The web API's rule for "language" (web/requests.py): two letters."""
    code = raw.strip().lower()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise argparse.ArgumentTypeError(f"a two-letter code such as en or de, not {raw!r}")
    return code


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.command == "extract":
            from .cli_extract import cli_settings, run_extract

            settings = cli_settings(settings)
            configure_logging(settings)
            return run_extract(
                settings,
                args.url,
                language=args.language,
                caption=args.caption,
                output=args.output,
            )
        configure_logging(settings)
        if args.command == "token":
            from .auth import mint_dev_token

            print(mint_dev_token(settings, args.user or settings.dev_user_id, ttl_s=args.ttl))
            return 0
        asyncio.run(_serve(settings, args.host, args.port, args.with_worker))
        return 0
    except SettingsError as exc:
        print(f"resimply: configuration error: {exc}", file=sys.stderr)
        return 2
    except CannotListen as exc:
        print(f"resimply: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
