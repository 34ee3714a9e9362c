"""`GET /metrics`: this web process's Prometheus series (resimply/metrics.py).

Not public: Caddy answers 404 for it (Caddyfile), so only what reaches the web
process directly (Prometheus on the internal network) can read it; with
`RESIMPLY_METRICS_TOKEN` set it also wants that bearer token. Described in the
OpenAPI document as an operator's endpoint (tag `service`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .. import metrics
from ..errors import Unauthorized
from .requests import web_state


async def metrics_endpoint(request: Request) -> Response:
    state = web_state(request)
    if not metrics.authorized(state.settings.metrics_token, request.headers.get("authorization")):
        raise Unauthorized(
            "Send the metrics token: Authorization: Bearer <RESIMPLY_METRICS_TOKEN>."
        )
    body = await metrics.exposition(state.redis, state.keys)
    return Response(body, media_type=metrics.CONTENT_TYPE)
