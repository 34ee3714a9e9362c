from __future__ import annotations

import json

import pytest
import structlog

from resimply.logs import REDACTED, configure_logging, redact_text
from resimply.settings import Settings

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhYmMxMjM0NSJ9.c2lnbmF0dXJlLXZhbHVl"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("token=abc.def.ghi&last_event_id=1-0", "abc.def.ghi"),
        ("Authorization: Bearer sk-live-123456", "sk-live-123456"),
        (f"failed for {JWT}", JWT),
        ("https://api.apify.com/v2/x?token=apify_api_XYZ", "apify_api_XYZ"),
    ],
)
def test_secrets_in_text_are_redacted(text: str, secret: str) -> None:
    assert secret not in redact_text(text)
    assert REDACTED in redact_text(text)


def test_ordinary_text_is_kept() -> None:
    assert redact_text("/events/123?last_event_id=1-0") == "/events/123?last_event_id=1-0"


def test_log_lines_never_carry_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json"))
    try:
        structlog.get_logger("t").info(
            "request", query=f"token={JWT}", authorization=f"Bearer {JWT}", api_key="k1"
        )
    finally:
        structlog.reset_defaults()
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert JWT not in json.dumps(line) and "k1" not in json.dumps(line)
    assert line["query"] == f"token={REDACTED}" and line["api_key"] == REDACTED


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("openai said no to sk-proj-AbCdEf123456789", "sk-proj-AbCdEf123456789"),
        ("key sk-AbCdEf1234567890 rejected", "sk-AbCdEf1234567890"),
        ("apify run with apify_api_Zx81kQ2mLs9", "apify_api_Zx81kQ2mLs9"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("redis://:s3cret-pass@redis:6379/0", "s3cret-pass"),
        ("redis://default:s3cret-pass@redis:6379/0", "s3cret-pass"),
    ],
)
def test_secret_values_are_redacted_by_their_shape(text: str, secret: str) -> None:
    assert secret not in redact_text(text) and REDACTED in redact_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "http://127.0.0.1:8000/task/123",
        "ask-the-user and risk-assessment-2026",
        "redis://redis:6379/0",
        "prompt_tokens=1234",
    ],
)
def test_text_that_only_resembles_a_secret_is_kept(text: str) -> None:
    assert redact_text(text) == text


def _logged(capsys: pytest.CaptureFixture[str], **fields: object) -> dict[str, object]:
    configure_logging(Settings(log_format="json"))
    try:
        structlog.get_logger("t").info("event", **fields)
    finally:
        structlog.reset_defaults()
    line: dict[str, object] = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    return line


@pytest.mark.parametrize(
    "name",
    [
        "token",
        "access_token",
        "Authorization",
        "apify_api_token",
        "OPENAI_API_KEY",
        "supabase_key",
        "password",
        "set-cookie",
    ],
)
def test_fields_named_as_secrets_are_redacted_whatever_their_value(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # A value with no secret shape at all: only the field's name can tell.
    assert _logged(capsys, **{name: "plain-value-42"})[name] == REDACTED


def test_the_cost_line_shows_its_token_counts(capsys: pytest.CaptureFixture[str]) -> None:
    """Field names that merely contain "token" are counts, not secrets (issue 14)."""
    counts = {"prompt_tokens": 1234, "completion_tokens": 56, "image_tokens": 789}
    line = _logged(capsys, **counts, token_count=3, max_image_tokens=20000)
    assert {k: line[k] for k in counts} == counts
    assert line["token_count"] == 3 and line["max_image_tokens"] == 20000


def test_a_secret_inside_a_count_field_name_is_still_caught_by_its_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = _logged(capsys, prompt_tokens=f"Bearer {JWT}", nested={"auth_header": JWT})
    assert JWT not in json.dumps(line)
