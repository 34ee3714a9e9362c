"""Chaos: fuzz every endpoint of a real `resimply serve` (development mode, private
Redis) with schemathesis from the generated /openapi.json, valid and invalid requests alike,
and then with what a hostile client sends that no API document describes. Prints
the requests per endpoint, the answers by status class, every 5xx (with the first
few requests that caused one) and every kind of answer the document does not allow.

The CI run (tests/test_fuzz_api.py) sends the same kinds of requests, a few hundred;
this one sends a few thousand.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import hypothesis.strategies as st
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure, FailureGroup

from bench._web import dev_env, dev_web
from tests.fuzzing import (
    FUZZ_SCHEMA,
    FUZZ_USER,
    Tally,
    Target,
    credentials,
    describe,
    load_schema,
    send,
)
from tests.hostile_inputs import (
    int_but_not_stream_id,
    paths_with_nul,
    post_body,
    resume_sse,
    undecodable_bodies,
    unicode_digits,
)
from tests.servers import free_port, redis_server

EXAMPLES = 200  # per operation and generation mode (valid, invalid): ~3,200 requests
HOSTILE_EXAMPLES = 100  # per kind of hostile input
SEED = 11  # the same requests on every run, so a figure can be compared with the last


def _run(strategy: st.SearchStrategy[Any], examples: int, body: Callable[..., None]) -> None:
    """Run `body` on `examples` values of `strategy`, seeded, no shrinking: a tally,
    not a test (every failure is recorded and the run goes on)."""

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(value: Any) -> None:
        body(value)

    run._hypothesis_internal_use_seed = SEED  # type: ignore[attr-defined]
    # An operation with nothing to get wrong (GET /) has no invalid requests.
    with contextlib.suppress(Unsatisfiable):
        run()


def fuzz_operations(target: Target, session: requests.Session) -> None:
    schema = load_schema(max_examples=EXAMPLES)
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            cases = st.tuples(
                operation.as_strategy(generation_mode=mode),
                credentials(),
                st.booleans(),
                st.booleans(),
            )

            def one(value: tuple[schemathesis.Case, str | None, bool, bool]) -> None:
                case, token, own_task, token_in_query = value
                try:
                    send(
                        case,
                        target,
                        token=token,
                        own_task=own_task,
                        token_in_query=token_in_query,
                        session=session,
                    )
                except FailureGroup as group:
                    for failure in group.exceptions:
                        _violation(target.tally, f"{case.operation.label}: {failure.title}", case)
                except Failure as failure:
                    _violation(target.tally, f"{case.operation.label}: {failure.title}", case)
                except AssertionError as exc:
                    _violation(target.tally, f"{case.operation.label}: {str(exc)[:80]}", case)
                except requests.RequestException as exc:
                    _violation(target.tally, f"{case.operation.label}: {type(exc).__name__}", case)

            _run(cases, EXAMPLES, one)


def _violation(tally: Tally, title: str, case: schemathesis.Case) -> None:
    tally.violation(title, describe(case, valid_token=True))


def fuzz_hostile(target: Target) -> None:
    """What no document describes; each kind with the answers it must get."""
    kinds: list[tuple[str, st.SearchStrategy[Any], Callable[[Any], httpx.Response], set[int]]] = [
        (
            "POST /scrape/async, undecodable body",
            undecodable_bodies,
            lambda b: post_body(target, b),
            {400},
        ),
        (
            "POST /scrape/async, NUL in a local path",
            paths_with_nul,
            lambda u: post_body(target, httpx.Request("POST", "/", json={"url": u}).content),
            {400, 422},
        ),
        (
            "GET /events, Last-Event-ID int() reads",
            st.tuples(int_but_not_stream_id, st.booleans()),
            lambda v: resume_sse(target, v[0], in_header=v[1]),
            {400},
        ),
        (
            "GET /events, last_event_id in other digits",
            unicode_digits,
            lambda v: resume_sse(target, v, in_header=False),
            {400},
        ),
    ]
    for label, strategy, request, expected in kinds:

        def one(
            value: Any, label: str = label, request: Any = request, expected: Any = expected
        ) -> None:
            try:
                response = request(value)
            except httpx.HTTPError as exc:
                target.tally.violation(f"{label}: {type(exc).__name__}", repr(value)[:120])
                return
            target.tally.add(label, response.status_code, repr(value)[:120])
            if response.status_code not in expected:
                target.tally.violation(
                    f"{label}: {response.status_code}, not {sorted(expected)}", repr(value)[:120]
                )

        _run(strategy, HOSTILE_EXAMPLES, one)


def report(tally: Tally, seconds: float) -> None:
    total = sum(sum(seen.values()) for seen in tally.statuses.values())
    print(
        f"fuzz: {total:,} requests in {seconds:.0f} s against one `resimply serve` "
        f"(schemathesis {schemathesis.__version__}, {FUZZ_SCHEMA}, seed {SEED})"
    )
    print(f"  {'endpoint':<46} {'requests':>8} {'2xx':>6} {'3xx':>5} {'4xx':>6} {'5xx':>5}")
    classes: Counter[str] = Counter()
    for label, seen in tally.statuses.items():
        by_class: Counter[str] = Counter()
        for status, n in seen.items():
            by_class[f"{status // 100}xx"] += n
        classes.update(by_class)
        print(
            f"  {label:<46} {sum(seen.values()):>8} {by_class['2xx']:>6} {by_class['3xx']:>5} "
            f"{by_class['4xx']:>6} {by_class['5xx']:>5}"
        )
    print("responses by class: " + ", ".join(f"{k} {v:,}" for k, v in sorted(classes.items())))
    print(f"5xx found: {classes['5xx']}")
    # The first few, one per kind of request (its first characters).
    shown: set[str] = set()
    for line in tally.server_errors:
        kind = line[:60]
        if kind not in shown and len(shown) < 6:
            shown.add(kind)
            print(f"  {line[:300]}")
    print(f"answers the document does not allow: {len(tally.violations)} kinds")
    for title, (seen, example) in sorted(tally.violations.items()):
        print(f"  {title} (x{seen}): {example[:240]}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with redis_server(tmp) as redis_url:
            env = dev_env(
                redis_url, tmp / "data", "chaos-fuzz:", RESIMPLY_RATE_LIMIT_PER_MINUTE="1000000"
            )
            with dev_web(env, free_port(), tmp / "web.log", FUZZ_USER) as (base_url, token):
                target = Target.prepare(base_url, token)
                started = time.monotonic()
                with requests.Session() as session:
                    fuzz_operations(target, session)
                fuzz_hostile(target)
                report(target.tally, time.monotonic() - started)


if __name__ == "__main__":
    main()
