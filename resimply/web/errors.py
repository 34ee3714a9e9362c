"""Every non-2xx answer is JSON `{"error": <stable code>, "message": ...}` (API.md)."""

from __future__ import annotations

import structlog
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import RateLimited, ResimplyError, ServiceUnavailable
from ..outages import RefusalLog, is_unavailable

log = structlog.get_logger(__name__)

_HTTP_CODES = {
    404: ("not_found", "No such endpoint; see /docs (or /openapi.json) for the API."),
    405: ("method_not_allowed", "This endpoint does not accept that HTTP method."),
}


# How long a client is told to wait while Redis is unavailable: a restart or a
# failover takes a few seconds; clients that come back sooner are answered again.
REDIS_RETRY_AFTER_S = 5
# Requests refused for an outage: a warning per interval, not a traceback each.
_refusals = RefusalLog(interval_s=30.0)


def error_response(error: ResimplyError) -> JSONResponse:
    headers = (
        {"Retry-After": str(error.retry_after)}
        if isinstance(error, RateLimited | ServiceUnavailable)
        else None
    )
    if error.http_status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="resimply"'}
    return JSONResponse(error.to_dict(), status_code=error.http_status, headers=headers)


async def resimply_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ResimplyError)
    return error_response(exc)


async def http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, ("http_error", str(exc.detail)))
    return JSONResponse({"error": code, "message": message}, status_code=exc.status_code)


async def redis_error(request: Request, exc: Exception) -> Response:
    """Redis down, hung or full → 503 + Retry-After; any other Redis error is a bug."""
    if not is_unavailable(exc):
        return await unexpected_error(request, exc)
    _refusals.refused(exc, path=request.url.path)
    return error_response(ServiceUnavailable(retry_after=REDIS_RETRY_AFTER_S))


async def unexpected_error(_: Request, exc: Exception) -> Response:
    log.error("unhandled_error", exc_info=exc)
    return JSONResponse(
        {"error": "internal", "message": "Something went wrong on our side."}, status_code=500
    )


EXCEPTION_HANDLERS = {
    ResimplyError: resimply_error,
    HTTPException: http_error,
    RedisError: redis_error,
    Exception: unexpected_error,
}
