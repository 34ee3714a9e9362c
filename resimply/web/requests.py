"""Reading requests: the caller's identity, bounded JSON bodies, the scrape request.

A body is read within `body_timeout_s` and `max_body_bytes`, checked for
nesting deeper than `MAX_JSON_DEPTH` before it is parsed, and every way it can
fail to decode is a `400 invalid_request` that says what to send.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any

import msgspec
import structlog
from starlette.requests import ClientDisconnect, HTTPConnection, Request

from ..auth import Identity, bearer_token
from ..errors import InvalidRequest, PayloadTooLarge, RequestTimeout, UnsupportedUrl
from ..links import link_problem
from ..providers.routing import refusal
from .state import WebState

log = structlog.get_logger(__name__)

_LANGUAGE = re.compile(r"^[a-z]{2}$")
MAX_CAPTION_CHARS = 10_000
MAX_URL_CHARS = 2_048
MAX_JSON_DEPTH = 32
SEND_JSON = 'send {"url": "<video link>"} with Content-Type: application/json'
TOO_DEEP = (
    f"The request body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep; "
    + SEND_JSON
    + "."
)
# JSON strings (escapes included), and every byte that is not a bracket: what
# `_too_deep` drops before it counts. The string pattern is the unrolled form,
# which never backtracks.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = [0] * 256
_DEPTH_STEP[ord("[")] = _DEPTH_STEP[ord("{")] = 1
_DEPTH_STEP[ord("]")] = _DEPTH_STEP[ord("}")] = -1


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
    """The JSON body of `request`: at most `limit` bytes, arriving within the
    server's `body_timeout_s`, nested at most `MAX_JSON_DEPTH` deep."""
    body = await _read_body(request, limit, web_state(request).settings.body_timeout_s)
    if _too_deep(body):
        raise InvalidRequest(TOO_DEEP)
    try:
        return msgspec.json.decode(body)
    except RecursionError:  # unreachable after `_too_deep`; kept as the last line of defence
        raise InvalidRequest(TOO_DEEP) from None
    except UnicodeError:
        raise InvalidRequest(
            f"The request body is not valid UTF-8; {SEND_JSON}, encoded as UTF-8."
        ) from None
    except msgspec.DecodeError:
        raise InvalidRequest(f"The request body is not valid JSON; {SEND_JSON}.") from None


async def _read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body may be at most {limit} bytes.")
    body = bytearray()
    try:
        # Hypercorn has no timeout for a request body (its read_timeout would also
        # end idle keep-alive and streaming connections): a client that stops
        # half-way would hold its connection and this task for ever.
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise PayloadTooLarge(f"The request body may be at most {limit} bytes.")
    except TimeoutError:
        raise RequestTimeout(
            f"The request body did not arrive within {timeout_s:g} seconds; "
            "send the whole body at once."
        ) from None
    except ClientDisconnect:
        # The client went away mid-body: nobody reads the answer, and it is no
        # error of ours (one info line, besides the access line with its 400).
        log.info("request_body_incomplete", received=len(body), declared=declared)
        raise InvalidRequest("The request body ended before it was complete.") from None
    return bytes(body)


def _too_deep(body: bytes) -> bool:
    """True when arrays / objects in `body` nest deeper than `MAX_JSON_DEPTH`.

    msgspec recurses per level and raises RecursionError near Python's recursion
    limit, so the depth is checked first, without recursing: JSON strings are
    dropped (brackets inside them do not count), then brackets are counted. A
    body with few brackets (nearly every real one) costs two `bytes.count`
    calls; at the 16 KiB cap the scan costs about as much as decoding (measured:
    ≈ 0.7 ms for 16 KiB of `[[]]`, where decoding took ≈ 0.4 ms).
    """
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for byte in _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        depth += _DEPTH_STEP[byte]
        if depth > MAX_JSON_DEPTH:
            return True
    return False


class ScrapeBody(msgspec.Struct, kw_only=True):
    url: str
    language: str | None
    caption: str | None


class ScrapeRequestBody(msgspec.Struct, kw_only=True):
    """`POST /scrape/async` as a client sends it: what `parse_scrape_body` takes
    (it reads the body by hand, for messages that say what to change), for
    /openapi.json. Other fields are ignored."""

    url: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=MAX_URL_CHARS,
            pattern=r"\S",
            description="The video (or recipe page) link; see GET /capabilities for what this server takes.",
        ),
    ]
    video_url: Annotated[
        Any, msgspec.Meta(description="Alias of `url`, read only when `url` is absent.")
    ] = None
    language: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=r"^\s*[A-Za-z]{2}\s*$",
                description="ISO 639-1 code: the language the recipe is written in "
                "(case and surrounding spaces ignored). Without it the recipe keeps the video's language.",
            ),
        ]
        | None
    ) = None
    caption: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=MAX_CAPTION_CHARS,
                description="The post's caption, when the client already has it (e.g. "
                "shared from the app): read as evidence beside the video. No NUL characters.",
            ),
        ]
        | None
    ) = None


def parse_scrape_body(body: Any) -> ScrapeBody:
    if not isinstance(body, dict):
        raise InvalidRequest('The request body must be a JSON object like {"url": "<video link>"}.')
    url = body.get("url", body.get("video_url"))
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequest('Missing "url": send {"url": "<video link>"}.')
    if len(url) > MAX_URL_CHARS:
        raise InvalidRequest(f'"url" may be at most {MAX_URL_CHARS} characters.')
    problem = link_problem(url.strip())
    if problem:
        raise InvalidRequest(problem)
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
    if caption is not None and "\x00" in caption:
        raise InvalidRequest(
            '"caption" must not contain NUL characters (\\u0000); send plain text.'
        )
    return ScrapeBody(url=url.strip(), language=language, caption=caption or None)


def check_supported(state: WebState, url: str) -> None:
    """422 `unsupported_url` for a link this configuration does not take; the
    message names what it does take (the router's own account: providers/routing.py)."""
    if state.scraper.accepts(url):
        return
    raise UnsupportedUrl(refusal(state.scraper, url))
