"""Who may hold a connection: per-client limits and the process-wide cap (issue 11).

The front door (`server.py`) asks a `Ledger` at three moments of a connection:
when it is accepted (`arrive`), when its request head is complete (`settle`),
and when it ends (`leave`). The ledger counts, per client address, the open
connections and the request heads not yet complete, and in all the open
connections of the process, which stay below what the process's file
descriptors allow (`descriptors.py`):

- a client over `max_partial_heads_per_ip` unfinished heads: its newest
  connection is closed at once (a slow-loris client gets nothing to wait on);
- a client over `max_connections_per_ip` open connections: its complete
  request is answered `429 rate_limited` with `Retry-After`, and closed;
- the process at its cap: the oldest unfinished head of anybody is closed to
  make room (an established client or a quick `/health` is never the one to
  go); with none to close, the newcomer gets `503 too_many_connections`.

A client is its IP address, an IPv6 /64 counting as one (one host usually holds
a whole /64). A connection from a trusted proxy (Caddy, `RESIMPLY_TRUSTED_PROXIES`)
speaks for many clients: it is never limited as a client itself; a stream
request on it (one client per connection for its whole life) counts for the
client that the proxy names in `X-Forwarded-For`. Requests of many clients share
the proxy's other, kept-alive connections, so those count only towards the cap.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Final, Literal, Protocol

import msgspec

from .. import metrics
from ..errors import RateLimited, ResimplyError, TooManyConnections

RETRY_AFTER_S = 5
IPV6_CLIENT_PREFIX = 64
_FORWARDED_FOR = re.compile(rb"^x-forwarded-for[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE | re.M)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# `Ledger.arrive`'s answer for one unfinished head too many: close, say nothing.
CLOSE: Final = "close"


class Guest(Protocol):
    """A connection as the ledger sees it: something it can turn away."""

    def evict(self) -> None: ...


def client_key(ip: str) -> str | None:
    """The address a client is counted under (None: not an IP address)."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


class TrustedProxies:
    """The proxies whose `X-Forwarded-For` is believed."""

    def __init__(self, networks: Iterable[str]) -> None:
        self._networks: tuple[IpNetwork, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in networks
        )

    def __contains__(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)

    def client_ip(self, peer_ip: str, head: bytes) -> str | None:
        """The client a request head from `peer_ip` speaks for; None for a trusted
        proxy that names none (its own requests: health checks, local tools).

        Behind a trusted proxy: the rightmost `X-Forwarded-For` entry that is not
        itself a trusted proxy (entries left of it were written by the client
        and prove nothing).
        """
        if peer_ip not in self:
            return peer_ip
        forwarded = b",".join(m.group(1) for m in _FORWARDED_FOR.finditer(head))
        for entry in reversed(forwarded.decode("latin-1").split(",")):
            ip = entry.strip()
            if not ip:
                continue
            if client_key(ip) is None:
                return None  # a hop that is no address: nobody to count it for
            if ip not in self:
                return ip
        return None


class Ledger:
    """Open connections and unfinished request heads, per client and in all."""

    def __init__(self, *, cap: int, per_client: int, partial_per_client: int) -> None:
        self.cap = cap
        self.per_client = per_client
        self.partial_per_client = partial_per_client
        self.open = 0
        self.refused = 0  # connections turned away (any reason), for tests and benches
        self._clients: dict[str, int] = {}
        self._partial_by_client: dict[str, int] = {}
        # Unfinished heads, oldest first (a dict keeps insertion order).
        self._partial: dict[Guest, str | None] = {}

    def arrive(self, guest: Guest, client: str | None) -> ResimplyError | Literal["close"] | None:
        """Count a new connection from `client` (None: a trusted proxy).

        None: welcome. `CLOSE`: it is one unfinished head too many, close it
        without an answer (there is no request yet). An error: answer with it.
        """
        self.open += 1
        if client is not None and self._partial_by_client.get(client, 0) >= self.partial_per_client:
            self.refused += 1
            metrics.refused("partial_heads_per_client")
            return CLOSE
        if self.open > self.cap:
            if not self._partial:
                self.refused += 1
                metrics.refused("connections_per_process")
                return TooManyConnections(
                    "This server is at its connection limit; try again in a few seconds."
                )
            oldest = next(iter(self._partial))
            self.head_done(oldest)
            self.refused += 1
            metrics.refused("connections_per_process")
            oldest.evict()
        self._partial[guest] = client
        if client is not None:
            self._partial_by_client[client] = self._partial_by_client.get(client, 0) + 1
        return None

    def head_done(self, guest: Guest) -> None:
        """`guest`'s head is complete (or it is gone): no longer an unfinished head."""
        if guest not in self._partial:
            return
        client = self._partial.pop(guest)
        if client is not None:
            _decrement(self._partial_by_client, client)

    def attribute(self, client: str) -> ResimplyError | None:
        """Count a connection with a complete head for `client` (`release` it when
        it ends); the error to answer with instead when `client` has enough."""
        count = self._clients.get(client, 0)
        if count >= self.per_client:
            self.refused += 1
            metrics.refused("connections_per_client")
            return RateLimited(
                f"Too many connections from your address (at most {self.per_client}); "
                "close some and try again.",
                retry_after=RETRY_AFTER_S,
            )
        self._clients[client] = count + 1
        return None

    def release(self, client: str) -> None:
        _decrement(self._clients, client)

    def leave(self, guest: Guest) -> None:
        self.head_done(guest)
        self.open -= 1

    @property
    def partial_heads(self) -> int:
        return len(self._partial)


def _decrement(counts: dict[str, int], key: str) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)


def refusal(error: ResimplyError) -> bytes:
    """A complete HTTP/1.1 answer with `error`'s JSON body, closing the connection."""
    body = msgspec.json.encode(error.to_dict())
    retry_after = getattr(error, "retry_after", RETRY_AFTER_S)
    reason = {408: b"Request Timeout", 429: b"Too Many Requests", 503: b"Service Unavailable"}
    return b"".join(
        (
            b"HTTP/1.1 %d %s\r\n" % (error.http_status, reason.get(error.http_status, b"Error")),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"retry-after: %d\r\n" % retry_after if error.http_status != 408 else b"",
            b"connection: close\r\n\r\n",
            body,
        )
    )
