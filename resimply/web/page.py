"""The landing page and the development-mode helpers it uses."""

from __future__ import annotations

import functools
import html
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..auth import mint_dev_token
from ..errors import NotFound
from ..providers.routing import capabilities_of
from ..sample import SAMPLE_VIDEO
from .bodies import DevSample, DevToken
from .requests import web_state
from .rest import json

_PAGE = Path(__file__).resolve().parent / "static" / "index.html"


@functools.cache
def _page_template() -> str:
    return _PAGE.read_text(encoding="utf-8")


@functools.cache
def _render(hint: str, example: str) -> str:
    page = _page_template().replace("{{url_hint}}", html.escape(hint))
    return page.replace("{{url_example}}", html.escape(example))


async def landing_page(request: Request) -> Response:
    """The page, its link hint naming what this configuration takes (the same
    account as `GET /capabilities` and the 422 messages)."""
    capabilities = capabilities_of(web_state(request).scraper)
    return HTMLResponse(
        _render(capabilities.hint(), capabilities.example()), headers={"Cache-Control": "no-cache"}
    )


async def dev_token(request: Request) -> Response:
    """A token for the demo user; exists only in local development mode."""
    settings = web_state(request).settings
    if not settings.dev:
        raise NotFound("Development tokens exist only in local development mode.")
    return json(
        DevToken(
            token=mint_dev_token(settings, settings.dev_user_id), user_id=settings.dev_user_id
        ),
        headers={"Cache-Control": "no-store"},
    )


async def dev_sample(request: Request) -> Response:
    if not web_state(request).settings.dev:
        raise NotFound("The sample is offered only in local development mode.")
    return json(DevSample(url=str(SAMPLE_VIDEO)))
