"""Drafts: what a failed task read, kept so the user can fix it or run it again.

A task that ends in `not_a_recipe`, `extraction_failed` or `timeout` after the
media step has paid for the scrape, the download and maybe a transcription.
Its reading — caption, subtitles, transcript, on-screen text, a few frames as
small JPEGs, a partial recipe when one was read — is kept as a draft
(`pipeline/run.py`), which the user fetches (`GET /drafts`, `GET
/drafts/{id}`), saves as a recipe after editing (`POST /drafts/{id}/recipe`) or
runs again with another language or extractor (`POST /drafts/{id}/retry`): the
new task starts from the draft, not from the link, so nothing is scraped or
downloaded twice.

Where they live: Redis, one msgpack value per draft with a TTL
(`RESIMPLY_DRAFT_TTL_S`), plus a per-user sorted set (score: expiry) to list
them. A draft is working material that expires by a setting, not part of the
recipe book: a TTL expires it with no sweeper, it is written by the worker and
read by the web tier, which both hold Redis already, and the retry's worker
reads it where it reads its task. The price is that only the service sees it:
access is by owner check in code (as tasks), there is no row-level security to
add (nothing reaches PostgreSQL until the user saves it as a recipe, which goes
through the recipe store and its RLS).

Bounded: at most `MAX_FRAMES` frames of at most `MAX_FRAME_BYTES` each, texts
cut at `MAX_TEXT_CHARS`. Never held: the video (its bytes, its URL, its request
headers, which may carry cookies or signed tokens), or anything from settings.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import msgspec
from redis.asyncio import Redis

from .keys import Keys
from .models import Recipe, Source

# A handful of frames is what a person needs to see the dish and the amounts
# shown on screen. They live in Redis (noeviction: a full Redis refuses new
# tasks), so they are made small: at most FRAME_EDGE px on the long side (what a
# model's low-detail image is anyway), one that is still over MAX_FRAME_BYTES is
# left out. A draft is then ~100 KB at most (docs/api.md, "Drafts").
MAX_FRAMES = 4
FRAME_EDGE = 512
MAX_FRAME_BYTES = 48 * 1024
# The oldest drafts of a user beyond this many are dropped.
MAX_DRAFTS_PER_USER = 20
MAX_TEXT_CHARS = 20_000
# The error codes whose tasks leave a draft (when the media step had finished).
DRAFT_ERRORS = frozenset({"not_a_recipe", "extraction_failed", "timeout"})


class DraftFrame(msgspec.Struct, kw_only=True):
    timestamp: float  # seconds from the start of the video
    jpeg: bytes  # a JPEG; base64 in JSON
    width: int
    height: int


class Draft(msgspec.Struct, kw_only=True):
    """`GET /drafts/{draft_id}`: what a failed task read."""

    draft_id: str
    task_id: str  # the task that failed (the last one, for a draft of a retry)
    url: str  # the link the user sent
    error: str  # the code the task ended with
    message: str
    language: str | None  # the language that task asked for
    created_at: str
    expires_at: str
    source: Source
    source_language: str | None = None  # the video's language, when known
    caption: str | None = None
    subtitles: str | None = None
    transcript: str | None = None
    screen_text: str | None = None  # text read off the frames (OCR), when the media step did
    frames: list[DraftFrame] = msgspec.field(default_factory=list)
    partial: Recipe | None = None  # what the extractor had read when it stopped, if anything
    text_complete: bool = False  # caption + subtitles alone looked like a whole recipe


class DraftSummary(msgspec.Struct, kw_only=True):
    """One line of `GET /drafts` (no frames: fetch the draft for those)."""

    draft_id: str
    task_id: str
    url: str
    error: str
    title: str | None  # the partial recipe's title, else the caption's first line
    frames: int
    created_at: str
    expires_at: str


class DraftPage(msgspec.Struct, kw_only=True):
    """`GET /drafts`: the caller's drafts, newest first."""

    drafts: list[DraftSummary]


class _Stored(msgspec.Struct, kw_only=True):
    user_id: str
    draft: Draft


