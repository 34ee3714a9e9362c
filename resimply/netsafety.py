"""Refuse links that point into private or local networks (SSRF protection).

Two layers, because a check before connecting alone is not enough:

* `ensure_public_url` resolves the host up front and answers with a clear
  `UnsupportedUrl` before anything is fetched.
* `PublicOnlyResolver` sits inside aiohttp's connector, so every connection —
  including those after redirects, and after a DNS answer that changed since the
  first check (DNS rebinding) — only ever goes to public addresses.

aiohttp does not ask the resolver about IP literals (`http://10.0.0.1/`), so a
caller that follows redirects itself must run `ensure_public_url` on each hop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from . import errors

PRIVATE_ADDRESS_MESSAGE = "Links to private or local network addresses are not allowed."

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# IETF protocol assignments; Python before 3.11.10 counts some of them (192.0.0.8) global.
_IETF = ipaddress.ip_network("192.0.0.0/24")
# Well-known NAT64 prefix: the low 32 bits are an IPv4 address a gateway would reach.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class PrivateAddressError(OSError):
    """A host name resolved only to non-public addresses.

    An `OSError` so that aiohttp reports it like any resolution failure
    (`ClientConnectorDNSError`, with this error as `os_error`).
    """

    def __init__(self, host: str) -> None:
        super().__init__(PRIVATE_ADDRESS_MESSAGE)
        self.host = host


def _ipv4_is_public(addr: ipaddress.IPv4Address) -> bool:
    return not (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local  # includes 169.254.169.254, the cloud metadata service
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or addr in _CGNAT
        or addr in _IETF
        or not addr.is_global
    )


def is_public_address(ip: str) -> bool:
    """True when `ip` is an IP address on the public internet.

    Anything that is not a parseable IP address is not public.
    """
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv4Address):
        return _ipv4_is_public(addr)
    # IPv6 forms that carry an IPv4 address are judged by that address.
    embedded = addr.ipv4_mapped or addr.sixtofour
    if embedded is None and addr in _NAT64:
        embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if embedded is not None:
        return _ipv4_is_public(embedded)
    return not (
        addr.is_private  # includes unique-local fc00::/7
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_site_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or not addr.is_global
    )


class PublicOnlyResolver(AbstractResolver):
    """An aiohttp resolver that only returns public addresses.

    Wraps another resolver (aiohttp's default unless given); non-public answers
    are dropped, and a name with no public answer raises `PrivateAddressError`.
    """

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        # Created lazily: aiohttp's resolvers need a running loop.
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve `host`, keeping only public addresses."""
        if self._inner is None:
            self._inner = DefaultResolver()
        results = await self._inner.resolve(host, port, family)
        public = [r for r in results if is_public_address(r["host"])]
        if not public:
            raise PrivateAddressError(host)
        return public

    async def close(self) -> None:
        """Release the wrapped resolver."""
        if self._inner is not None:
            await self._inner.close()


def public_connector() -> aiohttp.TCPConnector:
    """A connector for sessions that must only reach public addresses."""
    return aiohttp.TCPConnector(resolver=PublicOnlyResolver())


async def ensure_public_url(url: str, *, timeout_s: float = 10.0) -> None:
    """Raise `errors.UnsupportedUrl` unless `url` is http(s) to a public host.

    The host is resolved with the loop's `getaddrinfo`; a name that does not
    exist is `VideoNotFound`, a lookup that fails or takes longer than
    `timeout_s` is a retryable `ScrapeFailed`.
    """
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        raise errors.UnsupportedUrl("The link is not a valid web address.") from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise errors.UnsupportedUrl("Only http:// and https:// links are supported.")
    host = parsed.raw_host
    if _is_ip_literal(host):
        if not is_public_address(host):
            raise errors.UnsupportedUrl(PRIVATE_ADDRESS_MESSAGE)
        return
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout_s):
            infos = await loop.getaddrinfo(host, parsed.port or 0, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise errors.ScrapeFailed("Looking up the link's host took too long; try again.") from None
    except UnicodeError:
        # The host cannot be a DNS name at all (an empty label, one over 63 characters).
        raise errors.UnsupportedUrl("The link's host name is not valid.") from None
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)):
            raise errors.VideoNotFound("The link's host name does not exist.") from None
        raise errors.ScrapeFailed("Looking up the link's host failed; try again.") from None
    # Same rule as the resolver: connections will only go to the public answers.
    if not any(is_public_address(str(info[4][0])) for info in infos):
        raise errors.UnsupportedUrl(PRIVATE_ADDRESS_MESSAGE)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
