"""structlog set-up: one line per event, context from contextvars, secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from .settings import Settings

# Fields that hold a secret whatever their value looks like, by exact name (lower
# case, "-" read as "_"). Exact names, not substrings: `prompt_tokens` or
# `token_count` are counts the cost line must show (issue 14).
SECRET_FIELDS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "api_token",
        "apify_api_token",
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "password",
        "redis_password",
        "secret",
        "client_secret",
        "jwt_secret",
        "supabase_jwt_secret",
        "supabase_key",
        "service_role_key",
        "api_key",
        "apikey",
        "openai_api_key",
        "x_api_key",
    }
)
# Secrets by what they look like, wherever they appear: `token=…` (and other
# key-like names) in query strings, `Bearer …` / `Basic …` in headers, JWTs,
# OpenAI keys (`sk-…`, `sk-proj-…`), Apify tokens (`apify_api_…`), and the
# password of a `redis://user:password@host` URL.
_SECRET_IN_TEXT = re.compile(
    r"(?P<q>\b(?:token|access_token|refresh_token|apikey|api_key|key)=)[^&\s\"']+"
    r"|(?P<b>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]+"
    r"|(?P<u>\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+(?=@)"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
    r"|\bsk-[A-Za-z0-9_-]{8,}"
    r"|\bapify_api_[A-Za-z0-9]{4,}",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def redact_text(text: str) -> str:
    """Replace tokens and secrets inside free text (URLs, headers, messages)."""

    def replace(match: re.Match[str]) -> str:
        prefix = match.group("q") or match.group("b") or match.group("u") or ""
        return prefix + REDACTED

    return _SECRET_IN_TEXT.sub(replace, text)


def is_secret_field(key: str) -> bool:
    """True for a field named like a secret (`SECRET_FIELDS`), in any case."""
    return key.lower().replace("-", "_") in SECRET_FIELDS


def _redact(value: Any, key: str = "") -> Any:
    if key and is_secret_field(key):
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
