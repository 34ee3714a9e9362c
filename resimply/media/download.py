"""Stream a video to a local file, with a size cap, a time limit and SSRF checks.

The body is never held in memory: chunks are collected into a small buffer
(1 MiB) that is written with `asyncio.to_thread`, so a slow disk does not block
the event loop and the thread hop costs one call per MiB rather than one per
network chunk.

Redirects are followed here, not by aiohttp, so that every hop is checked with
`ensure_public_url` (aiohttp's resolver is never asked about IP literals) and
credentials are not forwarded to another origin.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import BinaryIO

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from .. import errors
from ..netsafety import PrivateAddressError, ensure_public_url, public_connector
from ..providers.base import ProgressReporter, VideoRef

MAX_REDIRECTS = 5
READ_CHUNK = 256 * 1024
FLUSH_BYTES = 1024 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Dropped when a redirect leaves the origin, like browsers and aiohttp do.
_CREDENTIAL_HEADERS = ("Authorization", "Proxy-Authorization", "Cookie")


async def download(
    video: VideoRef,
    dest: Path,
    *,
    max_bytes: int,
    timeout_s: float,
    progress: ProgressReporter,
    session: aiohttp.ClientSession | None = None,
) -> Path:
    """Return a local path holding the video's bytes.

    A `video.path` is returned as is (it must exist). A `video.url` is streamed
    to `dest`; on any failure the partial file is removed. A given `session`
    should use `netsafety.public_connector()` unless private URLs are allowed;
    every hop is also checked with `ensure_public_url` either way.
    """
    if video.path is not None:
        if not await asyncio.to_thread(video.path.is_file):
            raise errors.VideoNotFound("The video file does not exist.")
        return video.path
    if not video.url:
        raise errors.VideoNotFound("The post has no video to download.")
    try:
        async with asyncio.timeout(timeout_s):
            if session is not None:
                await _fetch(session, video, dest, max_bytes, progress)
            else:
                connector = None if video.allow_private else public_connector()
                async with aiohttp.ClientSession(connector=connector) as own:
                    await _fetch(own, video, dest, max_bytes, progress)
    except TimeoutError:
        # Both our total limit and aiohttp's own socket timeouts end up here.
        _remove(dest)
        raise errors.StepTimeout(
            f"Downloading the video took longer than {timeout_s:g} seconds."
        ) from None
    except BaseException:
        _remove(dest)
        raise
    return dest


async def _fetch(
    session: aiohttp.ClientSession,
    video: VideoRef,
    dest: Path,
    max_bytes: int,
    progress: ProgressReporter,
) -> None:
    assert video.url is not None
    try:
        url = URL(video.url)
    except ValueError:
        raise errors.UnsupportedUrl("The video link is not a valid web address.") from None
    if url.scheme not in ("http", "https") or not url.raw_host:
        raise errors.UnsupportedUrl("Only http:// and https:// video links are supported.")
    headers: CIMultiDict[str] = CIMultiDict(video.headers)
    for _ in range(MAX_REDIRECTS + 1):
        if not video.allow_private:
            await ensure_public_url(str(url))
        try:
            # No total limit here: `download` enforces one over all hops and the body.
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=30.0)
            async with session.get(
                url, headers=headers, allow_redirects=False, timeout=timeout
            ) as resp:
                if resp.status in _REDIRECTS:
                    target = _redirect_target(url, resp)
                    if target.origin() != url.origin():
                        for name in _CREDENTIAL_HEADERS:
                            headers.popall(name, None)
                    url = target
                    continue
                _check_status(resp.status)
                await _stream(resp, dest, max_bytes, progress)
                return
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, PrivateAddressError):
                raise errors.UnsupportedUrl(str(exc.os_error)) from None
            raise errors.ScrapeFailed(
                "Could not connect to the video's server; please try again later.",
                retryable=True,
            ) from None
        except TimeoutError:
            raise  # aiohttp's socket timeouts are ClientErrors too: keep them timeouts
        except aiohttp.InvalidURL:
            raise errors.UnsupportedUrl("The video link is not a valid web address.") from None
        except aiohttp.ClientError:
            # Disconnects, truncated bodies, malformed responses. No details: they
            # may quote the URL (with its tokens) or the response.
            raise errors.ScrapeFailed(
                "The download of the video broke off; please try again later.", retryable=True
            ) from None
    raise errors.VideoNotFound(f"The video link redirects more than {MAX_REDIRECTS} times.")


def _redirect_target(url: URL, resp: aiohttp.ClientResponse) -> URL:
    location = resp.headers.get("Location")
    if not location:
        raise errors.ScrapeFailed("The video's server sent a redirect without a target.")
    try:
        target = url.join(URL(location))
    except ValueError:
        raise errors.UnsupportedUrl("The video link redirects to an invalid address.") from None
    if target.scheme not in ("http", "https"):
        raise errors.UnsupportedUrl("The video link redirects to an unsupported address.")
    return target


def _check_status(status: int) -> None:
    if 200 <= status < 300 and status not in (204, 205):
        return
    if status in (401, 403, 404, 410, 451):
        raise errors.VideoNotFound(
            f"The video could not be downloaded (HTTP {status}): it is private, "
            "was deleted, or the link has expired."
        )
    if status in (408, 429) or status >= 500:
        raise errors.ScrapeFailed(
            f"The video's server is unavailable (HTTP {status}); please try again later.",
            retryable=True,
        )
    if status in (406, 415):
        raise errors.InvalidMedia(f"The link does not serve a video file (HTTP {status}).")
    if 400 <= status < 500:
        raise errors.VideoNotFound(f"The video link was refused (HTTP {status}).")
    raise errors.InvalidMedia(f"The link does not serve a video file (HTTP {status}).")


async def _stream(
    resp: aiohttp.ClientResponse, dest: Path, max_bytes: int, progress: ProgressReporter
) -> None:
    too_large = errors.VideoTooLarge(f"The video is larger than the {_mb(max_bytes)} MB limit.")
    total = resp.content_length
    if total is not None and total > max_bytes:
        raise too_large
    if resp.content_type == "text/html":
        raise errors.InvalidMedia("The link points to a web page, not to a video file.")

    await progress.update("Downloading the video", 0.0 if total else None)
    # Report every ~10 %: of the announced size, or of the cap when none is given.
    step = max((total or max_bytes) // 10, 1)
    next_report = step
    received = 0
    buffer = bytearray()
    file = await asyncio.to_thread(_open, dest)
    try:
        async for chunk in resp.content.iter_chunked(READ_CHUNK):
            received += len(chunk)
            if received > max_bytes:
                raise too_large
            buffer += chunk
            if len(buffer) >= FLUSH_BYTES:
                data, buffer = buffer, bytearray()
                await asyncio.to_thread(file.write, data)
            if received >= next_report:
                next_report = (received // step + 1) * step
                if total:
                    await progress.update("Downloading the video", min(received / total, 1.0))
                else:
                    await progress.update(f"Downloading the video ({_mb(received)} MB)")
        if buffer:
            await asyncio.to_thread(file.write, buffer)
    finally:
        # Closing is quick: the data was already handed to the OS by write().
        file.close()
    if received == 0:
        raise errors.InvalidMedia("The link returned an empty file.")
    await progress.update("Downloaded the video", 1.0)


def _open(dest: Path) -> BinaryIO:
    dest.parent.mkdir(parents=True, exist_ok=True)
    return dest.open("wb")


def _remove(dest: Path) -> None:
    with contextlib.suppress(OSError):
        dest.unlink(missing_ok=True)


def _mb(n: int) -> str:
    mb = n / (1024 * 1024)
    return f"{mb:.0f}" if mb >= 10 else f"{mb:.2g}"
