"""structlog set-up: one line per event, context from contextvars, secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from .settings import Settings

_SECRET_KEYS = re.compile(r"token|authorization|secret|password|api_?key|cookie", re.IGNORECASE)
# `token=…` in query strings, `Bearer …` in headers, and JWT-shaped strings anywhere.
_SECRET_IN_TEXT = re.compile(
    r"(?P<q>(?:token|access_token|apikey|api_key|key)=)[^&\s\"']+"
    r"|(?P<b>Bearer\s+)[A-Za-z0-9._~+/=-]+"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def redact_text(text: str) -> str:
    """Replace tokens and secrets inside free text (URLs, headers, messages)."""

    def replace(match: re.Match[str]) -> str:
        prefix = match.group("q") or match.group("b") or ""
        return prefix + REDACTED

    return _SECRET_IN_TEXT.sub(replace, text)


def _redact(value: Any, key: str = "") -> Any:
    if key and _SECRET_KEYS.search(key) and not key.endswith(("_count", "_id")):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def redact_processor(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        event_dict[key] = _redact(value, key)
    return event_dict


def configure_logging(settings: Settings) -> None:
    level = logging.getLevelNamesMapping().get(settings.log_level, logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries that log through the standard library (arq, hypercorn) share the level.
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
