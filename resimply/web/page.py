"""The landing page and the development-mode helpers it uses."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from ..auth import mint_dev_token
from ..errors import NotFound
from ..sample import SAMPLE_VIDEO
from .requests import web_state
from .rest import json

_PAGE = Path(__file__).resolve().parent / "static" / "index.html"


async def landing_page(_: Request) -> Response:
    return FileResponse(_PAGE, media_type="text/html; charset=utf-8")


async def dev_token(request: Request) -> Response:
    """A token for the demo user; exists only in local development mode."""
    settings = web_state(request).settings
    if not settings.dev:
        raise NotFound("Development tokens exist only in local development mode.")
    return json(
        {"token": mint_dev_token(settings, settings.dev_user_id), "user_id": settings.dev_user_id},
        headers={"Cache-Control": "no-store"},
    )


async def dev_sample(request: Request) -> Response:
    if not web_state(request).settings.dev:
        raise NotFound("The sample is offered only in local development mode.")
    return json({"url": str(SAMPLE_VIDEO)})
