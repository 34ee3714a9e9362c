"""Task records in Redis: create (deduplicated, idempotent), read, progress, finish.

A task record is a hash; its stream of progress messages sits beside it. The
transitions that must be atomic run as Lua scripts, which is what guarantees
the contract's "exactly one terminal message per task": `finish` writes the
terminal message only while the task is unfinished, and `progress` refuses to
write once it is finished (so a cancelled job learns about it at its next step).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError
from redis.typing import EncodableT

from . import metrics
from .errors import RateLimited
from .jobs import JobQueue
from .keys import Keys
from .messages import Completion, ErrorMessage, Message, Partial, Progress, encode
from .models import TOTAL_STEPS, Recipe, ScrapeRequest, TaskErrorInfo, TaskResult, TaskStatus, Usage
from .redis_lean import LeanCommands
from .replication import ReplicaWait

_TERMINAL = "'SUCCESS', 'FAILURE', 'CANCELLED'"

# KEYS: task, active, dedupe, idempotency ("" when absent), rate window counter,
#       arq job key and queue ("" when this store enqueues no jobs)
# ARGV: task_id, now, record ttl, dedupe ttl, idempotency ttl, rate limit,
#       job payload, job expiry (ms), job score (ms), record (JSON array of the
#       hash's field/value pairs: one argument rather than 22, each of which
#       redis-py would encode and frame on every submission)
# Rate check, task and job share one script: a submission is one round trip, and
# no task can exist without its job.
_CREATE = """
local submitted = redis.call('INCR', KEYS[5])
if submitted == 1 then redis.call('EXPIRE', KEYS[5], 120) end
if submitted > tonumber(ARGV[6]) then return {'', -1} end
if KEYS[4] ~= '' then
  local first = redis.call('GET', KEYS[4])
  if first then return {first, 0} end
end
-- `finish` deletes the dedupe key, so while it exists its task is unfinished.
local existing = redis.call('GET', KEYS[3])
if existing then
  if KEYS[4] ~= '' then redis.call('SET', KEYS[4], existing .. '|200', 'EX', ARGV[5]) end
  return {existing .. '|200', 0}
end
redis.call('HSET', KEYS[1], unpack(cjson.decode(ARGV[10])))
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[4])
if KEYS[4] ~= '' then redis.call('SET', KEYS[4], ARGV[1] .. '|202', 'EX', ARGV[5]) end
if KEYS[6] ~= '' then
  redis.call('SET', KEYS[6], ARGV[7], 'PX', ARGV[8])
  redis.call('ZADD', KEYS[7], ARGV[9], ARGV[1])
end
return {ARGV[1] .. '|202', 1}
"""

# KEYS: task, events   ARGV: status, step, text, now, type, message, maxlen, ttl
_PROGRESS = f"""
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
for _, s in ipairs({{{_TERMINAL}}}) do if status == s then return false end end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'step', ARGV[2], 'message', ARGV[3], 'updated_at', ARGV[4])
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], '*', 't', ARGV[5], 'd', ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[8])
return id
"""

# A `partial` message: into the stream only (the task's status and step stay as
# the last progress message set them), and only while the task runs.
# KEYS: task, events
# ARGV: type, message, maxlen, ttl
_PARTIAL = f"""
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
for _, s in ipairs({{{_TERMINAL}}}) do if status == s then return false end end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 't', ARGV[1], 'd', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return id
"""

# KEYS: task, events, active, dedupe
# ARGV: task_id, status, text, now, type, message, maxlen, ttl, result json, error json
_FINISH = f"""
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
for _, s in ipairs({{{_TERMINAL}}}) do if status == s then return false end end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], '*', 't', ARGV[5], 'd', ARGV[6])
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'message', ARGV[3], 'updated_at', ARGV[4],
           'result', ARGV[9], 'error', ARGV[10], 'terminal_event_id', id)
