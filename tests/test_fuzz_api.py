"""Fuzzing as a habit: schemathesis drives every documented endpoint of a real
`resimply serve` (Hypercorn, private Redis) with generated requests, valid and
invalid, and every answer must be in the document: no 5xx, each status, header
and body as listed (the error body {"error", "message"} for every 4xx/5xx), and
invalid input refused with a 4xx. Bounded and deterministic, so CI sends the same
~800 requests on every run (about half a minute); `make chaos` runs thousands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.fuzzing import FUZZ_USER, VALID, Target, credentials, load_schema, send
from tests.hostile_inputs import (
    U64,
    int_but_not_stream_id,
    paths_with_nul,
    post_body,
    resume_sse,
    undecodable_bodies,
    unicode_digits,
)
from tests.servers import Service

# Per operation (15 fuzzed: the WebSockets are left out), valid and invalid requests together.
MAX_EXAMPLES = 60

schema = load_schema(max_examples=MAX_EXAMPLES, phases=["coverage", "fuzzing"])
# The document's own examples (a link the server accepts, a page of recipes), sent
# with the fuzzing user's token: the success paths, a generator rarely finds them.
examples = load_schema(max_examples=MAX_EXAMPLES, phases=["examples"]).include(
    path=["/scrape/async", "/recipes"]
)
SCRAPE = schema["/scrape/async"]["POST"]
EVENTS = schema["/events/{task_id}"]["GET"]
RECIPES = schema["/recipes"]["GET"]


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


@examples.parametrize()
@settings(derandomize=True, deadline=None, database=None)
def test_the_documented_examples_get_documented_answers(
    case: schemathesis.Case, target: Target, session: requests.Session
) -> None:
    send(case, target, token=VALID, own_task=True, session=session)


# --- what a generator from the document never sends ------------------------------
# schemathesis sends well-formed JSON and ids that match the documented pattern;
# these strategies send what a hostile client does, to the same running service.

MAX_HOSTILE = 30
hostile = settings(max_examples=MAX_HOSTILE, derandomize=True, deadline=None, database=None)


@hostile
@given(body=undecodable_bodies)
def test_an_undecodable_body_is_a_400(target: Target, body: bytes) -> None:
    response = post_body(target, body)
    assert response.status_code == 400, (body[:80], response.status_code, response.text)
    assert response.json()["error"] == "invalid_request"
    SCRAPE.validate_response(response)


@hostile
@given(url=paths_with_nul)
def test_a_path_with_a_nul_is_refused_with_a_4xx(target: Target, url: str) -> None:
    response = post_body(target, json.dumps({"url": url}).encode())
    assert response.status_code in (400, 422), (url, response.status_code, response.text)
    SCRAPE.validate_response(response)


@hostile
@given(event_id=int_but_not_stream_id, in_header=st.booleans())
def test_a_malformed_last_event_id_is_a_400(target: Target, event_id: str, in_header: bool) -> None:
    response = resume_sse(target, event_id, in_header=in_header)
    assert response.status_code == 400, (event_id, response.status_code, response.text[:200])
    EVENTS.validate_response(response)


@hostile
@given(event_id=unicode_digits)
def test_a_last_event_id_in_other_digits_is_a_400(target: Target, event_id: str) -> None:
    response = resume_sse(target, event_id, in_header=False)
    assert response.status_code == 400, (event_id, response.status_code, response.text[:200])
    EVENTS.validate_response(response)


def test_resuming_after_the_end_of_a_finished_task_ends_at_once(target: Target) -> None:
    """An id past the terminal message of a finished task (a client that lies, or a
    clock that jumped) cannot hold a stream open forever: there is nothing to wait for."""
    response = resume_sse(target, f"{U64}-0", in_header=True)
    assert response.status_code in (200, 204), response.text[:200]
    EVENTS.validate_response(response)


def test_a_path_in_the_home_of_no_user_here_is_refused(target: Target) -> None:
    response = post_body(target, b'{"url": "~no-such-user-here/video.mp4"}')
    assert response.status_code == 422, response.text
    SCRAPE.validate_response(response)


@pytest.mark.parametrize(
    ("query", "status"),
    [("offset=10000000000000000001", 200), ("limit=-99999999999999999999", 200)]
    + [(f"offset={bad}", 400) for bad in ("1_000", "%D9%A3", "%201", "1.0", "")],
)
def test_recipe_paging_takes_plain_whole_numbers(target: Target, query: str, status: int) -> None:
    """Found by the fuzz run: an offset past SQLite's 64-bit range was a 500."""
    response = httpx.get(
        f"{target.base_url}/recipes?{query}",
        headers={"Authorization": f"Bearer {target.token}"},
        timeout=10,
    )
    assert response.status_code == status, response.text
    RECIPES.validate_response(response)
