"""Redis being unavailable: what counts as it, and how a process rides it out.

Unavailable means Redis cannot do what we ask *now* but will again without any
change on our side: it is down or unreachable (refused or dropped connections,
timeouts), still loading its data (LOADING), full (OOM: `maxmemory` with
`noeviction`), a replica or failing over (READONLY, MASTERDOWN, NOREPLICAS), or
unable to persist (MISCONF). Not among them: a wrong password, a bad command, a WATCH
conflict — those are bugs or configuration, and fail loudly.

- The web tier answers such errors with `503 service_unavailable` +
  `Retry-After` (web/errors.py), and logs them at most once per interval
  (`RefusalLog`).
- The worker's clients wait them out (`PatientRetry`): a command is sent again,
  with a capped backoff, until Redis takes it. arq's loop, a job's progress
  writes and arq's result write pause during an outage instead of failing, and
  continue where they were once Redis is back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = structlog.get_logger(__name__)

T = TypeVar("T")

# BusyLoadingError (LOADING) and redis-py's MaxConnectionsError are ConnectionErrors.
UNAVAILABLE_ERRORS: tuple[type[RedisError], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OutOfMemoryError,
    ReadOnlyError,
    MasterDownError,
)
# Error replies redis-py has no class for (MISCONF; NOREPLICAS: a master set with
# `min-replicas-to-write` that has lost its replicas, as when Sentinel has promoted
# one of them), or that reach us wrapped: a Lua script's failing write answers
# "OOM command not allowed ... script: ...".
_UNAVAILABLE_REPLIES = ("OOM ", "READONLY ", "MASTERDOWN ", "MISCONF ", "LOADING ", "NOREPLICAS ")
_CONFIGURATION_ERRORS = (AuthenticationError, AuthorizationError)
# What `PatientRetry` waits out. OSError: a refused connect, which redis-py's
# Connection.connect retries only if listed (and turns into a ConnectionError after).
PATIENT_ERRORS: tuple[type[Exception], ...] = (*UNAVAILABLE_ERRORS, OSError)


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` means "Redis cannot serve us right now; try later"."""
    if isinstance(exc, _CONFIGURATION_ERRORS):
        return False
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return True
    if isinstance(exc, ResponseError):
        text = str(exc)
        return text.startswith(_UNAVAILABLE_REPLIES) or "OOM command not allowed" in text
    return False


class OutageLog:
    """One warning when Redis becomes unavailable to a client, one info line when
    it answers again (with how long it was away) — not a line per failed command.

    A Redis at the edge of full refuses and takes writes by turns: an outage
    starting within `interval_s` of the last warning is logged only once it has
    lasted `quiet_s` (most such blips end sooner and are only counted, in the
    next line)."""

    def __init__(self, client: str, *, interval_s: float = 60.0, quiet_s: float = 5.0) -> None:
        self.client = client
        self.interval_s = interval_s
        self.quiet_s = quiet_s
        self._since: float | None = None
        self._failures = 0
        self._warned = False
        self._warned_at = -interval_s
        self._blips = 0  # outages too brief to log since the last line

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, error: BaseException) -> None:
        now = time.monotonic()
        self._failures += 1
        if self._since is None:
            self._since = now
        if self._warned:
            return
        if now - self._warned_at >= self.interval_s or now - self._since >= self.quiet_s:
            log.warning(
                "redis_unavailable",
                client=self.client,
                error=type(error).__name__,
                detail=str(error)[:200],
                waiting=True,
                brief_outages_before=self._blips,
            )
            self._warned, self._warned_at, self._blips = True, now, 0

    def answered(self) -> None:
        if self._since is None:
            return
        if self._warned:
            log.info(
                "redis_available_again",
                client=self.client,
                down_s=round(time.monotonic() - self._since, 1),
                failed_attempts=self._failures,
            )
        else:
            self._blips += 1
        self._since, self._failures, self._warned = None, 0, False


class RefusalLog:
    """A warning at most once per `interval_s` for requests refused because
    Redis is unavailable, counting the ones refused since the last line."""

    def __init__(self, interval_s: float = 30.0) -> None:
        self.interval_s = interval_s
        self._last = -interval_s
        self._refused = 0

    def refused(self, error: BaseException, **context: Any) -> None:
        self._refused += 1
        now = time.monotonic()
        if now - self._last >= self.interval_s:
            log.warning(
                "redis_unavailable",
                error=type(error).__name__,
                detail=str(error)[:200],
                refused=self._refused,
                **context,
            )
            self._last = now
            self._refused = 0


class PatientRetry(Retry):
    """redis-py's Retry, for worker processes: the errors of `is_unavailable` (and
    refused connects) are retried forever, 0.1 s doubling to `cap_s` apart, and
    logged once per outage through `OutageLog`. Anything else raises at once."""

    def __init__(self, client: str, *, cap_s: float = 2.0) -> None:
        super().__init__(
            ExponentialBackoff(cap=cap_s, base=0.1),
            retries=-1,
            supported_errors=UNAVAILABLE_ERRORS,
        )
        self.update_supported_errors(list(PATIENT_ERRORS))  # + OSError (refused connects)
        self.outage = OutageLog(client)
        self.patient = True

    def give_up_when_done(self, task: asyncio.Task[Any]) -> None:
        """Stop waiting once `task` ends: a process that is stopping (arq's main
        loop cancelled by SIGTERM) fails its Redis commands and exits, as it did
        before, instead of waiting for Redis until it is killed."""
        task.add_done_callback(lambda _: setattr(self, "patient", False))

    def __deepcopy__(self, memo: dict[int, Any]) -> PatientRetry:
        # redis-py deep-copies the retry into every connection of a pool; one
        # shared object is what lets an outage be logged once per client, not
        # once per connection (its backoff holds no state).
        return self

    async def call_with_retry(
        self, do: Callable[[], Awaitable[T]], fail: Callable[[RedisError], Any]
    ) -> T:
        failures = 0
        while True:
            try:
                result = await do()
            except self._supported_errors as error:
                if isinstance(error, _CONFIGURATION_ERRORS):
                    raise
                failures += 1
                self.outage.failed(error)
                await fail(error)  # disconnects; raises what must not be retried
                if not self.patient:
                    raise
                await asyncio.sleep(self._backoff.compute(failures))
            else:
                # Only a command that failed and now went through ends the outage:
                # reads succeed while a full Redis refuses writes, and reconnects
                # (a nested call_with_retry) succeed while it refuses everything.
                if failures:
                    self.outage.answered()
                return result
