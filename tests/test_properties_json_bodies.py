"""Property tests for request bodies (web/requests.py): any bytes are a JSON value or
`InvalidRequest` / `PayloadTooLarge`, and any JSON value is a `ScrapeBody` or
`InvalidRequest`; never another exception (which would be a 500)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings
from starlette.requests import Request

from resimply.errors import InvalidRequest, PayloadTooLarge
from resimply.settings import Settings
from resimply.web.requests import MAX_CAPTION_CHARS, MAX_URL_CHARS, parse_scrape_body, read_json

LIMIT = 16 * 1024
bounded = settings(max_examples=300, derandomize=True, deadline=None, database=None)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
field_values = st.one_of(
    json_values,
    st.text(min_size=1, max_size=20),
    st.sampled_from(
        ["", " ", "en", "EN ", " de", "eng", "e", "\u212aa", "zz\n", "https://a.example/v"]
    ),
    st.text(min_size=MAX_URL_CHARS - 2, max_size=MAX_URL_CHARS + 2),
    st.just("x" * (MAX_CAPTION_CHARS + 1)),
)
scrape_like = st.fixed_dictionaries(
    {},
    optional={k: field_values for k in ("url", "video_url", "language", "caption")},
)


@bounded
@given(json_values | scrape_like)
def test_any_json_value_is_a_scrape_body_or_invalid_request(value: Any) -> None:
    try:
        body = parse_scrape_body(value)
    except InvalidRequest:
        return
    assert isinstance(value, dict)
    assert body.url and body.url == body.url.strip() and len(body.url) <= MAX_URL_CHARS
    assert body.language is None or (len(body.language) == 2 and body.language.isascii())
    assert body.language is None or (body.language.isalpha() and body.language.islower())
    assert body.caption is None or len(body.caption) <= MAX_CAPTION_CHARS


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


body_bytes = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
    st.builds(lambda d: _deep(d), st.integers(1, LIMIT // 2)),
    st.builds(
        lambda junk: b'{"url": "' + junk + b'"}',
        st.binary(min_size=1, max_size=8),
    ),
    st.integers(LIMIT - 2, LIMIT + 2).map(lambda n: b'"' + b"a" * (n - 2) + b'"'),
)


def _request(body: bytes, chunks: int) -> Request:
    size = max(1, len(body) // chunks)
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    messages = [
        {"type": "http.request", "body": part, "more_body": n < len(parts) - 1}
        for n, part in enumerate(parts)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    # What read_json asks of the app: its settings' body timeout.
    web = SimpleNamespace(settings=Settings.from_env({}))
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/scrape/async",
        "headers": [],
        "state": {"web": web},
    }
    return Request(scope, receive)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@bounded
@given(body_bytes, st.integers(1, 4))
def test_any_bytes_are_json_or_a_clear_refusal(
    loop: asyncio.AbstractEventLoop, body: bytes, chunks: int
) -> None:
    try:
        value = loop.run_until_complete(read_json(_request(body, chunks), LIMIT))
    except PayloadTooLarge:
        assert len(body) > LIMIT
        return
    except InvalidRequest:
        return
    assert len(body) <= LIMIT
    with contextlib.suppress(InvalidRequest):
        parse_scrape_body(value)
