"""Reading requests: the caller's identity, bounded JSON bodies, the scrape request."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from starlette.requests import HTTPConnection, Request

from ..auth import Identity, bearer_token
from ..errors import InvalidRequest, PayloadTooLarge, UnsupportedUrl
from ..links import TIKTOK_FORMS, is_tiktok_link
from .state import WebState

_LANGUAGE = re.compile(r"^[a-z]{2}$")
MAX_CAPTION_CHARS = 10_000
MAX_URL_CHARS = 2_048


def web_state(conn: HTTPConnection) -> WebState:
    state: WebState = conn.state.web
    return state


async def identify(conn: HTTPConnection, *, allow_query_token: bool = False) -> Identity:
    """The caller, from `Authorization: Bearer` (or `?token=` on streaming endpoints)."""
    # Parse the query string only where a token may be in it.
    query = conn.query_params if allow_query_token else {}
    token = bearer_token(conn.headers, query, allow_query=allow_query_token)
    return await web_state(conn).verifier.verify(token)


async def read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body may be at most {limit} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"The request body may be at most {limit} bytes.")
    try:
        return msgspec.json.decode(bytes(body))
    except msgspec.DecodeError:
        raise InvalidRequest(
            'The request body is not valid JSON; send {"url": "<video link>"} '
            "with Content-Type: application/json."
        ) from None


class ScrapeBody(msgspec.Struct, kw_only=True):
    url: str
    language: str | None
    caption: str | None


def parse_scrape_body(body: Any) -> ScrapeBody:
    if not isinstance(body, dict):
        raise InvalidRequest('The request body must be a JSON object like {"url": "<video link>"}.')
    url = body.get("url", body.get("video_url"))
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequest('Missing "url": send {"url": "<video link>"}.')
    if len(url) > MAX_URL_CHARS:
        raise InvalidRequest(f'"url" may be at most {MAX_URL_CHARS} characters.')
    language = body.get("language")
    if language is not None:
        if not isinstance(language, str) or not _LANGUAGE.match(language.strip().lower()):
            raise InvalidRequest(
                '"language" must be a two-letter ISO 639-1 code such as "en" or "de".'
            )
        language = language.strip().lower()
    caption = body.get("caption")
    if caption is not None and (not isinstance(caption, str) or len(caption) > MAX_CAPTION_CHARS):
        raise InvalidRequest(f'"caption" must be text of at most {MAX_CAPTION_CHARS} characters.')
    return ScrapeBody(url=url.strip(), language=language, caption=caption or None)


def check_supported(state: WebState, url: str) -> None:
    if state.scraper.accepts(url):
        return
    if is_tiktok_link(url):
        raise UnsupportedUrl(
            "TikTok links need the Apify scraper, which this server does not run "
            "(it needs APIFY_API_TOKEN). Send a direct link to a video file instead."
        )
    if state.scraper.name == "direct":
        hint = "a direct http(s) link to a video file"
        if state.settings.dev:
            hint += " or, in development mode, a local file path"
        raise UnsupportedUrl(f"This server accepts {hint}; this link is not one.")
    raise UnsupportedUrl(f"This link is not supported. Accepted forms: {TIKTOK_FORMS}.")
