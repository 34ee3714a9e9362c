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
