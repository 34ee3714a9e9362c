"""Every Redis key ResiMply uses, in one place (as arq's `constants.py`).

Keys of one task share the hash tag `{<task_id>}` so a clustered Redis keeps
them on one shard. Every key has a TTL or a bound (see `tasks.py`).
"""

from __future__ import annotations

import dataclasses
import hashlib


def _digest(value: str) -> str:
    # Idempotency keys and URLs are user input: hash them so key length and
    # characters are bounded and nothing sensitive sits in a key name.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


@dataclasses.dataclass(frozen=True)
class Keys:
    prefix: str = "resimply:"

    def task(self, task_id: str) -> str:
        """Hash: the task record."""
        return f"{self.prefix}task:{{{task_id}}}"

    def events(self, task_id: str) -> str:
        """Stream: the task's progress messages, entry id = event_id."""
        return f"{self.prefix}events:{{{task_id}}}"

    def active(self, user_id: str) -> str:
        """Sorted set: the user's unfinished task ids, scored by creation time."""
        return f"{self.prefix}active:{user_id}"

    def dedupe(self, user_id: str, canonical_url: str) -> str:
        """String: the unfinished task of this user for this video."""
        return f"{self.prefix}dedupe:{user_id}:{_digest(canonical_url)}"

    def idempotency(self, user_id: str, key: str) -> str:
        """String: `<task_id>|<http status>` of the first response for an Idempotency-Key."""
        return f"{self.prefix}idem:{user_id}:{_digest(key)}"

    def rate(self, user_id: str, window: int) -> str:
        """Counter: the user's task submissions in one fixed one-minute window."""
        return f"{self.prefix}rate:{user_id}:{window}"

    def extraction(self, version: str, platform: str, video_id: str, language: str | None) -> str:
        """String (msgpack, with TTL): a recipe read from one platform video in one
        requested language by one pipeline version (`pipeline.cache`)."""
        ident = _digest(f"{platform}\0{video_id}\0{(language or '').lower()}")
        return f"{self.prefix}xcache:{_digest(version)[:12]}:{ident}"

    @property
    def workers(self) -> str:
        """Sorted set: worker id → last heartbeat (Unix seconds)."""
        return f"{self.prefix}workers"

    @property
    def queue(self) -> str:
        """The arq queue name."""
        return f"{self.prefix}queue"

    def hub_wakeup(self, hub_id: str) -> str:
        """Stream: wakes one web process's stream reader when it starts watching a new task."""
        return f"{self.prefix}hub:{hub_id}"
