import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from resimply import errors
from resimply.media.download import download
from resimply.providers.base import VideoRef

MIB = 1024 * 1024
VIDEO = bytes(range(256)) * (10 * 1024)  # 2.5 MiB, not all one byte
SECRET = "s3cret-token-value"


class Progress:
    def __init__(self) -> None:
        self.updates: list[tuple[str, float | None]] = []

    async def update(self, details: str, fraction: float | None = None) -> None:
        self.updates.append((details, fraction))


@dataclasses.dataclass
class Server:
    base: str  # http://127.0.0.1:<port>
    port: int
    requests: list[tuple[str, dict[str, str]]]
    release: asyncio.Event

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    requests: list[tuple[str, dict[str, str]]] = []
    release = asyncio.Event()

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        requests.append((request.path, dict(request.headers)))
        return await handler(request)

    async def video(request: web.Request) -> web.Response:
        return web.Response(body=VIDEO, content_type="video/mp4")

    async def big(request: web.Request) -> web.StreamResponse:
        # Announces 2 MiB; the client must give up before reading any of it.
        resp = web.StreamResponse(headers={"Content-Length": str(2 * MIB)})
        await resp.prepare(request)
        await release.wait()
        return resp

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "video/mp4"
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            for _ in range(64):  # 4 MiB in 64 KiB chunks, no Content-Length
                await resp.write(b"x" * 65536)
        except ConnectionError:
            pass
        return resp

    async def slow(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": str(MIB)})
        await resp.prepare(request)
        await resp.write(b"x" * 1000)
        await release.wait()
        return resp

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text=f"upstream body {SECRET}")

    async def redirect(request: web.Request) -> web.Response:
        hops = int(request.match_info["n"])
        target = "/video" if hops == 0 else f"/redirect/{hops - 1}"
        raise web.HTTPFound(target)

    async def to_other_origin(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://localhost:{request.url.port}/video")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html>a page</html>", content_type="text/html")

    app = web.Application(middlewares=[record])
    app.router.add_get("/video", video)
    app.router.add_get("/big", big)
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/slow", slow)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/redirect/{n}", redirect)
    app.router.add_get("/to-other-origin", to_other_origin)
    app.router.add_get("/page", page)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield Server(f"http://127.0.0.1:{port}", port, requests, release)
    release.set()
    await runner.cleanup()


def _ref(url: str, **kwargs: object) -> VideoRef:
    return VideoRef(url=url, allow_private=True, **kwargs)  # type: ignore[arg-type]


async def test_streams_the_video_to_dest_with_progress(server: Server, tmp_path: Path) -> None:
    progress = Progress()
    dest = tmp_path / "nested" / "video.mp4"
    result = await download(
        _ref(server.url("/video")), dest, max_bytes=10 * MIB, timeout_s=10, progress=progress
    )
    assert result == dest
    assert dest.read_bytes() == VIDEO
    fractions = [f for _, f in progress.updates]
    assert fractions[0] == 0.0
    assert fractions[-1] == 1.0
    assert progress.updates[-1] == ("Downloaded the video", 1.0)
    assert fractions == sorted(fractions)  # type: ignore[type-var]
    # About every 10 %: 0.0, nine or ten intermediate reports, 1.0.
    assert 10 <= len(fractions) <= 13
    assert all(f is not None and 0.0 <= f <= 1.0 for f in fractions)


