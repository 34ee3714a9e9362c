"""docs/api.md, the API reference for people, against the code: every route of
the app is in its Endpoints table (and every row there is a route), every error
code the service can answer is in its Errors table with its HTTP status, every
task error code in the task error table, every query or header parameter, every
message type, every field of the wire schemas and every evidence value is named.
/openapi.json cannot drift from the code (it is generated from it,
tests/test_openapi.py); this keeps the hand-written page from drifting too."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from starlette.routing import Route, WebSocketRoute

from resimply import errors, messages
from resimply.models import EVIDENCE
from resimply.web.app import ROUTES
from resimply.web.openapi import document

ROOT = Path(__file__).resolve().parent.parent
API_MD = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
SOURCES = sorted((ROOT / "resimply").rglob("*.py"))
# An error answered by hand, not by a ResimplyError class: `Refusal(426,
# "upgrade_required", …)`, `_refuse(431, "request_too_large", …)`, `404: ("not_found", …)`.
# The status must open its line or follow "(", so `426 if v else 400,` is not read as a pair.
_LITERAL_ERROR = re.compile(r'(?:\(|^)\s*([45]\d\d)\s*[,:]\s*\(?\s*"([a-z][a-z_]*)"', re.M)
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _section(title: str) -> str:
    """The text of the `## title` section of api.md (up to the next `## `)."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", API_MD, re.S | re.M)
    assert match, f"docs/api.md has no '## {title}' section"
    return match.group(1)


def _table_rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.strip().startswith("|") and not re.match(r"^\|[-| ]+\|$", line.strip())
    ]


def _code_text(text: str) -> str:
    """What api.md shows as code: fenced blocks and inline `spans`."""
    fences = _FENCE.findall(text)
    return "\n".join([*fences, *re.findall(r"`[^`]+`", _FENCE.sub("", text))])


CODE = _code_text(API_MD)


def _subclasses(cls: type) -> list[type]:
    return [cls, *(s for sub in cls.__subclasses__() for s in _subclasses(sub))]


def _app_routes() -> set[str]:
    """`METHOD /path` of every route (WebSockets as `WS /path`)."""
    out: set[str] = set()
    for route in ROUTES:
        if isinstance(route, WebSocketRoute):
            out.add(f"WS {route.path}")
        elif isinstance(route, Route):
            out |= {f"{m} {route.path}" for m in route.methods or () if m != "HEAD"}
    return out


def _request_error_codes() -> set[tuple[int, str]]:
    """(status, code) of every answer the service can give: the error classes
    raised in the web tier, and the answers written by hand in resimply/."""
    codes = {
        (cls.http_status, cls.code)
        for cls in _subclasses(errors.RequestError)
        if cls is not errors.RequestError
    }
    codes.add((errors.ResimplyError.http_status, errors.ResimplyError.code))  # 500 internal
    for path in SOURCES:
        for status, code in _LITERAL_ERROR.findall(path.read_text(encoding="utf-8")):
            codes.add((int(status), code))
    return codes


def test_every_route_of_the_app_is_in_the_endpoints_table_and_no_other() -> None:
    documented = {
        span
        for row in _table_rows(_section("Endpoints"))
        for span in re.findall(r"`((?:GET|POST|DELETE|PUT|PATCH|WS) /[^`]*)`", row[0])
    }
    routes = _app_routes()
    assert len(routes) >= 20
    assert routes - documented == set(), "routes missing from docs/api.md's Endpoints table"
    assert documented - routes == set(), "docs/api.md lists endpoints the app does not have"


def test_every_error_code_is_in_the_errors_table_with_its_status() -> None:
    rows = {
        (int(row[0]), code)
        for row in _table_rows(_section("Errors"))
        if row[0].isdigit()
        for code in re.findall(r"`([a-z_]+)`", row[1])
    }
    codes = _request_error_codes()
    # The scan of hand-written answers finds them (else this test checks too little).
    assert {(431, "request_too_large"), (426, "upgrade_required"), (405, "method_not_allowed")} <= (
        codes
    )
    assert codes - rows == set(), "error codes missing from docs/api.md's Errors table"
    assert {code for _, code in rows} <= {code for _, code in codes}, "codes the app never sends"


def test_every_task_error_code_is_in_the_task_error_table() -> None:
    table = _section("Progress messages")
    documented = {
        code
        for row in _table_rows(table)
        for code in re.findall(r"^`([a-z_]+)`$", row[0])
        if row[0] != "`error`"
    }
    task_codes = {cls.code for cls in _subclasses(errors.TaskError) if cls is not errors.TaskError}
    assert len(task_codes) >= 10
    assert task_codes == documented


def test_every_query_and_header_parameter_is_named() -> None:
    doc = document(ROUTES)
    named = {
        (path, param["name"])
        for path, item in doc["paths"].items()
        for op in item.values()
        if isinstance(op, dict)
        for param in op.get("parameters", [])
        if param["in"] in ("query", "header")
    }
    assert {name for _, name in named} >= {"servings", "units", "partial", "limit", "offset"}
    missing = {
        (path, name) for path, name in named if not re.search(rf"\b{re.escape(name)}\b", CODE)
    }
    assert missing == set(), "parameters docs/api.md does not name (in `code`)"


def test_every_message_type_is_shown() -> None:
    tags = {
        msgspec.inspect.type_info(cls).tag  # type: ignore[attr-defined]
        for cls in messages.Message.__args__  # type: ignore[attr-defined]
    }
    assert {"progress", "completion", "error", "partial"} <= tags
    for tag in tags:
        assert f'"type": "{tag}"' in CODE, f"docs/api.md shows no {tag!r} message"


def _properties(schema: dict[str, Any]) -> set[str]:
    return set(schema.get("properties", {}))


@pytest.mark.parametrize("name", sorted(document(ROUTES)["components"]["schemas"]))
def test_every_field_of_the_wire_schemas_is_named(name: str) -> None:
    schema = document(ROUTES)["components"]["schemas"][name]
    missing = {p for p in _properties(schema) if not re.search(rf"\b{re.escape(p)}\b", CODE)}
    assert missing == set(), f"fields of {name} docs/api.md does not name (in `code`)"


def test_every_evidence_value_is_named() -> None:
    evidence = _section("Tasks")
    for value in EVIDENCE:
        assert f"`{value}`" in evidence, value


def test_the_table_of_contents_matches_the_sections() -> None:
    """Each `## ` section is in Contents, in order, with an anchor GitHub makes of it."""
    titles = re.findall(r"^## (.+)$", _FENCE.sub("", API_MD), re.M)
    contents = re.findall(r"^- \[(.+?)\]\(#(.+?)\)$", _section("Contents"), re.M)
    assert [title for title, _ in contents] == [t for t in titles if t != "Contents"]
    for title, anchor in contents:
        assert anchor == _github_anchor(title), title


def _github_anchor(title: str) -> str:
    # GitHub: lower case, drop punctuation but "-" and "_", spaces to "-".
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def test_the_scan_would_catch_a_missing_code() -> None:
    """The table check is not vacuous: an answer with a code api.md lacks fails."""
    assert (418, "teapot") not in {
        (int(row[0]), code)
        for row in _table_rows(_section("Errors"))
        if row[0].isdigit()
        for code in re.findall(r"`([a-z_]+)`", row[1])
    }
    found = _LITERAL_ERROR.findall(
        '_refuse(\n    418, "teapot", "No coffee.")\n426 if v else 400,\n "x"'
    )
    assert found == [("418", "teapot")]
