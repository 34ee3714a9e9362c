"""The landing page and the development-mode helpers it uses."""

from __future__ import annotations

import functools
import html
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..auth import mint_dev_token
from ..errors import NotFound
from ..links import PLATFORM_NAMES, PLATFORMS
from ..providers.routing import Capabilities, capabilities_of
from ..sample import SAMPLE_VIDEO
from .bodies import DevSample, DevToken
from .requests import web_state
from .rest import json

_PAGE = Path(__file__).resolve().parent / "static" / "index.html"


@functools.cache
def _page_template() -> str:
    return _PAGE.read_text(encoding="utf-8")


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def summary(capabilities: Capabilities) -> str:
    """What this configuration takes in a few words: the line under the link field.
    Its details (`kinds()`, the phrases of `GET /capabilities` and the 422s) unfold below it."""
    parts = []
    names = [PLATFORM_NAMES[p] for p in PLATFORMS if p in capabilities.platforms]
    if names:
        parts.append(f"{_and(names)} links")
    if capabilities.web_pages:
        parts.append("recipe web pages")
    if capabilities.media_links:
        parts.append("video files")
    if capabilities.local_files:
        parts.append("local files")
    if not parts:
        return "This server accepts no links in its current configuration."
    return f"Takes {_and(parts)}."


@functools.cache
def _render(summary: str, kinds: tuple[str, ...], example: str) -> str:
    return (
        _page_template()
        .replace("{{url_summary}}", html.escape(summary))
        .replace("{{url_kinds}}", "".join(f"<li>{html.escape(kind)}</li>" for kind in kinds))
        .replace("{{url_example}}", html.escape(example))
    )


async def landing_page(request: Request) -> Response:
    """The page, saying what this configuration takes: rendered from the object that
    answers `GET /capabilities` and words the 422s, so the three cannot disagree."""
    capabilities = capabilities_of(web_state(request).scraper)
    page = _render(summary(capabilities), tuple(capabilities.kinds()), capabilities.example())
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})


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
