from __future__ import annotations

import time

import pytest

from resimply.retry import GaveUp, RetryPolicy, Transient, parse_retry_after


def test_retry_after_takes_seconds_or_an_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 25 Nov 2026 10:00:30 GMT", now=1795600800.0) == pytest.approx(
        30, abs=1
    )
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert parse_retry_after("-3") == 0.0


async def test_a_transient_failure_is_retried_with_the_servers_delay() -> None:
    calls: list[float] = []

    async def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise Transient("429", retry_after=0.05)
        return "ok"

    assert await RetryPolicy(deadline_s=5).run(flaky, what="upstream") == "ok"
    assert len(calls) == 3
    assert calls[1] - calls[0] >= 0.045 and calls[2] - calls[1] >= 0.045


async def test_a_permanent_failure_is_not_retried() -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("400")

    with pytest.raises(ValueError):
        await RetryPolicy().run(broken, what="upstream")
    assert calls == 1


async def test_it_gives_up_at_the_deadline_not_after_it() -> None:
    async def always_busy() -> None:
        raise Transient("503", retry_after=0.2)

    started = time.monotonic()
    with pytest.raises(GaveUp) as info:
        await RetryPolicy(deadline_s=0.5, max_attempts=100).run(always_busy, what="upstream")
    assert time.monotonic() - started < 0.5
    assert info.value.attempts == 3 and info.value.last.reason == "503"


async def test_a_hanging_attempt_is_cut_at_the_deadline() -> None:
    import asyncio

    async def hangs() -> None:
        await asyncio.sleep(10)

    started = time.monotonic()
    with pytest.raises(GaveUp, match="timed out"):
        await RetryPolicy(deadline_s=0.3).run(hangs, what="upstream")
    assert time.monotonic() - started < 1


async def test_a_retry_after_longer_than_the_budget_gives_up_at_once() -> None:
    attempts = 0

    async def come_back_later() -> None:
        nonlocal attempts
        attempts += 1
        raise Transient("429", retry_after=3600)

    with pytest.raises(GaveUp):
        await RetryPolicy(deadline_s=5).run(come_back_later, what="upstream")
    assert attempts == 1


async def test_an_attempt_cut_by_the_deadline_keeps_the_earlier_reason() -> None:
    import asyncio

    calls = 0

    async def error_then_hang() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise Transient("HTTP 500", retry_after=0.05)
        await asyncio.sleep(10)

    with pytest.raises(GaveUp) as info:
        await RetryPolicy(deadline_s=0.3).run(error_then_hang, what="upstream")
    assert info.value.last.reason == "HTTP 500" and info.value.attempts == 2