redis.call('EXPIRE', KEYS[1], ARGV[8])
redis.call('EXPIRE', KEYS[2], ARGV[8])
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('GET', KEYS[4]) == ARGV[1] then redis.call('DEL', KEYS[4]) end
return id
"""


def _now_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class TaskView(msgspec.Struct, kw_only=True):
    """`GET /task/{id}` (API.md)."""

    task_id: str
    status: TaskStatus
    url: str
    step: int
    total_steps: int
    message: str
    created_at: str
    updated_at: str
    result: TaskResult | None
    error: TaskErrorInfo | None


@dataclasses.dataclass(frozen=True)
class TaskRecord:
    task_id: str
    user_id: str
    url: str
    canonical_url: str
    language: str | None
    caption: str | None
    status: TaskStatus
    step: int
    message: str
    created_at: float
    updated_at: float
    result: TaskResult | None
    error: TaskErrorInfo | None
    terminal_event_id: str | None
    # A retry of a draft (`POST /drafts/{id}/retry`): the draft it reads, and the
    # extractor it asked for (None: the worker's own).
    draft_id: str | None = None
    extractor: str | None = None

    @property
    def request(self) -> ScrapeRequest:
        return ScrapeRequest(
            url=self.url, user_id=self.user_id, language=self.language, caption=self.caption
        )

    def view(self) -> TaskView:
        return TaskView(
            task_id=self.task_id,
            status=self.status,
            url=self.url,
            step=self.step,
            total_steps=TOTAL_STEPS,
            message=self.message,
            created_at=_now_iso(self.created_at),
            updated_at=_now_iso(self.updated_at),
            result=self.result,
            error=self.error,
        )


@dataclasses.dataclass(frozen=True)
class Submission:
    """The outcome of `TaskStore.create`: which task answers, and with which HTTP status."""

    task_id: str
    http_status: int  # 202 new task, 200 an unfinished duplicate
    created: bool


_result_decoder = msgspec.json.Decoder(TaskResult)
_error_decoder = msgspec.json.Decoder(TaskErrorInfo)


def _text(raw: dict[bytes, bytes], field: str) -> str | None:
    value = raw.get(field.encode())
    return value.decode() if value else None


class TaskStore:
    """Task records and their progress streams; shared by the web tier and the worker."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        *,
        ttl_s: int,
        stream_maxlen: int,
        dedupe_ttl_s: int,
        jobs: JobQueue | None = None,
        accept_replicas: int = 0,
        accept_wait_ms: int = 0,
    ) -> None:
        """`jobs`: where `create` enqueues each new task's job (the web tier's store);
        None for stores that only run tasks (the worker's). `accept_replicas` > 0:
        `create` waits up to `accept_wait_ms` for that many replicas to have a new
        task before answering, and a task's end for them to have it (replication.py;
        Redis Sentinel only)."""
        self._redis = redis
        self._keys = keys
        self._ttl_s = ttl_s
        self._stream_maxlen = stream_maxlen
        self._dedupe_ttl_s = dedupe_ttl_s
        self._jobs = jobs
        # The per-request (web) and per-message (worker) commands.
        self._commands = LeanCommands(redis)
        self._create = redis.register_script(_CREATE)
        self._progress = redis.register_script(_PROGRESS)
        self._finish = redis.register_script(_FINISH)
        self._partial = redis.register_script(_PARTIAL)
        # A new task's acceptance and a task's end wait for the replicas (Sentinel).
        self._accept_wait: ReplicaWait | None = None
        self._finish_wait: ReplicaWait | None = None
        if accept_replicas > 0:
            self._accept_wait, self._finish_wait = (
                ReplicaWait(redis, replicas=accept_replicas, timeout_ms=accept_wait_ms, write=w)
                for w in ("accept", "finish")
            )

    async def create(
        self,
        *,
        user_id: str,
        url: str,
        canonical_url: str,
        language: str | None,
        caption: str | None,
        idempotency_key: str | None,
        rate_limit_per_minute: int = 1_000_000,
        draft_id: str | None = None,
        extractor: str | None = None,
    ) -> Submission:
        """The task for this submission: a new one (202), the user's unfinished task
        for the same video (200), or the first answer for a repeated Idempotency-Key.
        Raises `RateLimited` past `rate_limit_per_minute` submissions in a fixed
        one-minute window (cheap, and good enough against floods)."""
        task_id = str(uuid.uuid4())
        now = time.time()
        window = int(now // 60)
        job = self._jobs.entry(task_id) if self._jobs else None
        fields: dict[str, str] = {
            "task_id": task_id,
            "user_id": user_id,
            "url": url,
            "canonical_url": canonical_url,
            "language": language or "",
            "caption": caption or "",
            "status": TaskStatus.PENDING.value,
            "step": "0",
            "message": "Waiting for a worker",
            "created_at": repr(now),
            "updated_at": repr(now),
        }
        # A retry of a draft runs from the draft, not from the link (pipeline/drafts.py).
        if draft_id is not None:
            fields["draft_id"] = draft_id
        if extractor is not None:
            fields["extractor"] = extractor
        record = msgspec.json.encode([item for pair in fields.items() for item in pair])
        idem_key = self._keys.idempotency(user_id, idempotency_key) if idempotency_key else ""
        keys = [
            self._keys.task(task_id),
            self._keys.active(user_id),
            self._keys.dedupe(user_id, canonical_url),
            idem_key,
            self._keys.rate(user_id, window),
            job.job_key if job else "",
            job.queue_key if job else "",
        ]
        args: list[EncodableT] = [
            task_id,
            now,
            self._ttl_s,
            self._dedupe_ttl_s,
            24 * 3600,
            rate_limit_per_minute,
            job.payload if job else b"",
            job.expires_ms if job else 0,
            job.score_ms if job else 0,
            record,
        ]
        if self._accept_wait is None:
            answer, created = await self._run_script(self._create, keys=keys, args=args)
        else:
            (answer, created), acked = await self._accept_wait.run(
                self._create, keys=keys, args=args
            )
            if created == 1:  # a new task: the only answer that wrote one
                self._accept_wait.acknowledged(acked)
        if created == -1:
            metrics.refused("submissions_per_user")
            raise RateLimited(
                f"At most {rate_limit_per_minute} videos a minute; try again shortly.",
                retry_after=60 - int(now) % 60,
            )
        answered_id, _, status = answer.decode().partition("|")
        return Submission(task_id=answered_id, http_status=int(status), created=bool(created))

    async def _run_script(
        self, script: AsyncScript, *, keys: list[str], args: list[EncodableT]
    ) -> Any:
        """`script(keys=keys, args=args)` through `LeanCommands`."""
        try:
            return await self._commands.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:  # Redis restarted or was flushed: the script loads it again
            return await script(keys=keys, args=args)

    async def get(self, task_id: str) -> TaskRecord | None:
        raw: dict[bytes, bytes] = await self._commands.execute("HGETALL", self._keys.task(task_id))
        if not raw:
            return None
        result = raw.get(b"result")
        error = raw.get(b"error")
        return TaskRecord(
            task_id=task_id,
            user_id=_text(raw, "user_id") or "",
            url=_text(raw, "url") or "",
            canonical_url=_text(raw, "canonical_url") or "",
            language=_text(raw, "language"),
            caption=_text(raw, "caption"),
            status=TaskStatus(_text(raw, "status") or TaskStatus.PENDING),
            step=int(raw.get(b"step", b"0")),
            message=_text(raw, "message") or "",
            created_at=float(raw[b"created_at"]),
            updated_at=float(raw[b"updated_at"]),
            result=_result_decoder.decode(result) if result else None,
            error=_error_decoder.decode(error) if error else None,
            terminal_event_id=_text(raw, "terminal_event_id"),
            draft_id=_text(raw, "draft_id"),
            extractor=_text(raw, "extractor"),
        )

    async def get_owned(self, task_id: str, user_id: str) -> TaskRecord | None:
        """The task, or None when it does not exist *or belongs to someone else*."""
        record = await self.get(task_id)
        return record if record is not None and record.user_id == user_id else None

    async def active(self, user_id: str, limit: int = 100) -> list[TaskRecord]:
        ids: list[bytes] = await self._redis.zrevrange(self._keys.active(user_id), 0, limit - 1)
        records = [await self.get(raw.decode()) for raw in ids]
        return [r for r in records if r is not None and not r.status.finished]

    async def progress(self, message: Progress, *, status: TaskStatus) -> str | None:
        """Publish a progress message; None when the task is already finished."""
        event_id = await self._run_script(
            self._progress,
            keys=[self._keys.task(message.task_id), self._keys.events(message.task_id)],
            args=[
                status.value,
                message.step,
                message.status,
                time.time(),
                "progress",
                encode(message),
                self._stream_maxlen,
                self._ttl_s,
            ],
        )
        return event_id.decode() if event_id else None

    async def partial(self, message: Partial) -> str | None:
        """Publish a `partial` message; None when the task is already finished."""
        event_id = await self._run_script(
            self._partial,
            keys=[self._keys.task(message.task_id), self._keys.events(message.task_id)],
            args=["partial", encode(message), self._stream_maxlen, self._ttl_s],
        )
        return event_id.decode() if event_id else None

    async def succeed(
        self,
        record: TaskRecord,
        recipe: Recipe,
        usage: Usage | None = None,
        *,
        evidence: list[str] | None = None,
        others: Sequence[Recipe] = (),
    ) -> str | None:
        """`recipe`: the post's first (stored) recipe; `others`: the post's
        further stored recipes, in order (a main's sauce)."""
        assert recipe.id is not None
        recipes = [recipe, *others]
        ids = [r.id for r in recipes if r.id is not None]
        result = TaskResult(
            recipe_id=recipe.id,
            recipe_name=recipe.title,
            recipe=recipe,
            usage=usage,
            evidence=evidence,
            recipe_ids=ids,
            recipes=recipes,
        )
        message = Completion(
            task_id=record.task_id,
            recipe_id=recipe.id,
            recipe_name=recipe.title,
            recipe=recipe,
            recipe_ids=ids,
            recipes=recipes,
        )
        return await self._end(record, TaskStatus.SUCCESS, message, message.message, result, None)

    async def fail(
        self,
        record: TaskRecord,
        *,
        code: str,
        text: str,
        retryable: bool,
        cancelled: bool = False,
        draft_id: str | None = None,
    ) -> str | None:
        """Write the terminal `error` message; None when the task had already finished.
        `draft_id`: the draft that keeps what the task read (an addition to API.md)."""
        draft: str | msgspec.UnsetType = msgspec.UNSET if draft_id is None else draft_id
        status = TaskStatus.CANCELLED if cancelled else TaskStatus.FAILURE
        message = ErrorMessage(
            task_id=record.task_id,
            error=code,
            message=text,
            retryable=retryable,
            status=status.value,
            draft_id=draft,
        )
        info = TaskErrorInfo(error=code, message=text, retryable=retryable, draft_id=draft)
        return await self._end(record, status, message, text, None, info)

    async def _end(
        self,
        record: TaskRecord,
        status: TaskStatus,
        message: Message,
        text: str,
        result: TaskResult | None,
        error: TaskErrorInfo | None,
    ) -> str | None:
        keys = [
            self._keys.task(record.task_id),
            self._keys.events(record.task_id),
            self._keys.active(record.user_id),
            self._keys.dedupe(record.user_id, record.canonical_url),
        ]
        args: list[EncodableT] = [
            record.task_id,
            status.value,
            text,
            time.time(),
            str(message.__struct_config__.tag),
            encode(message),
            self._stream_maxlen,
            self._ttl_s,
            msgspec.json.encode(result) if result else b"",
            msgspec.json.encode(error) if error else b"",
        ]
        if self._finish_wait is None:
            event_id = await self._run_script(self._finish, keys=keys, args=args)
        else:
            event_id, acked = await self._finish_wait.run(self._finish, keys=keys, args=args)
            if event_id:  # it wrote (an already finished task is left as it was)
                self._finish_wait.acknowledged(acked)
        return event_id.decode() if event_id else None
