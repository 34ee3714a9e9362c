"""Retrying transient upstream failures: backoff that honours `Retry-After`,
bounded by a total deadline.

Only failures that a later attempt may cure are retried — 408, 425, 429, 5xx,
timeouts and connection errors. Each adapter says which of its exceptions are
transient (`Transient`) and maps the final failure to its own task error, with
`retryable=True` so the client knows submitting again may help.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from . import metrics

log = structlog.get_logger(__name__)

T = TypeVar("T")

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 522, 524})


class Transient(Exception):
    """Raised by an attempt whose failure may pass; `retry_after` (seconds) when
    the server said how long to wait."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class GaveUp(Exception):
    """Every attempt failed transiently until the deadline or the attempt limit."""

    def __init__(self, last: Transient, attempts: int) -> None:
        super().__init__(f"gave up after {attempts} attempts: {last.reason}")
        self.last = last
        self.attempts = attempts


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    deadline_s: float = 60.0  # total time for all attempts and waits
    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Wait before attempt `attempt + 1`: the server's word if it gave one,
        else exponential backoff with full jitter (AWS architecture blog)."""
        if retry_after is not None:
            return retry_after
        return random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))

    async def run(
        self, attempt_fn: Callable[[], Awaitable[T]], *, what: str, provider: str = "other"
    ) -> T:
        """Run `attempt_fn` until it succeeds, raises a non-`Transient` error, or
        the budget is spent (then `GaveUp`). Each attempt is cut at the deadline.
        `provider` (openai, apify, supabase) labels the attempts' metrics."""
        started = time.monotonic()
        attempt = 0
        last: Transient | None = None
        while True:
            attempt += 1
            remaining = self.deadline_s - (time.monotonic() - started)
            began = time.perf_counter()
            try:
                async with asyncio.timeout(max(remaining, 0.001)):
                    result = await attempt_fn()
                metrics.upstream_attempt(provider, began, None)
                return result
            except TimeoutError as exc:
                metrics.upstream_attempt(provider, began, exc)
                # Cut at the deadline: an earlier attempt's answer (say HTTP 500)
                # says more about the upstream than this cut does.
                last = last or Transient(f"{what} timed out")
            except Transient as exc:
                metrics.upstream_attempt(provider, began, exc)
                last = exc
            except Exception as exc:
                metrics.upstream_attempt(provider, began, exc)
                raise
            remaining = self.deadline_s - (time.monotonic() - started)
            wait = self.delay(attempt, last.retry_after)
            if attempt >= self.max_attempts or wait >= remaining:
                raise GaveUp(last, attempt)
            metrics.UPSTREAM_RETRIES.labels(provider=provider).inc()
            log.info(
                "retrying", what=what, attempt=attempt, reason=last.reason, wait_s=round(wait, 3)
            )
            await asyncio.sleep(wait)
