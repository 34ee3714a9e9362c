"""Fuzzing as a habit: schemathesis drives every documented endpoint of a real
`resimply serve` (Hypercorn, private Redis) with generated requests, valid and
invalid, and every answer must be in the document: no 5xx, each status, header
and body as listed (the error body {"error", "message"} for every 4xx/5xx), and
invalid input refused with a 4xx. Bounded and deterministic, so CI sees the same
few hundred requests on every run; bench/chaos/fuzz.py runs thousands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.fuzzing import FUZZ_USER, REQUEST_TIMEOUT_S, Target, credentials, load_schema, send
from tests.servers import Service

# Per operation and generation phase (examples, coverage, fuzzing): ~10 operations.
MAX_EXAMPLES = 25

schema = load_schema(max_examples=MAX_EXAMPLES)
SCRAPE = schema["/scrape/async"]["POST"]
EVENTS = schema["/events/{task_id}"]["GET"]


@pytest.fixture(scope="module")
def target(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A web process of its own, without a worker: nothing the fuzzer submits is ever
    fetched, and its tasks and rate limits touch no other test."""
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    svc = Service(redis_url, tmp, RESIMPLY_RATE_LIMIT_PER_MINUTE="1000000")
    try:
        svc.start(workers=0)
        target = Target.prepare(svc.base_url, svc.token(FUZZ_USER))
        yield target
    except BaseException:
        print(svc.logs())
        raise
    finally:
        svc.stop()
    # A fuzzer that never gets past the 401 tests nothing behind it.
    assert not target.tally.unreached(), f"only 401s: {target.tally.unreached()}"
    print({op: dict(seen) for op, seen in target.tally.statuses.items()})


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


@schema.parametrize()
@schema.given(token=credentials(), own_task=st.booleans(), token_in_query=st.booleans())
@settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_documented(
    case: schemathesis.Case,
    token: str | None,
    own_task: bool,
    token_in_query: bool,
    target: Target,
    session: requests.Session,
) -> None:
    send(
        case, target, token=token, own_task=own_task, token_in_query=token_in_query, session=session
    )


# --- what a generator from the document never sends ------------------------------
# schemathesis sends well-formed JSON and ids that match the documented pattern;
# these strategies send what a hostile client does, to the same running service.

MAX_HOSTILE = 30
hostile = settings(max_examples=MAX_HOSTILE, derandomize=True, deadline=None, database=None)


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def _with_bad_utf8(prefix: bytes, junk: bytes) -> bytes:
    return b'{"url": "' + prefix + junk + b'"}'


# Bytes that never start a valid UTF-8 sequence, or start one and end it too soon.
_BAD_UTF8 = st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80"])

undecodable_bodies = st.one_of(
    st.builds(_nested, st.integers(200, 8000), st.sampled_from(["array", "object"])),
    st.builds(_with_bad_utf8, st.sampled_from([b"", b"/tmp/", b"https://a.example/"]), _BAD_UTF8),
    st.binary(min_size=1, max_size=64).filter(lambda b: not b.strip().startswith((b"{", b"["))),
)


@hostile
@given(body=undecodable_bodies)
def test_an_undecodable_body_is_a_400(target: Target, body: bytes) -> None:
    response = httpx.post(
        f"{target.base_url}/scrape/async",
        content=body,
        headers={"Authorization": f"Bearer {target.token}", "Content-Type": "application/json"},
        timeout=REQUEST_TIMEOUT_S,
    )
    assert response.status_code == 400, (body[:80], response.status_code, response.text)
    assert response.json()["error"] == "invalid_request"
    SCRAPE.validate_response(response)


# A NUL cannot be in a file name, a host or a URL path: such a link is refused.
links_with_nul = st.builds(
    lambda head, tail: f"{head}\x00{tail}",
    st.sampled_from(["/", "/tmp/a", "~/", "file:///tmp/", "https://a.example/", "http://"]),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=10),
)


@hostile
@given(url=links_with_nul)
def test_a_link_with_a_nul_is_refused_with_a_4xx(target: Target, url: str) -> None:
    response = httpx.post(
        f"{target.base_url}/scrape/async",
        json={"url": url},
        headers={"Authorization": f"Bearer {target.token}"},
        timeout=REQUEST_TIMEOUT_S,
    )
    assert response.status_code in (400, 422), (url, response.status_code, response.text)
    SCRAPE.validate_response(response)


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


@hostile
@given(event_id=int_but_not_stream_id, in_header=st.booleans())
def test_a_malformed_last_event_id_is_a_400(target: Target, event_id: str, in_header: bool) -> None:
    # HTTP strips the spaces around a header value: only the query keeps them.
    in_header = in_header and event_id == event_id.strip()
    response = _sse_resume(target, event_id, in_header=in_header)
    assert response.status_code == 400, (event_id, response.status_code, response.text[:200])
    EVENTS.validate_response(response)


@hostile
@given(event_id=unicode_digits)
def test_a_last_event_id_in_other_digits_is_a_400(target: Target, event_id: str) -> None:
    response = _sse_resume(target, event_id, in_header=False)
    assert response.status_code == 400, (event_id, response.status_code, response.text[:200])
    EVENTS.validate_response(response)


def test_resuming_after_the_end_of_a_finished_task_ends_at_once(target: Target) -> None:
    """An id past the terminal message of a finished task (a client that lies, or a
    clock that jumped) cannot hold a stream open forever: there is nothing to wait for."""
    response = _sse_resume(target, f"{U64}-0", in_header=True)
    assert response.status_code in (200, 204), response.text[:200]
    EVENTS.validate_response(response)


def _sse_resume(target: Target, event_id: str, *, in_header: bool) -> httpx.Response:
    headers = {"Authorization": f"Bearer {target.token}"}
    params = {}
    if in_header:
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
