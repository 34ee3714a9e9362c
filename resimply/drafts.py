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

Where they live: in the recipe store (`RESIMPLY_STORE`), in a `drafts` table
beside `recipes`: SQLite's file (`providers/sqlite_store.py`), or Supabase's
PostgreSQL (`providers/supabase_store.py`, migration
`deploy/supabase/migrations/20261208000000_drafts.sql`), where row-level
security lets a signed-in user read and delete their own unexpired drafts and
nothing else, as for recipes. Each row says when it expires
(`RESIMPLY_DRAFT_TTL_S` after the failure): an expired row is never returned,
and expired rows are deleted as new drafts come in. Not in Redis: Redis holds
the queue under `noeviction`, and a few hundred KB of frames per failed task
there would eat the memory that lets new tasks in.

Bounded: at most `MAX_FRAMES` frames of at most `MAX_FRAME_BYTES` each, texts
cut at `MAX_TEXT_CHARS`. Never held: the video (its bytes, its URL, its request
headers, which may carry cookies or signed tokens), or anything from settings.
"""

from __future__ import annotations

import builtins
import time
import uuid
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

import msgspec

from .models import Recipe, Source

# A handful of frames is what a person needs to see the dish and the amounts
# shown on screen. They are stored with the draft (and sent as base64 in JSON),
# so they are made small: at most FRAME_EDGE px on the long side (what a
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


_draft_decoder = msgspec.json.Decoder(Draft)


def encode_draft(draft: Draft) -> bytes:
    """The stored form of a draft: its JSON document (frames as base64)."""
    return msgspec.json.encode(draft)


def decode_draft(data: bytes | str) -> Draft:
    return _draft_decoder.decode(data)


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


@runtime_checkable
class DraftBackend(Protocol):
    """What a recipe store offers to keep drafts (SQLite and Supabase do).

    Each draft is one row: its owner, id, task, creation and expiry times and
    the draft itself. Reads never return another user's row nor an expired
    one; `save_draft` replaces the row of the same id (a retry that failed
    again), drops the user's rows beyond `keep` (oldest first) and may delete
    expired rows. `access_token`: a store with row-level security reads and
    deletes as that user (as for recipes); the others filter by `user_id`."""

    async def save_draft(self, *, user_id: str, draft: Draft, keep: int) -> None: ...

    async def get_draft(
        self, *, user_id: str, draft_id: str, access_token: str | None = None
    ) -> Draft | None: ...

    async def list_drafts(
        self, *, user_id: str, limit: int, access_token: str | None = None
    ) -> builtins.list[Draft]: ...

    async def delete_draft(
        self, *, user_id: str, draft_id: str, access_token: str | None = None
    ) -> None: ...


class DraftStore:
    """Drafts in the recipe store, each readable by its owner only (`get`
    answers None otherwise); `ttl_s` sets their expiry (0: no drafts)."""

    def __init__(self, backend: DraftBackend, *, ttl_s: int) -> None:
        self._backend = backend
        self.ttl_s = ttl_s

    @classmethod
    def of(cls, store: object, *, ttl_s: int) -> DraftStore | None:
        """The drafts of a recipe store, or None when it keeps none (the CLI's)."""
        return cls(store, ttl_s=ttl_s) if isinstance(store, DraftBackend) else None

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def stamp(self) -> tuple[str, str, str]:
        """A fresh draft id, with its creation and expiry dates."""
        now = time.time()
        return str(uuid.uuid4()), iso(now), iso(now + self.ttl_s)

    async def save(self, user_id: str, draft: Draft) -> None:
        await self._backend.save_draft(user_id=user_id, draft=draft, keep=MAX_DRAFTS_PER_USER)

    async def get(
        self, user_id: str, draft_id: str, *, access_token: str | None = None
    ) -> Draft | None:
        """The draft, or None when it does not exist, expired *or belongs to someone else*."""
        return await self._backend.get_draft(
            user_id=user_id, draft_id=draft_id, access_token=access_token
        )

    async def list(
        self, user_id: str, limit: int = 100, *, access_token: str | None = None
    ) -> builtins.list[Draft]:
        """The user's unexpired drafts, newest first."""
        return await self._backend.list_drafts(
            user_id=user_id, limit=limit, access_token=access_token
        )

    async def delete(self, user_id: str, draft_id: str, *, access_token: str | None = None) -> None:
        await self._backend.delete_draft(
            user_id=user_id, draft_id=draft_id, access_token=access_token
        )