async def test_uses_a_given_session(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "v.mp4"
    async with aiohttp.ClientSession() as session:
        await download(
            _ref(server.url("/video")),
            dest,
            max_bytes=10 * MIB,
            timeout_s=10,
            progress=Progress(),
            session=session,
        )
        assert not session.closed
    assert dest.stat().st_size == len(VIDEO)


async def test_sends_the_video_headers(server: Server, tmp_path: Path) -> None:
    ref = _ref(server.url("/video"), headers={"Authorization": "Bearer abc", "X-Client": "r1"})
    await download(ref, tmp_path / "v.mp4", max_bytes=10 * MIB, timeout_s=10, progress=Progress())
    path, headers = server.requests[-1]
    assert path == "/video"
    assert headers["Authorization"] == "Bearer abc"
    assert headers["X-Client"] == "r1"


async def test_content_length_over_the_cap_is_refused_up_front(
    server: Server, tmp_path: Path
) -> None:
    dest = tmp_path / "v.mp4"
    progress = Progress()
    with pytest.raises(errors.VideoTooLarge) as info:
        await download(
            _ref(server.url("/big")), dest, max_bytes=MIB, timeout_s=10, progress=progress
        )
    assert info.value.message == "The video is larger than the 1 MB limit."
    assert info.value.code == "video_too_large"
    assert not dest.exists()
    assert progress.updates == []  # nothing was downloaded


async def test_chunked_body_over_the_cap_stops_midway_and_removes_the_file(
    server: Server, tmp_path: Path
) -> None:
    dest = tmp_path / "v.mp4"
    with pytest.raises(errors.VideoTooLarge) as info:
        await download(
            _ref(server.url("/chunked")), dest, max_bytes=MIB, timeout_s=10, progress=Progress()
        )
    assert info.value.message == "The video is larger than the 1 MB limit."
    assert not dest.exists()


async def test_chunked_body_under_the_cap_reports_megabytes(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "v.mp4"
    progress = Progress()
    await download(
        _ref(server.url("/chunked")), dest, max_bytes=40 * MIB, timeout_s=10, progress=progress
    )
    assert dest.stat().st_size == 4 * MIB
    # Without a Content-Length, progress is reported every 10 % of the cap (4 MiB).
    assert progress.updates == [
        ("Downloading the video", None),
        ("Downloading the video (4 MB)", None),
        ("Downloaded the video", 1.0),
    ]


@pytest.mark.parametrize("code", [404, 410, 403, 401])
async def test_missing_or_forbidden_video_is_video_not_found(
    server: Server, tmp_path: Path, code: int
) -> None:
    ref = _ref(server.url(f"/status/{code}"), headers={"Authorization": f"Bearer {SECRET}"})
    dest = tmp_path / "v.mp4"
    with pytest.raises(errors.VideoNotFound) as info:
        await download(ref, dest, max_bytes=MIB, timeout_s=10, progress=Progress())
    assert f"(HTTP {code})" in info.value.message
    assert info.value.retryable is False
    assert SECRET not in info.value.message
    assert not dest.exists()


@pytest.mark.parametrize("code", [500, 502, 503, 429])
async def test_server_errors_are_retryable_scrape_failures(
    server: Server, tmp_path: Path, code: int
) -> None:
    with pytest.raises(errors.ScrapeFailed) as info:
        await download(
            _ref(server.url(f"/status/{code}")),
            tmp_path / "v.mp4",
            max_bytes=MIB,
            timeout_s=10,
            progress=Progress(),
        )
    assert info.value.retryable is True
    assert info.value.message == (
        f"The video's server is unavailable (HTTP {code}); please try again later."
    )
    assert "upstream body" not in info.value.message


async def test_unsupported_media_type_is_invalid_media(server: Server, tmp_path: Path) -> None:
    with pytest.raises(errors.InvalidMedia):
        await download(
            _ref(server.url("/status/415")),
            tmp_path / "v.mp4",
            max_bytes=MIB,
            timeout_s=10,
            progress=Progress(),
        )


async def test_web_page_is_invalid_media(server: Server, tmp_path: Path) -> None:
    with pytest.raises(errors.InvalidMedia) as info:
        await download(
            _ref(server.url("/page")), tmp_path / "v.mp4", max_bytes=MIB, timeout_s=10,
            progress=Progress(),
        )  # fmt: skip
    assert info.value.message == "The link points to a web page, not to a video file."


async def test_connection_refused_is_retryable(tmp_path: Path) -> None:
    # Bind and close a socket to get a port nobody listens on.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(errors.ScrapeFailed) as info:
        await download(
            _ref(f"http://127.0.0.1:{port}/v.mp4"),
            tmp_path / "v.mp4",
            max_bytes=MIB,
            timeout_s=10,
            progress=Progress(),
        )
    assert info.value.retryable is True
    assert str(port) not in info.value.message


async def test_slow_server_times_out_and_removes_the_file(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "v.mp4"
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(errors.StepTimeout) as info:
        await download(
            _ref(server.url("/slow")), dest, max_bytes=10 * MIB, timeout_s=0.5,
            progress=Progress(),
        )  # fmt: skip
    assert loop.time() - started < 3
    assert info.value.code == "timeout"
    assert info.value.retryable is True
    assert info.value.message == "Downloading the video took longer than 0.5 seconds."
    assert not dest.exists()


async def test_private_address_is_refused_unless_allowed(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "v.mp4"
    ref = VideoRef(url=server.url("/video"), allow_private=False)
    with pytest.raises(errors.UnsupportedUrl) as info:
        await download(ref, dest, max_bytes=10 * MIB, timeout_s=10, progress=Progress())
    assert info.value.message == "Links to private or local network addresses are not allowed."
    assert server.requests == []  # refused before connecting
    assert not dest.exists()


async def test_private_name_is_refused_too(server: Server, tmp_path: Path) -> None:
    ref = VideoRef(url=f"http://localhost:{server.port}/video")
    with pytest.raises(errors.UnsupportedUrl):
        await download(ref, tmp_path / "v.mp4", max_bytes=MIB, timeout_s=10, progress=Progress())
    assert server.requests == []


async def test_follows_up_to_five_redirects(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "v.mp4"
    await download(
        _ref(server.url("/redirect/4")), dest, max_bytes=10 * MIB, timeout_s=10,
        progress=Progress(),
    )  # fmt: skip
    assert dest.read_bytes() == VIDEO
    assert [p for p, _ in server.requests] == [
        "/redirect/4",
        "/redirect/3",
        "/redirect/2",
        "/redirect/1",
        "/redirect/0",
        "/video",
    ]


async def test_too_many_redirects_are_refused(server: Server, tmp_path: Path) -> None:
    with pytest.raises(errors.VideoNotFound) as info:
        await download(
            _ref(server.url("/redirect/5")), tmp_path / "v.mp4", max_bytes=MIB, timeout_s=10,
            progress=Progress(),
        )  # fmt: skip
    assert info.value.message == "The video link redirects more than 5 times."
    assert len(server.requests) == 6


async def test_credentials_are_not_sent_to_another_origin(server: Server, tmp_path: Path) -> None:
    ref = _ref(
        server.url("/to-other-origin"),
        headers={"Authorization": f"Bearer {SECRET}", "Cookie": "s=1", "User-Agent": "ua/1"},
    )
    await download(ref, tmp_path / "v.mp4", max_bytes=10 * MIB, timeout_s=10, progress=Progress())
    (first_path, first), (second_path, second) = server.requests
    assert (first_path, second_path) == ("/to-other-origin", "/video")
    assert first["Authorization"] == f"Bearer {SECRET}"
    assert second["Host"] == f"localhost:{server.port}"
    assert "Authorization" not in second
    assert "Cookie" not in second
    assert second["User-Agent"] == "ua/1"


async def test_local_path_is_returned_as_is(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"data")
    result = await download(
        VideoRef(path=video), tmp_path / "other.mp4", max_bytes=1, timeout_s=1, progress=Progress()
    )
    assert result == video
    assert not (tmp_path / "other.mp4").exists()


async def test_missing_local_path_is_video_not_found(tmp_path: Path) -> None:
    with pytest.raises(errors.VideoNotFound):
        await download(
            VideoRef(path=tmp_path / "nope.mp4"),
            tmp_path / "dest.mp4",
            max_bytes=MIB,
            timeout_s=1,
            progress=Progress(),
        )


@pytest.mark.parametrize("url", ["ftp://example.com/v.mp4", "http://[not-an-ip/v.mp4"])
@pytest.mark.parametrize("allow_private", [False, True])
async def test_unusable_links_are_unsupported(
    tmp_path: Path, url: str, allow_private: bool
) -> None:
    ref = VideoRef(url=url, allow_private=allow_private)
    with pytest.raises(errors.UnsupportedUrl) as info:
        await download(ref, tmp_path / "v.mp4", max_bytes=MIB, timeout_s=5, progress=Progress())
    assert info.value.message in (
        "Only http:// and https:// video links are supported.",
        "The video link is not a valid web address.",
    )
