"""Fuzzing as a habit: schemathesis drives every documented endpoint of a real
`resimply serve` (Hypercorn, private Redis) with generated requests, valid and
invalid, and every answer must be in the document: no 5xx, each status, header
and body as listed (the error body {"error", "message"} for every 4xx/5xx), and
invalid input refused with a 4xx. Bounded and deterministic, so CI sees the same
few hundred requests on every run; bench/chaos/fuzz.py runs thousands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from tests.fuzzing import FUZZ_USER, Target, credentials, load_schema, send
from tests.servers import Service

# Per operation and generation phase (examples, coverage, fuzzing): ~10 operations.
MAX_EXAMPLES = 25

schema = load_schema(max_examples=MAX_EXAMPLES)


@pytest.fixture(scope="module")
def target(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A web process of its own, without a worker: nothing the fuzzer submits is ever
    fetched, and its tasks and rate limits touch no other test."""
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    svc = Service(redis_url, tmp, RESIMPLY_RATE_LIMIT_PER_MINUTE="1000000")
    try:
        svc.start(workers=0)
        yield Target.prepare(svc.base_url, svc.token(FUZZ_USER))
    except BaseException:
        print(svc.logs())
        raise
    finally:
        svc.stop()


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
