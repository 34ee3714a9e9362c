"""Job leases: a killed worker's jobs run again within a minute, not after the job timeout.

arq keeps a job from running twice with its in-progress key
(`arq:in-progress:<job_id>`): `start_jobs` sets it under WATCH, after checking
that it does not exist and that the job is still due in the queue's sorted set,
with a TTL of the job timeout + 10 s (here ≈ 15.5 min). The job stays in the
queue until it ends. A worker that dies without a word (SIGKILL, OOM kill, power
loss) leaves that key behind, and its job waits until the key expires.

The lease: the worker running a job cuts that key's TTL to `LEASE_S` as soon as
the job starts, and its heartbeat renews it (`PEXPIRE`, in the same transaction
as the heartbeat, every `heartbeat.INTERVAL_S`) while the job runs. A dead
worker stops renewing; the key expires within `LEASE_S`, and the next poll of
any other worker starts the job from the queue through arq's own checks (it is
still queued and due), counting it as the next try. Nothing else changes in
arq's data: the retry key (`job_try`), abort (the `arq:abort` set, which a
worker picking the job up also honours: "aborted before start") and the end of a
job (arq deletes the key itself) work as before. `PEXPIRE` does nothing on a
missing key, so a renewal racing the end of a job never brings its key back.

Why a lease and not a reaper (a process that deletes the in-progress keys of
workers whose heartbeat is stale): a reaper needs its own record of which worker
runs which job, a leader or a lock so reapers do not race, and it must not
delete a key that a live worker set since; the lease needs none of these, as
Redis's own expiry is the reaper. Other queues do the same thing their own way:
Sidekiq's super_fetch keeps each job in a per-process list and a live process
requeues the lists of processes whose heartbeat stopped; Dramatiq's Redis
broker requeues the messages of workers whose heartbeat is older than its
timeout; Celery's `acks_late` + `reject_on_worker_lost` leaves the message
unacknowledged so the broker redelivers it when the worker's connection drops.

How long: `LEASE_S` must outlast the longest Redis outage a worker rides out
while it keeps its jobs (30 s, issue 11) plus the time to renew once Redis is
back (one heartbeat interval, each beat bounded to one interval): 30 + 5 + 5 s,
and 5 s more as slack, gives 45 s. A killed worker's jobs therefore run again
40–45 s after it died (its last renewal was at most one interval earlier).
A worker cut off for longer than the lease keeps running its job (stopping it
would make arq delete the in-progress key another worker now holds), and logs
`lease_lost`: the job may then run twice at once, which the steps tolerate —
the task's messages go to whichever run writes first, the store keeps one
recipe per task id — at the price of paying for the extraction twice.
"""

from __future__ import annotations

from typing import Any

import structlog
from arq.constants import in_progress_key_prefix
from redis.asyncio import Redis

log = structlog.get_logger(__name__)

LEASE_S = 45.0


class Leases:
    """The leases of the jobs one worker runs; `running` is that worker's set of job ids."""

    def __init__(self, redis: Redis, running: set[str], *, lease_s: float = LEASE_S) -> None:
        self._redis = redis
        self._running = running
        self._lease_ms = int(lease_s * 1000)
        self._lost: set[str] = set()

    async def take(self, job_id: str) -> None:
        """Cut the in-progress key arq has just set for `job_id` to the lease.

        Failing here costs nothing but time: the next heartbeat sets the lease.
        """
        try:
            await self._redis.pexpire(in_progress_key_prefix + job_id, self._lease_ms)
        except Exception as exc:  # Redis away: the renewal will do it.
            log.warning("lease_take_failed", job_id=job_id, error=type(exc).__name__)

    def renew(self, pipe: Any) -> list[str]:
        """Queue one `PEXPIRE` per running job on `pipe` (the heartbeat's
        transaction); returns the job ids in the order of their replies."""
        jobs = sorted(self._running)
        for job_id in jobs:
            pipe.pexpire(in_progress_key_prefix + job_id, self._lease_ms)
        return jobs

    def renewed(self, jobs: list[str], replies: list[Any]) -> None:
        """Note the jobs whose key was gone: the job has just ended (arq deletes
        the key after the job function returns), or this worker lost its lease."""
        self._lost &= self._running
        for job_id, extended in zip(jobs, replies, strict=True):
            if not extended and job_id in self._running and job_id not in self._lost:
                self._lost.add(job_id)
                log.warning("lease_lost", job_id=job_id)