_decoder = msgspec.msgpack.Decoder(_Stored)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def cut(text: str | None) -> str | None:
    text = (text or "").strip()
    return text[:MAX_TEXT_CHARS] or None


def pick_frames(frames: list[DraftFrame]) -> list[DraftFrame]:
    """At most MAX_FRAMES JPEGs, spread over the video, the first and the last
    kept (the last is usually the finished dish)."""
    jpegs = [f for f in frames if f.jpeg.startswith(b"\xff\xd8")]
    if len(jpegs) <= MAX_FRAMES:
        return jpegs
    last = len(jpegs) - 1
    picks = sorted({round(i * last / (MAX_FRAMES - 1)) for i in range(MAX_FRAMES)})
    return [jpegs[i] for i in picks]


def summary(draft: Draft) -> DraftSummary:
    title = draft.partial.title if draft.partial and draft.partial.title else None
    if title is None and draft.caption:
        title = draft.caption.strip().splitlines()[0][:120] or None
    return DraftSummary(
        draft_id=draft.draft_id,
        task_id=draft.task_id,
        url=draft.url,
        error=draft.error,
        title=title,
        frames=len(draft.frames),
        created_at=draft.created_at,
        expires_at=draft.expires_at,
    )


class DraftStore:
    """Drafts in Redis, each readable by its owner only (`get` answers None otherwise)."""

    def __init__(self, redis: Redis, keys: Keys, *, ttl_s: int) -> None:
        self._redis = redis
        self._prefix = keys.prefix
        self.ttl_s = ttl_s

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def _key(self, draft_id: str) -> str:
        return f"{self._prefix}draft:{draft_id}"

    def _index(self, user_id: str) -> str:
        return f"{self._prefix}drafts:{user_id}"

    def stamp(self) -> tuple[str, str, str]:
        """A fresh draft id, with its creation and expiry dates."""
        now = time.time()
        return str(uuid.uuid4()), iso(now), iso(now + self.ttl_s)

    async def save(self, user_id: str, draft: Draft) -> None:
        now = time.time()
        index = self._index(user_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(
                self._key(draft.draft_id),
                msgspec.msgpack.encode(_Stored(user_id=user_id, draft=draft)),
                ex=self.ttl_s,
            )
            pipe.zadd(index, {draft.draft_id: now + self.ttl_s})
            # Expired drafts' ids leave the index as new drafts come in.
            pipe.zremrangebyscore(index, "-inf", now)
            pipe.zrange(index, 0, -MAX_DRAFTS_PER_USER - 1)  # the ones over the cap
            # The index lives as long as its longest-lived draft (a draft saved
            # under a shorter TTL must not cut the others' listing short).
            pipe.expire(index, self.ttl_s, nx=True)
            pipe.expire(index, self.ttl_s, gt=True)
            over: list[bytes] = (await pipe.execute())[3]
        if over:
            # A user's oldest drafts beyond the cap go (their failures stay in the logs).
            await self._redis.delete(*(self._key(i.decode()) for i in over))
            await self._redis.zrem(index, *over)

    async def get(self, user_id: str, draft_id: str) -> Draft | None:
        """The draft, or None when it does not exist, expired *or belongs to someone else*."""
        raw: bytes | None = await self._redis.get(self._key(draft_id))
        if raw is None:
            return None
        stored = _decoder.decode(raw)
        return stored.draft if stored.user_id == user_id else None

    async def list(self, user_id: str, limit: int = 100) -> list[Draft]:
        ids: list[bytes] = await self._redis.zrevrangebyscore(
            self._index(user_id), "+inf", time.time(), start=0, num=limit
        )
        if not ids:
            return []
        raws: list[bytes | None] = await self._redis.mget([self._key(i.decode()) for i in ids])
        drafts = [_decoder.decode(raw) for raw in raws if raw is not None]
        return [s.draft for s in drafts if s.user_id == user_id]

    async def delete(self, user_id: str, draft_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(draft_id))
            pipe.zrem(self._index(user_id), draft_id)
            await pipe.execute()
