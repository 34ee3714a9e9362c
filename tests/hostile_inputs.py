"""What a hostile client sends and a generator working from the API document never
does: deep or mis-encoded JSON, NULs in links, stream ids that Python's int() reads
but Redis does not. Shared by tests/test_fuzz_api.py and bench/chaos/fuzz.py."""

from __future__ import annotations

import httpx
import hypothesis.strategies as st

from tests.fuzzing import REQUEST_TIMEOUT_S, Target


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def _with_bad_utf8(prefix: bytes, junk: bytes) -> bytes:
    return b'{"url": "' + prefix + junk + b'"}'


# Bytes that never start a valid UTF-8 sequence, or start one and end it too soon.
_BAD_UTF8 = st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80"])

undecodable_bodies = st.one_of(
    # Nested as deep as the 16 KB body limit allows: 8,000 arrays or 2,700 objects.
    st.builds(_nested, st.integers(200, 8000), st.just("array")),
    st.builds(_nested, st.integers(200, 2700), st.just("object")),
    st.builds(_with_bad_utf8, st.sampled_from([b"", b"/tmp/", b"https://a.example/"]), _BAD_UTF8),
    st.binary(min_size=1, max_size=64).filter(lambda b: not b.strip().startswith((b"{", b"["))),
)


def post_body(target: Target, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{target.base_url}/scrape/async",
        content=body,
        headers={"Authorization": f"Bearer {target.token}", "Content-Type": "application/json"},
        timeout=REQUEST_TIMEOUT_S,
    )


# A NUL cannot be in a file name: such a path is refused (in development mode,
# where local paths are accepted at all).
paths_with_nul = st.builds(
    lambda head, tail: f"{head}\x00{tail}",
    st.sampled_from(["/", "/tmp/a", "~/", "file:///tmp/", "FILE:///"]),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=10),
)


U64 = 2**64 - 1
_digits = st.integers(0, U64)
# What Python's int() reads and Redis does not: the forms that froze every stream (issue 11).
int_but_not_stream_id = st.one_of(
    st.builds("{:_}".format, st.integers(1000, U64)),
    st.builds(" {}".format, _digits),
    st.builds("{} ".format, _digits),
    st.builds("+{}".format, _digits),
    st.builds("{}-+{}".format, _digits, _digits),
    st.builds("{}- {}".format, _digits, _digits),
    st.builds("-{}".format, _digits),
    st.builds("{}-".format, _digits),
    st.builds(str, st.integers(U64 + 1, 2**80)),
    st.builds("{}-{}".format, _digits, st.integers(U64 + 1, 2**80)),
    st.builds("{}-{}-{}".format, _digits, _digits, _digits),
)
# Digits of other scripts (int("١٢") == 12): only a query parameter can carry them.
unicode_digits = st.text(
    st.characters(categories=["Nd"], exclude_characters="0123456789"), min_size=1, max_size=8
)


def resume_sse(target: Target, event_id: str, *, in_header: bool) -> httpx.Response:
    headers = {"Authorization": f"Bearer {target.token}"}
    params = {}
    # HTTP strips the spaces around a header value: only the query keeps them.
    if in_header and event_id == event_id.strip():
        headers["Last-Event-ID"] = event_id
    else:
        params["last_event_id"] = event_id
    # A stream that is opened ends after the (cancelled) task's terminal message.
    return httpx.get(
        f"{target.base_url}/events/{target.task_id}",
        headers=headers,
        params=params,
        timeout=REQUEST_TIMEOUT_S,
    )
