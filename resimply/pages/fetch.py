"""GET a page (or a small file it names) with the same SSRF rules as video downloads.

Redirects are followed here, one hop at a time, each checked with
`ensure_public_url` (aiohttp's resolver never sees IP literals), on a session
whose resolver refuses private addresses at connect time. The body is read up
to `max_bytes` and only when the content type is one the caller takes: a link
that turns out to be a video is not downloaded here.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import aiohttp
from yarl import URL

from .. import errors
from ..netsafety import PrivateAddressError, ensure_public_url, public_connector

MAX_REDIRECTS = 5
PAGE_MAX_BYTES = 2 * 1024 * 1024
# Subtitle tracks and thumbnails: small files.
SMALL_MAX_BYTES = 1024 * 1024
PAGE_TIMEOUT_S = 20.0
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Some sites answer bare clients with 403; say what we are.
_HEADERS = {
    "User-Agent": "Mozilla/5.0 (compatible; ResiMply/1.0; recipe import)",
    "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Fetched:
    url: str  # after redirects
    content_type: str
    body: bytes | None  # None: the content type was not one the caller takes
    charset: str | None = None
    truncated: bool = False  # the body was longer than `max_bytes` and was cut there

    def text(self) -> str:
        """The body decoded with the server's charset (UTF-8 when none or unknown)."""
        data = self.body or b""
        try:
            return data.decode(self.charset or "utf-8", errors="replace")
        except LookupError:
            return data.decode("utf-8", errors="replace")


async def fetch(
    url: str,
    *,
    allow_private: bool,
    max_bytes: int,
    timeout_s: float,
    accept: Callable[[str], bool],
    truncate: bool = False,
) -> Fetched:
    """GET `url`; read the body when `accept(content_type)`.

    A body over `max_bytes` is cut there when `truncate` (HTML parses fine
    without its tail, and the structured data sits in the head), else it is
    refused with `InvalidMedia`. Errors are the project's `TaskError`s.
    """
    connector = None if allow_private else public_connector()
    try:
        async with asyncio.timeout(timeout_s):
            async with aiohttp.ClientSession(connector=connector, headers=_HEADERS) as session:
                return await _fetch(session, url, allow_private, max_bytes, accept, truncate)
    except TimeoutError:
        raise errors.StepTimeout(
            f"The page took longer than {timeout_s:g} seconds to load."
        ) from None


async def fetch_page(url: str, *, allow_private: bool) -> Fetched:
    """A web page: HTML only, up to `PAGE_MAX_BYTES` (the rest is cut off)."""
    return await fetch(
        url,
        allow_private=allow_private,
        max_bytes=PAGE_MAX_BYTES,
        timeout_s=PAGE_TIMEOUT_S,
        accept=lambda content_type: content_type in HTML_TYPES,
        truncate=True,
    )


async def fetch_small(url: str, *, allow_private: bool, accept: Callable[[str], bool]) -> bytes:
    """A subtitle track or an image: at most `SMALL_MAX_BYTES`, else an error."""
    got = await fetch(
        url,
        allow_private=allow_private,
        max_bytes=SMALL_MAX_BYTES,
        timeout_s=PAGE_TIMEOUT_S,
        accept=accept,
    )
    if got.body is None:
        raise errors.InvalidMedia(f"The file is not of the expected kind ({got.content_type}).")
    return got.body


async def _fetch(
    session: aiohttp.ClientSession,
    raw_url: str,
    allow_private: bool,
    max_bytes: int,
    accept: Callable[[str], bool],
    truncate: bool,
) -> Fetched:
    try:
        url = URL(raw_url)
    except ValueError:
        raise errors.UnsupportedUrl("The link is not a valid web address.") from None
    for _ in range(MAX_REDIRECTS + 1):
        if url.scheme not in ("http", "https") or not url.raw_host:
            raise errors.UnsupportedUrl("Only http:// and https:// links are supported.")
        if not allow_private:
            await ensure_public_url(str(url))
        try:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=15.0)
            async with session.get(url, allow_redirects=False, timeout=timeout) as resp:
                if resp.status in _REDIRECTS:
                    location = resp.headers.get("Location")
                    if not location:
                        raise errors.ScrapeFailed("The page redirects without a target.")
                    try:
                        url = url.join(URL(location))
                    except ValueError:
                        raise errors.UnsupportedUrl(
                            "The page redirects to an invalid address."
                        ) from None
                    continue
                _check_status(resp.status)
                content_type = resp.content_type
                if not accept(content_type):
                    return Fetched(url=str(url), content_type=content_type, body=None)
                body, truncated = await _read(resp, max_bytes, truncate)
                return Fetched(
                    url=str(url),
                    content_type=content_type,
                    body=body,
                    charset=resp.charset,
                    truncated=truncated,
                )
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, PrivateAddressError):
                raise errors.UnsupportedUrl(str(exc.os_error)) from None
            raise errors.ScrapeFailed(
                "Could not connect to the page's server; please try again later.",
                retryable=True,
            ) from None
        except TimeoutError:
            raise
        except aiohttp.InvalidURL:
            raise errors.UnsupportedUrl("The link is not a valid web address.") from None
        except aiohttp.ClientError:
            # No details: they may quote the URL (with its tokens) or the response.
            raise errors.ScrapeFailed(
                "Loading the page broke off; please try again later.", retryable=True
            ) from None
    raise errors.VideoNotFound(f"The link redirects more than {MAX_REDIRECTS} times.")


async def _read(resp: aiohttp.ClientResponse, max_bytes: int, truncate: bool) -> tuple[bytes, bool]:
    if resp.content_length is not None and resp.content_length > max_bytes and not truncate:
        raise errors.InvalidMedia(f"The file is larger than the {max_bytes // 1024} KB limit.")
    body = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > max_bytes:
            if not truncate:
                raise errors.InvalidMedia(
                    f"The file is larger than the {max_bytes // 1024} KB limit."
                )
            return bytes(body[:max_bytes]), True
    return bytes(body), False


def _check_status(status: int) -> None:
    if 200 <= status < 300 and status not in (204, 205):
        return
    if status in (401, 403, 404, 410, 451):
        raise errors.VideoNotFound(
            f"The page could not be loaded (HTTP {status}): it is private, was deleted, "
            "or the link is wrong."
        )
    if status in (408, 429) or status >= 500:
        raise errors.ScrapeFailed(
            f"The page's server is unavailable (HTTP {status}); please try again later.",
            retryable=True,
        )
    raise errors.VideoNotFound(f"The link was refused (HTTP {status}).")
