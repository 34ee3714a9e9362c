import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from resimply import errors
from resimply.netsafety import (
    PRIVATE_ADDRESS_MESSAGE,
    PrivateAddressError,
    PublicOnlyResolver,
    ensure_public_url,
    is_public_address,
    public_connector,
)


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "127.255.0.9",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata service
        "100.64.0.1",  # CGNAT
        "100.127.255.254",
        "0.0.0.0",
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "192.0.2.10",  # documentation
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "fd12:3456::1",  # unique-local
        "fec0::1",  # site-local
        "ff02::1",  # multicast
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "::ffff:100.64.0.1",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "not an ip",
        "",
        "localhost",
    ],
)
def test_non_public_addresses_are_refused(ip: str) -> None:
    assert is_public_address(ip) is False


@pytest.mark.parametrize(
    "ip",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "100.63.255.255",  # just below CGNAT
        "100.128.0.1",  # just above CGNAT
        "172.32.0.1",  # just above 172.16/12
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "2002:808:808::",  # 6to4 of 8.8.8.8
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    ],
)
def test_public_addresses_are_accepted(ip: str) -> None:
    assert is_public_address(ip) is True


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/video.mp4",
        "http://127.0.0.1:8080/video.mp4",
        "https://[::1]/v.mp4",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:192.168.0.1]/v.mp4",
        "http://localhost:9/v.mp4",
    ],
)
async def test_ensure_public_url_refuses_private_hosts(url: str) -> None:
    with pytest.raises(errors.UnsupportedUrl) as info:
        await ensure_public_url(url)
    assert info.value.message == "Links to private or local network addresses are not allowed."
    assert info.value.code == "unsupported_url"


@pytest.mark.parametrize("url", ["ftp://example.com/v.mp4", "file:///etc/passwd", "http://"])
async def test_ensure_public_url_refuses_other_schemes(url: str) -> None:
    with pytest.raises(errors.UnsupportedUrl) as info:
        await ensure_public_url(url)
    assert info.value.message == "Only http:// and https:// links are supported."


async def test_ensure_public_url_accepts_public_ip_literal_without_dns() -> None:
    await ensure_public_url("https://8.8.8.8/video.mp4")  # no error: accepted


def _fake_getaddrinfo(*addresses: str) -> Any:
    async def getaddrinfo(host: str, port: int, **kwargs: Any) -> list[Any]:
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    return getaddrinfo


async def test_ensure_public_url_refuses_name_resolving_to_private(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", _fake_getaddrinfo("10.0.0.5", "fd00::5"))
    with pytest.raises(errors.UnsupportedUrl) as info:
        await ensure_public_url("https://rebind.example.com/v.mp4")
    assert info.value.message == PRIVATE_ADDRESS_MESSAGE


async def test_ensure_public_url_accepts_name_with_a_public_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", _fake_getaddrinfo("10.0.0.5", "93.184.216.34"))
    await ensure_public_url("https://cdn.example.com/v.mp4")  # no error: accepted


async def test_ensure_public_url_unknown_host_is_video_not_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def getaddrinfo(*args: Any, **kwargs: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    with pytest.raises(errors.VideoNotFound) as info:
        await ensure_public_url("https://no-such-host.example/v.mp4")
    assert info.value.message == "The link's host name does not exist."
    assert info.value.retryable is False


async def test_ensure_public_url_slow_dns_is_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    async def getaddrinfo(*args: Any, **kwargs: Any) -> list[Any]:
        await asyncio.sleep(5)
        return []

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    with pytest.raises(errors.ScrapeFailed) as info:
        await ensure_public_url("https://slow.example/v.mp4", timeout_s=0.05)
    assert info.value.retryable is True
    assert "took too long" in info.value.message


class _StaticResolver(AbstractResolver):
    def __init__(self, *hosts: str) -> None:
        self.hosts = hosts
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=h, port=port, family=family, proto=0, flags=0)
            for h in self.hosts
        ]

    async def close(self) -> None:
        self.closed = True


async def test_resolver_keeps_only_public_addresses() -> None:
    inner = _StaticResolver("127.0.0.1", "93.184.216.34", "169.254.169.254", "2606:4700::1")
    resolver = PublicOnlyResolver(inner)
    results = await resolver.resolve("mixed.example", 443)
    assert [r["host"] for r in results] == ["93.184.216.34", "2606:4700::1"]
    assert all(r["port"] == 443 for r in results)
    await resolver.close()
    assert inner.closed is True


async def test_resolver_refuses_names_with_only_private_addresses() -> None:
    resolver = PublicOnlyResolver(_StaticResolver("10.0.0.1", "::1"))
    with pytest.raises(PrivateAddressError) as info:
        await resolver.resolve("internal.example", 80)
    assert info.value.host == "internal.example"
    assert str(info.value) == PRIVATE_ADDRESS_MESSAGE


async def test_resolver_refuses_localhost_with_the_default_resolver() -> None:
    resolver = PublicOnlyResolver()
    with pytest.raises(PrivateAddressError):
        await resolver.resolve("localhost", 80)
    await resolver.close()


@pytest.fixture
async def hits() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(body=b"secret internal data")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"localhost:{port}", seen
    await runner.cleanup()


async def test_public_connector_refuses_private_names_at_connect_time(
    hits: tuple[str, list[str]],
) -> None:
    hostport, seen = hits
    async with aiohttp.ClientSession(connector=public_connector()) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as info:
            await session.get(f"http://{hostport}/admin")
    assert isinstance(info.value.os_error, PrivateAddressError)
    assert seen == []


async def test_default_session_reaches_the_same_server(hits: tuple[str, list[str]]) -> None:
    # The control for the test above: the server is reachable without the guard.
    hostport, seen = hits
    async with aiohttp.ClientSession() as session, session.get(f"http://{hostport}/a") as resp:
        assert await resp.read() == b"secret internal data"
    assert seen == ["/a"]
