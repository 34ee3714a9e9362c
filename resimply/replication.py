"""A submission's writes on the replicas before its `202` (Redis Sentinel only).

Redis replicates asynchronously: the master answers a write before its replica
has it, and a master that fails in between takes the write with it to the
failover. For a submission that is a task answered `202` and then gone (`GET
/task` 404). `ReplicaWait.run` sends the task's script and `WAIT numreplicas
timeout` in one pipeline, so both go over one connection (WAIT waits for the
writes *of its connection*; on a pool's next free connection it would wait for
nothing) and cost one round trip plus the replica's acknowledgement — well under
a millisecond on a private network.

When the replicas do not acknowledge within the timeout (a replica lagging,
resyncing or gone) the submission is accepted anyway: its job is queued on the
master and the replica usually catches up a moment later; refusing it (503)
would turn a lagging replica into an outage for every user, while the risk it
guards against needs the master to fail in that same moment. Such a submission
counts in `resimply_unreplicated_writes_total{write="accept"}` and is logged
(`write_unreplicated`, one warning per 30 s with the count), so a replica that
keeps lagging is seen and alerted on.

A task's end (its terminal message and result, written by the worker) is waited
for the same way (`write="finish"`), because losing it is worse than losing a
progress message: arq's own record of the job, written next, would reach the
new master and mark the job done, leaving the task unfinished for good (`GET
/task` says RUNNING until its record expires, and a resubmission of the video
answers with it). A worker's task takes seconds; the wait adds a millisecond.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError
from redis.typing import EncodableT

from . import metrics

log = structlog.get_logger(__name__)

# A replica that keeps lagging: a warning per interval, not one per submission.
WARN_EVERY_S = 30.0


class ReplicaWait:
    """Runs a script, then waits up to `timeout_ms` for `replicas` replicas to have it."""

    def __init__(self, redis: Redis, *, replicas: int, timeout_ms: int, write: str) -> None:
        """`write`: what is waited for (`accept`, `finish`), the metric's label."""
        self._redis = redis
        self.write = write
        self._counter = metrics.UNREPLICATED_WRITES.labels(write=write)
        self.replicas = replicas
        self.timeout_ms = timeout_ms
        self._last_warning = -WARN_EVERY_S
        self._unreplicated = 0

    async def run(
        self, script: AsyncScript, *, keys: list[str], args: list[EncodableT]
    ) -> tuple[Any, int | Exception]:
        """`script(keys, args)`'s answer, and WAIT's: the number of replicas that had
        its writes within the timeout (or the error WAIT met)."""
        answer, acked = await self._pipeline(script.sha, keys, args)
        if isinstance(answer, NoScriptError):  # Redis restarted or was flushed
            await self._redis.script_load(script.script)
            answer, acked = await self._pipeline(script.sha, keys, args)
        if isinstance(answer, Exception):
            raise answer
        return answer, acked

    async def _pipeline(self, sha: str, keys: list[str], args: list[EncodableT]) -> list[Any]:
        pipe = self._redis.pipeline(transaction=False)
        pipe.execute_command("EVALSHA", sha, len(keys), *keys, *args)
        pipe.wait(self.replicas, self.timeout_ms)
        results: list[Any] = await pipe.execute(raise_on_error=False)
        return results

    def acknowledged(self, acked: int | Exception) -> bool:
        """Whether the last `run`'s writes reached enough replicas in time; if not,
        counts and (at most once per WARN_EVERY_S) logs it. Called by the store only
        for runs that wrote: a duplicate or refused submission, or the finish of a
        task already finished, wrote nothing."""
        if isinstance(acked, int) and acked >= self.replicas:
            return True
        self._counter.inc()
        self._unreplicated += 1
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY_S:
            log.warning(
                "write_unreplicated",
                write=self.write,
                replicas_wanted=self.replicas,
                replicas_acked=acked if isinstance(acked, int) else None,
                error=type(acked).__name__ if isinstance(acked, Exception) else None,
                wait_ms=self.timeout_ms,
                unreplicated=self._unreplicated,
            )
            self._last_warning = now
            self._unreplicated = 0
        return False
