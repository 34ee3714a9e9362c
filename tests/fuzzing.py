"""OpenAPI-driven fuzzing of a running service with schemathesis, shared by
tests/test_fuzz_api.py (bounded, in every `pytest` run) and bench/chaos/fuzz.py
(more examples, with a tally).

The fuzzer reads the document the service serves at /openapi.json (generated in
process by `resimply.web.openapi.document`, the same function) and sends what it
generates, valid and invalid, to a real `resimply serve`. The WebSocket endpoints
are left out: a plain HTTP request there only meets the 426, and their wire is
tested by tests/test_ws_conformance.py. Each case is sent either with a valid token (so it reaches the
handler) or with whatever credentials the fuzzer made up (so it meets the 401), and
a task path is either the fuzzer's own string (mostly a 404) or a real, finished
task of the fuzzing user, so `Last-Event-ID` and friends get past the ownership
check and reach their own parsers.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from typing import Any

import httpx
import hypothesis.strategies as st
import requests
import schemathesis
from schemathesis import BaseSchema, CheckFunction
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from resimply.web.app import ROUTES
from resimply.web.openapi import document

FUZZ_SCHEMA = "/openapi.json (resimply.web.openapi.document)"
FUZZ_USER = "fuzzer"
REQUEST_TIMEOUT_S = 10.0

# What every answer must satisfy: no 5xx; a status, content type, headers and body
# the document lists; invalid input refused with a 4xx; auth enforced where declared.
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]


def load_schema(*, max_examples: int, phases: list[str] | None = None) -> BaseSchema:
    """The service's API as schemathesis sees it, generating at most `max_examples`
    cases per operation and phase, the same cases on every run (CI reproducibility).
    `phases`: schemathesis' phases to run ("examples", "coverage", "fuzzing")."""
    schema = schemathesis.openapi.from_dict(document(ROUTES)).exclude(path_regex=r"^/wss?/")
    if phases is not None:
        schema.config.phases.update(phases=phases)
    schema.config.generation.update(
        max_examples=max_examples,
        deterministic=True,
        # Unknown query parameters and body fields are ignored, by design.
        allow_extra_parameters=False,
        # Credentials are chosen by `credentials()`: a valid token is what gets a
        # case past the 401 to the handler, which made-up ones never do.
        with_security_parameters=False,
    )
    # An invalid request may also be refused for its size (a caption over the limit).
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    return schema


def credentials() -> st.SearchStrategy[str | None]:
    """What a case authenticates with: VALID (the fuzzing user's token), nothing, or
    a made-up bearer token (random, JWT-shaped, or a valid one tampered with)."""
    token_chars = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
    invalid = st.one_of(
        st.none(),
        st.text(token_chars, max_size=60),
        st.from_regex(r"\AeyJ[A-Za-z0-9_-]{2,40}\.[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,43}\Z"),
        st.just(TAMPERED),
    )
    # Three in four cases reach the handler; the rest meet the 401.
    return st.integers(0, 3).flatmap(lambda n: st.just(VALID) if n < 3 else invalid)


VALID = "<valid>"
TAMPERED = "<tampered>"


@dataclasses.dataclass
class Tally:
    """What a fuzz run sent and got: answers by operation and status."""

    statuses: dict[str, Counter[int]] = dataclasses.field(
        default_factory=lambda: defaultdict(Counter)
    )

    # The first few requests answered with a 5xx, and each kind of check failure
    # with how often it was seen and one request that shows it.
    server_errors: list[str] = dataclasses.field(default_factory=list)
    violations: dict[str, tuple[int, str]] = dataclasses.field(default_factory=dict)

    def add(self, label: str, status: int, request: str) -> None:
        self.statuses[label][status] += 1
        if status >= 500 and len(self.server_errors) < 200:
            self.server_errors.append(f"{status} {label}: {request}")

    def violation(self, title: str, request: str) -> None:
        seen, example = self.violations.get(title, (0, request))
        self.violations[title] = (seen + 1, example)

    def unreached(self) -> list[str]:
        """Operations that answered nothing but 401: the fuzzer never got past auth."""
        return sorted(op for op, seen in self.statuses.items() if set(seen) <= {401})


@dataclasses.dataclass(frozen=True)
class Target:
    """A running service, a token of the fuzzing user, and a finished task of theirs."""

    base_url: str
    token: str
    task_id: str
    tally: Tally = dataclasses.field(default_factory=Tally)

    @classmethod
    def prepare(cls, base_url: str, token: str) -> Target:
        """Submit the bundled sample and cancel it: a task whose stream ends, so an SSE
        request for it returns instead of following a live task."""
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_S) as client:
            sample = client.get("/dev/sample").raise_for_status().json()["url"]
            submitted = client.post("/scrape/async", json={"url": sample}).raise_for_status()
            task_id: str = submitted.json()["task_id"]
            client.delete(f"/task/{task_id}").raise_for_status()
            return cls(base_url, token, task_id)


def send(
    case: schemathesis.Case,
    target: Target,
    *,
    token: str | None,
    own_task: bool,
    token_in_query: bool = False,
    session: requests.Session | None = None,
) -> schemathesis.Response:
    """Send one generated case to `target` and check the answer against CHECKS
    (raises with every failed check)."""
    if case.headers and "Last-Event-ID" in case.headers and case.query:
        # The header wins over ?last_event_id= (API.md): the query is not read at all.
        case.query = {k: v for k, v in case.query.items() if k != "last_event_id"}
    if own_task and "task_id" in (case.path_parameters or {}):
        case.path_parameters = {**(case.path_parameters or {}), "task_id": target.task_id}
    if token == VALID:
        token = target.token
    elif token == TAMPERED:
        token = target.token[:-2] + ("AA" if not target.token.endswith("AA") else "BB")
    headers: dict[str, str] = {}
    if token is not None:
        if token_in_query and case.path.startswith("/events/"):
            case.query = {**(case.query or {}), "token": token}
        else:
            headers["Authorization"] = f"Bearer {token}"
    kwargs: dict[str, Any] = {"base_url": target.base_url, "headers": headers, "session": session}
    response = case.call(timeout=REQUEST_TIMEOUT_S, **kwargs)
    target.tally.add(
        case.operation.label,
        response.status_code,
        describe(case, token == target.token) if response.status_code >= 500 else "",
    )
    # schemathesis' own auth check takes a query token for one it generated itself.
    checks = [c for c in CHECKS if c is not ignored_auth or "token" not in (case.query or {})]
    case.validate_response(response, checks=checks)
    if token != target.token and needs_auth(case):
        assert_refused(case, response)
    return response


def describe(case: schemathesis.Case, valid_token: bool) -> str:
    """The request as a curl command (credentials masked), for a report."""
    return f"{case.as_curl_command()} ({'valid' if valid_token else 'no valid'} token)"


def needs_auth(case: schemathesis.Case) -> bool:
    return case.operation.definition.raw.get("security") != []


def assert_refused(case: schemathesis.Case, response: schemathesis.Response) -> None:
    """A secured endpoint without a valid token answers 401 before anything else,
    unless the path does not route at all (a path parameter with a '/')."""
    unrouted = any("/" in str(v) for v in (case.path_parameters or {}).values())
    expected = {401, 404} if unrouted else {401}
    assert response.status_code in expected, (
        f"{case.method} {case.formatted_path} without a valid token: "
        f"{response.status_code} {response.text[:200]!r}"
    )
