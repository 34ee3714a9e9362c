"""File descriptors of the web process: as many as allowed, never all of them for clients.

Issue 11: one client holding ~1,000 unfinished request heads took every file
descriptor of the default soft limit (1,024). `accept()` then failed with EMFILE,
and asyncio, which calls the loop's exception handler for each failed
`accept()` and schedules a retry per failure (up to the listen backlog per
wake-up), wrote hundreds of thousands of log lines, while `/health` (which
needs a descriptor for Redis) timed out. So:

- the soft `RLIMIT_NOFILE` is raised to the hard one at start (`raise_fd_limit`);
- clients may hold `connection_cap` of them, which leaves a reserve for Redis,
  files and the worker beside the web (`serve --with-worker`), and for one
  burst of accepted sockets the front door has not counted yet;
- a failed `accept()` that still happens (another process exhausting the
  system's table, ENFILE) is counted and logged once per interval
  (`AcceptErrorLog`), not once per call.
"""

from __future__ import annotations

import asyncio
import errno
import resource
import time
from typing import Any

import structlog

log = structlog.get_logger(__name__)

ACCEPT_FAILED = "socket.accept() out of system resource"  # asyncio's message
ACCEPT_LOG_INTERVAL_S = 10.0
# Descriptors kept from clients: Redis pools, the JWKS and store sessions, log
# and data files, the in-process worker's downloads and threads.
MIN_RESERVE = 128
RESERVE_FRACTION = 10  # one tenth of the limit, at least MIN_RESERVE
_UNLIMITED_TARGET = 1 << 20


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:  # e.g. a container that forbids it
            log.warning("fd_limit_not_raised", soft=soft, hard=hard, error=str(exc))
    return _UNLIMITED_TARGET if soft == resource.RLIM_INFINITY else soft


def connection_cap(fd_limit: int, backlog: int) -> int:
    """How many client connections a process with `fd_limit` descriptors may hold.

    Besides the reserve, one listen `backlog` more: asyncio accepts up to that
    many sockets in one go, before the front door sees (and counts) the first.
    """
    reserve = max(MIN_RESERVE, fd_limit // RESERVE_FRACTION) + backlog
    return max(1, fd_limit - reserve)


class AcceptErrorLog:
    """A loop exception handler that turns asyncio's one-line-per-failed-accept()
    into one warning per `interval_s` with the count; other contexts go to the
    handler that was installed before (or the loop's default)."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, *, interval_s: float = ACCEPT_LOG_INTERVAL_S
    ) -> None:
        self._loop = loop
        self._interval_s = interval_s
        self._previous = loop.get_exception_handler()
        self._count = 0
        self._error: str | None = None
        self._last_logged = -interval_s
        self._timer: asyncio.TimerHandle | None = None
        self.total = 0  # failed accept() calls seen, for tests and benches

    def install(self) -> None:
        self._loop.set_exception_handler(self)

    def uninstall(self) -> None:
        self.flush()
        self._loop.set_exception_handler(self._previous)

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != ACCEPT_FAILED:
            if self._previous is not None:
                self._previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        code = getattr(context.get("exception"), "errno", None)
        self._error = errno.errorcode.get(code, str(code)) if code else None
        self.total += 1
        self._count += 1
        wait = self._last_logged + self._interval_s - time.monotonic()
        if wait <= 0:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(wait, self.flush)

    def flush(self) -> None:
        """Log the failures counted since the last line (`__call__` spaces the lines)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._count:
            return
        log.warning(
            "accept_failing",
            failures=self._count,
            error=self._error,
            hint="the process or the system is out of file descriptors",
        )
        self._count = 0
        self._last_logged = time.monotonic()
