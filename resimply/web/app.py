"""The app factory: routes, error handlers, and the lifespan that owns shared resources."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from .. import sentinel_watch
from ..auth import TokenVerifier
from ..events import StreamHub
from ..jobs import JobQueue
from ..keys import Keys
from ..providers.registry import build_scraper, build_store
from ..resources import open_redis, open_request_redis, task_store
from ..settings import Settings
from . import drafts, openapi, page, rest, streams
from .access_log import AccessLog
from .errors import EXCEPTION_HANDLERS
from .metrics_endpoint import metrics_endpoint
from .state import WebState

Companion = Callable[[], AbstractAsyncContextManager[Any]]

# Every route is described in /openapi.json: a new one needs its `Operation` in
# operations.py (tests/test_openapi.py fails without it).
ROUTES: list[BaseRoute] = [
    Route("/", page.landing_page, methods=["GET"]),
    Route("/health", rest.health, methods=["GET"]),
    Route("/capabilities", rest.capabilities, methods=["GET"]),
    Route("/openapi.json", openapi.openapi_json, methods=["GET"]),
    Route("/docs", openapi.docs, methods=["GET"]),
    Route("/docs/{asset}", openapi.docs_asset, methods=["GET"]),
    Route("/scrape/async", rest.start_scrape, methods=["POST"]),
    Route("/task/{task_id}", rest.get_task, methods=["GET"]),
    Route("/task/{task_id}", rest.cancel_task, methods=["DELETE"]),
    Route("/tasks/active", rest.active_tasks, methods=["GET"]),
    *streams.ROUTES,  # /events/{task_id}, /ws/{task_id}, /wss/{task_id}
    Route("/recipes", rest.list_recipes, methods=["GET"]),
    Route("/recipes/{recipe_id}", rest.get_recipe, methods=["GET"]),
    # Failed imports kept (issue 15; resimply/drafts.py).
    Route("/drafts", drafts.list_drafts, methods=["GET"]),
    Route("/drafts/{draft_id}", drafts.get_draft, methods=["GET"]),
    Route("/drafts/{draft_id}/recipe", drafts.save_draft_recipe, methods=["POST"]),
    Route("/drafts/{draft_id}/retry", drafts.retry_draft, methods=["POST"]),
    Route("/dev/token", page.dev_token, methods=["GET"]),
    Route("/dev/sample", page.dev_sample, methods=["GET"]),
    # For Prometheus on the internal network; Caddy answers 404 (docs/metrics.md).
    Route("/metrics", metrics_endpoint, methods=["GET"]),
]


def create_app(
    settings: Settings,
    *,
    companion: Companion | None = None,
    stopping: asyncio.Event | None = None,
) -> Starlette:
    """`companion` runs beside the app for its whole life (the in-process worker of
    `serve --with-worker`); the web tier itself never imports the worker.
    `stopping` is set when the server starts shutting down: open SSE and WebSocket
    streams end at once (clients resume elsewhere) instead of holding it up."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, WebState]]:
        # Two clients: the hub's blocking XREAD cannot have the read timeout that
        # lets a REST request answer 503 within seconds when Redis hangs.
        redis = open_request_redis(settings)
        stream_redis = open_redis(settings)
        keys = Keys(settings.key_prefix)
        hub = StreamHub(stream_redis, keys, buffer_size=settings.watcher_queue_size)
        verifier = TokenVerifier(settings)
        recipes = build_store(settings)
        scraper = build_scraper(settings)
        jobs = JobQueue(redis, keys)
        state = WebState(
            settings=settings,
            redis=redis,
            keys=keys,
            tasks=task_store(redis, settings, jobs=jobs),
            jobs=jobs,
            hub=hub,
            verifier=verifier,
            scraper=scraper,
            recipes=recipes,
        )
        await hub.start()
        # With sentinels: drop the connections to a replaced master at once.
        switch_watch = sentinel_watch.start(settings)
        closer = asyncio.create_task(_close_streams_on(stopping, hub)) if stopping else None
        try:
            async with contextlib.AsyncExitStack() as stack:
                if companion is not None:
                    await stack.enter_async_context(companion())
                yield {"web": state}
        finally:
            if closer is not None:
                closer.cancel()
            await sentinel_watch.stop(switch_watch)
            await hub.stop()
            await verifier.aclose()
            await recipes.aclose()
            await scraper.aclose()
            await redis.aclose()
            await stream_redis.aclose()

    return Starlette(
        routes=ROUTES,
        # Stream connections are served right after the access log: see StreamRoutes.
        middleware=[Middleware(AccessLog), Middleware(streams.StreamRoutes, routes=streams.ROUTES)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )


async def _close_streams_on(stopping: asyncio.Event, hub: StreamHub) -> None:
    await stopping.wait()
    hub.close()
