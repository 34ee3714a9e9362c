"""An arq worker's `/metrics` listener (`RESIMPLY_WORKER_METRICS_PORT`; 0: none).

arq's worker has no HTTP server, so this is a small aiohttp one on the worker's
own event loop: a scrape reads the queue figures from Redis with the worker's
async client (bounded by `metrics.REDIS_READ_TIMEOUT_S`), never a blocking call
— which rules out prometheus_client's `start_http_server` thread. Off by
default (`make run`, tests): each worker of a host needs a port of its own.
"""

from __future__ import annotations

from aiohttp import web
from redis.asyncio import Redis

from . import metrics
from .errors import Unauthorized
from .keys import Keys
from .settings import Settings


async def start_worker_metrics(settings: Settings, redis: Redis) -> web.AppRunner | None:
    """Listen on the configured port; None when the setting is 0. `cleanup()` the runner."""
    if not settings.worker_metrics_port:
        return None
    keys = Keys(settings.key_prefix)

    async def scrape(request: web.Request) -> web.Response:
        if not metrics.authorized(settings.metrics_token, request.headers.get("Authorization")):
            refusal = Unauthorized(
                "Send the metrics token: Authorization: Bearer <RESIMPLY_METRICS_TOKEN>."
            )
            return web.json_response(refusal.to_dict(), status=refusal.http_status)
        body = await metrics.exposition(redis, keys)
        return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.worker_metrics_host, settings.worker_metrics_port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
