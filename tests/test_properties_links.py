"""Property tests for links (links.py) and the SSRF guard (netsafety.py): any text a
client sends is classified without an exception, every spelling of one TikTok
video has one key, and no spelling of a private address is ever let through."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from resimply.errors import ResimplyError, UnsupportedUrl
from resimply.links import canonical_link, is_local_path, is_tiktok_link, tiktok_video_id
from resimply.netsafety import ensure_public_url, is_public_address
from resimply.providers import direct

bounded = settings(max_examples=300, derandomize=True, deadline=None, database=None)

# --- links ------------------------------------------------------------------------

link_text = st.one_of(
    st.text(max_size=60),
    st.builds(
        "{}{}{}".format,
        st.sampled_from(
            [
                "http://",
                "https://",
                "file://",
                "FILE://",
                "file:",
                "/",
                "~",
                "HTTP://",
                "ftp://",
                "",
            ]
        ),
        st.text(max_size=30),
        st.sampled_from(["", "/", ":99999/", ":-1", ":abc/", "]/", "[::1", "?a=b#c", "\x00"]),
    ),
)


@bounded
@given(link_text)
def test_any_text_is_classified_without_an_exception(url: str) -> None:
    try:
        assert isinstance(canonical_link(url), str)
    except UnsupportedUrl:
        assert is_local_path(url.strip())  # a NUL in it, or "~user" of no user here
    assert isinstance(is_tiktok_link(url), bool)
    assert isinstance(is_local_path(url), bool)
    video_id = tiktok_video_id(url)
    assert video_id is None or video_id.isdigit()


@bounded
@given(link_text)
def test_links_and_the_direct_scraper_agree_on_what_is_a_local_path(url: str) -> None:
    # One grammar at the edge: the dedup key and the scraper read a link alike.
    assert is_local_path(url.strip()) == direct._is_local(url.strip())


video_ids = st.text("0123456789", min_size=5, max_size=25)
users = st.text("abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=20)
suffixes = st.sampled_from(["", "?lang=en", "?is_from_webapp=1&sender_device=pc", "/", "#x"])


@st.composite
def tiktok_video_links(draw: st.DrawFn) -> tuple[str, str]:
    video_id = draw(video_ids)
    scheme = draw(st.sampled_from(["https://", "http://", "HTTPS://"]))
    host = draw(st.sampled_from(["www.tiktok.com", "m.tiktok.com", "tiktok.com", "WWW.TikTok.com"]))
    path = draw(
        st.sampled_from(
            [f"@{draw(users)}/video/{video_id}", f"v/{video_id}.html", f"embed/v2/{video_id}"]
        )
    )
    return f"{scheme}{host}/{path}{draw(suffixes)}", video_id


@bounded
@given(tiktok_video_links(), st.sampled_from(["", " ", "\n"]))
def test_every_spelling_of_a_tiktok_video_has_one_key(link: tuple[str, str], pad: str) -> None:
    url, video_id = link
    assert is_tiktok_link(pad + url + pad)
    assert canonical_link(pad + url + pad) == f"tiktok:{video_id}"


@bounded
@given(
    st.sampled_from(["vm", "vt", "VM"]), st.text("abcXYZ0129", min_size=5, max_size=20), suffixes
)
def test_a_short_link_keys_on_its_code(host: str, code: str, suffix: str) -> None:
    url = f"https://{host}.tiktok.com/{code}{suffix}"
    assert is_tiktok_link(url)
    assert canonical_link(url) == f"tiktok-short:{host.lower()}/{code}"


hosts = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,6}){1,2}\Z")


@bounded
@given(
    st.sampled_from(["http", "https", "HTTP"]),
    hosts,
    st.sampled_from(["", ":80", ":443", ":8080"]),
    st.sampled_from(["", "/", "/v.mp4", "/a/b?x=1"]),
)
def test_a_web_link_key_is_stable(scheme: str, host: str, port: str, path: str) -> None:
    key = canonical_link(f"{scheme}://{host.upper()}{port}{path}#frag")
    assert key == canonical_link(key)
    assert key == canonical_link(f"{scheme.lower()}://{host}{port}{path}")


# --- private addresses --------------------------------------------------------------

PRIVATE_NETWORKS = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
        "240.0.0.0/4", "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
    )
]  # fmt: skip


@st.composite
def private_addresses(draw: st.DrawFn) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    network = draw(st.sampled_from(PRIVATE_NETWORKS))
    offset = draw(st.integers(0, network.num_addresses - 1))
    return network[offset]


def _ipv4_forms(addr: ipaddress.IPv4Address) -> list[str]:
    n = int(addr)
    return [
        str(addr),
        str(ipaddress.IPv6Address(f"::ffff:{addr}")),  # IPv4-mapped
        str(ipaddress.IPv6Address((0x2002 << 112) | (n << 80))),  # 6to4
        str(ipaddress.IPv6Address((0x64FF9B << 96) | n)),  # NAT64
    ]


@st.composite
def private_spellings(draw: st.DrawFn) -> str:
    """A private address as a literal, including the IPv6 forms that carry an IPv4 one."""
    addr = draw(private_addresses())
    if isinstance(addr, ipaddress.IPv6Address):
        return str(addr)
    return draw(st.sampled_from(_ipv4_forms(addr)))


@bounded
@given(private_spellings())
def test_no_private_address_is_public(address: str) -> None:
    assert not is_public_address(address)


@bounded
@given(st.text(max_size=45))
def test_any_text_is_judged_without_an_exception(text: str) -> None:
    assert isinstance(is_public_address(text), bool)


@st.composite
def numeric_hosts(draw: st.DrawFn) -> str:
    """How a URL can spell a private IPv4 address: dotted, one number, hex, octal."""
    addr = draw(private_addresses().filter(lambda a: a.version == 4))
    n = int(addr)
    a, b, c, d = addr.packed
    return draw(
        st.sampled_from(
            [
                str(addr),
                str(n),
                hex(n),
                f"0{n:o}",
                f"{a}.{(b << 16) | (c << 8) | d}",
                f"{hex(a)}.{b}.{c}.{d}",
            ]
        )
    )


url_hosts = st.one_of(
    private_spellings().map(lambda a: f"[{a}]" if ":" in a else a),
    numeric_hosts(),
    st.from_regex(r"\A([a-z0-9-]{0,70}\.){0,3}[a-z0-9-]{0,70}\Z"),  # empty and long labels
    st.text(max_size=20),
)
urls = st.one_of(
    st.builds(
        "{}://{}{}{}".format,
        st.sampled_from(["http", "https", "ftp", "file", "HTTP"]),
        url_hosts,
        st.sampled_from(["", ":80", ":0", ":99999", ":x"]),
        st.sampled_from(["", "/", "/v.mp4?x=1"]),
    ),
    st.text(max_size=40),
)


async def _resolve_privately(host: str, port: Any, **kwargs: Any) -> list[Any]:
    """getaddrinfo where every name resolves to a private address (a hostile DNS),
    numeric hosts resolve as the C library reads them, and a host that is no
    DNS name raises as the real one does (UnicodeError from the IDNA codec)."""
    try:
        return socket.getaddrinfo(host, port, flags=socket.AI_NUMERICHOST, **kwargs)
    except socket.gaierror:
        pass
    host.encode("idna")
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", 0))]


@pytest.fixture(scope="module")
def hostile_dns() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    loop.getaddrinfo = _resolve_privately  # type: ignore[method-assign]
    yield loop
    loop.close()


@bounded
@given(urls)
def test_a_link_to_a_private_address_is_never_accepted(
    hostile_dns: asyncio.AbstractEventLoop, url: str
) -> None:
    try:
        hostile_dns.run_until_complete(ensure_public_url(url, timeout_s=2))
    except ResimplyError:
        return
    # Only a public numeric host gets through a DNS that answers privately.
    host = url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    address = socket.getaddrinfo(host, 0, flags=socket.AI_NUMERICHOST)[0][4][0]
    assert is_public_address(address), url


@bounded
@given(private_spellings())
def test_a_private_literal_is_refused_as_unsupported(
    hostile_dns: asyncio.AbstractEventLoop, address: str
) -> None:
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(UnsupportedUrl):
        hostile_dns.run_until_complete(ensure_public_url(f"http://{host}/v.mp4"))
