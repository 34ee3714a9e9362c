"""The local recipe store: one SQLite file, shared by the web and worker processes.

Every call runs in a worker thread (`asyncio.to_thread`) on that thread's own
connection, kept open from call to call: closing the last connection to a WAL
database checkpoints the log into the file and deletes it, which made a save
cost three times its insert. A connection is only ever used by one thread at a
time (its own); `aclose` closes them all. WAL mode lets readers run beside the
one writer; `busy_timeout` makes a writer wait for another process's write
instead of failing at once.
"""

from __future__ import annotations

import asyncio
import builtins
import datetime
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import msgspec

from .. import errors
from ..drafts import Draft, decode_draft, encode_draft
from ..models import Recipe

BUSY_TIMEOUT_MS = 10_000
CREATE_ATTEMPTS = 20
MAX_LIST_LIMIT = 500

# `position`: a post may hold several recipes (a main and its sauce), one row
# each, all linked to the task; (task_id, position) makes a retried save find
# the rows of the first one. Version 0 files (task_id UNIQUE, no position) are
# rebuilt on first open (`_migrate`). Version 2 adds `drafts`.
SCHEMA_VERSION = 2
_COLUMNS = "id, user_id, task_id, title, language, servings, source_url, data, created_at"
_TABLE = """
CREATE TABLE IF NOT EXISTS recipes (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    title TEXT,
    language TEXT,
    servings INTEGER,
    source_url TEXT,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (task_id, position)
)
"""
_INDEX = "CREATE INDEX IF NOT EXISTS recipes_user_created ON recipes (user_id, created_at)"
# Failed imports kept (resimply/drafts.py): the draft's JSON document in `data`
# (frames as base64), `expires_at` in Unix seconds so reads compare a number.
_DRAFTS = """
CREATE TABLE IF NOT EXISTS drafts (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at REAL NOT NULL,
    data BLOB NOT NULL
)
"""
_DRAFT_INDEXES = (
    "CREATE INDEX IF NOT EXISTS drafts_user_created ON drafts (user_id, created_at)",
    "CREATE INDEX IF NOT EXISTS drafts_expires ON drafts (expires_at)",
)

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Recipe).decode


class SqliteRecipeStore:
    """`RecipeStore` on a SQLite file; the file and its directory are created on
    first use."""

    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False
        self._init_lock = threading.Lock()
        self._conns: dict[int, sqlite3.Connection] = {}  # by thread ident

    async def save(
        self, *, user_id: str, task_id: str, recipe: Recipe, thumbnail: bytes | None = None
    ) -> Recipe:
        """Store `recipe` for `task_id` once; a repeat returns the first stored one.
        The thumbnail is not kept: a local store has no URL to serve it from."""
        stored = await self.save_all(
            user_id=user_id, task_id=task_id, recipes=[recipe], thumbnail=thumbnail
        )
        return stored[0]  # a task that stored several before: its first

    async def save_all(
        self,
        *,
        user_id: str,
        task_id: str,
        recipes: Sequence[Recipe],
        thumbnail: bytes | None = None,
    ) -> builtins.list[Recipe]:
        """Store the post's recipes for `task_id` once, one row each in order; a
        repeat returns the rows the first call stored."""
        now = _now()
        stored = [
            msgspec.structs.replace(recipe, id=str(uuid.uuid4()), created_at=now)
            for recipe in recipes
        ]
        try:
            rows = await asyncio.to_thread(self._save, user_id, task_id, stored)
            if any(owner != user_id for owner, _ in rows):
                # Task ids are unique per task, so this is a bug upstream: never
                # hand one user's recipe to another.
                raise errors.StorageFailed(
                    "This task's recipe belongs to another user.", retryable=False
                )
            return [_decode(data) for _, data in rows]
        except (sqlite3.Error, OSError, msgspec.DecodeError):
            raise errors.StorageFailed() from None

    async def get(
        self, *, user_id: str, recipe_id: str, access_token: str | None = None
    ) -> Recipe | None:
        """The user's recipe with this id; None when absent or someone else's."""
        rows = await self._read(
            "SELECT data FROM recipes WHERE id = ? AND user_id = ?", (recipe_id, user_id)
        )
        return rows[0] if rows else None

    async def list(
        self, *, user_id: str, limit: int = 50, offset: int = 0, access_token: str | None = None
    ) -> builtins.list[Recipe]:
        """The user's recipes, newest first."""
        limit = max(0, min(limit, MAX_LIST_LIMIT))
        if limit == 0:
            return []
        return await self._read(
            "SELECT data FROM recipes WHERE user_id = ? "
            "ORDER BY created_at DESC, position, rowid DESC LIMIT ? OFFSET ?",
            (user_id, limit, max(0, offset)),
        )

    # --- drafts (resimply/drafts.py `DraftBackend`) -------------------------------

    async def save_draft(self, *, user_id: str, draft: Draft, keep: int) -> None:
        """Insert or replace the draft (a retry that failed again keeps its id);
        expired drafts, and the user's beyond the newest `keep`, are deleted."""
        try:
            expires = _epoch(draft.expires_at)
        except ValueError:
            raise errors.StorageFailed(
                "The draft's expiry is not a date.", retryable=False
            ) from None
        row = (draft.draft_id, user_id, draft.task_id, draft.created_at, expires)
        try:
            await asyncio.to_thread(self._save_draft, row, encode_draft(draft), keep)
        except (sqlite3.Error, OSError):
            raise errors.StorageFailed("Saving the draft failed; please try again later.") from None

    async def get_draft(
        self, *, user_id: str, draft_id: str, access_token: str | None = None
    ) -> Draft | None:
        """The user's unexpired draft with this id; None when absent, expired or
        someone else's."""
        drafts = await self._read_drafts(
            "SELECT data FROM drafts WHERE id = ? AND user_id = ? AND expires_at > ?",
            (draft_id, user_id, time.time()),
        )
        return drafts[0] if drafts else None

    async def list_drafts(
        self, *, user_id: str, limit: int, access_token: str | None = None
    ) -> builtins.list[Draft]:
        """The user's unexpired drafts, newest first."""
        return await self._read_drafts(
            "SELECT data FROM drafts WHERE user_id = ? AND expires_at > ? "
            "ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (user_id, time.time(), max(0, min(limit, MAX_LIST_LIMIT))),
        )

    async def delete_draft(
        self, *, user_id: str, draft_id: str, access_token: str | None = None
    ) -> None:
        try:
            await asyncio.to_thread(
                self._query, "DELETE FROM drafts WHERE id = ? AND user_id = ?", (draft_id, user_id)
            )
        except (sqlite3.Error, OSError):
            raise errors.StorageFailed(
                "Deleting the draft failed; please try again later."
            ) from None

    async def _read_drafts(self, sql: str, params: tuple[object, ...]) -> builtins.list[Draft]:
        try:
            rows = await asyncio.to_thread(self._query, sql, params)
            return [decode_draft(data) for (data,) in rows]
        except (sqlite3.Error, OSError, msgspec.DecodeError):
            raise errors.StorageFailed(
                "Reading the drafts failed; please try again later."
            ) from None

    async def aclose(self) -> None:
        """Close the threads' connections (a later call opens a new one)."""
        with self._init_lock:
            conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            conn.close()

    async def _read(self, sql: str, params: tuple[object, ...]) -> builtins.list[Recipe]:
        try:
            rows = await asyncio.to_thread(self._query, sql, params)
            return [_decode(data) for (data,) in rows]
        except (sqlite3.Error, OSError, msgspec.DecodeError):
            raise errors.StorageFailed(
                "Reading the recipes failed; please try again later."
            ) from None

    # --- in worker threads -------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """This thread's connection (opened, and the file created, on first use)."""
        conn = self._conns.get(threading.get_ident())
        if conn is not None:
            return conn
        with self._init_lock:
            if not self._ready:
                self._create()
                self._ready = True
            conn = self._conns[threading.get_ident()] = self._open(check_same_thread=False)
        return conn

    def _forget(self, conn: sqlite3.Connection) -> None:
        """After an error: this thread opens a fresh connection next time."""
        with self._init_lock:
            if self._conns.get(threading.get_ident()) is conn:
                del self._conns[threading.get_ident()]
        conn.close()

    def _open(self, *, check_same_thread: bool = True) -> sqlite3.Connection:
        # isolation_level=None: autocommit, each statement is its own transaction.
        # check_same_thread=False for kept connections: `aclose` closes them from
        # another thread (each is still used by its own thread only).
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=check_same_thread,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return conn

    def _create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Two processes creating the file at once: switching to WAL takes an
        # exclusive lock that SQLite's busy handler does not wait for, so the
        # loser gets "database is locked" at once. Wait and try again.
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            conn = self._open()
            try:
                # WAL is a property of the file: set once, every later connection uses it.
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                _migrate(conn)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == CREATE_ATTEMPTS:
                    raise
            finally:
                conn.close()
            time.sleep(0.01 * attempt)

    def _save(
        self, user_id: str, task_id: str, recipes: builtins.list[Recipe]
    ) -> builtins.list[tuple[str, str]]:
        """(user_id, data) of the task's rows, in order. One transaction: a
        task has all its rows or none, and a task that has rows keeps them."""
        conn = self._connect()
        select = "SELECT user_id, data FROM recipes WHERE task_id = ? ORDER BY position"
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = conn.execute(select, (task_id,)).fetchall()
                if not rows:
                    conn.executemany(
                        f"INSERT INTO recipes ({_COLUMNS}, position) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(*_values(user_id, task_id, r), n) for n, r in enumerate(recipes)],
                    )
                    rows = conn.execute(select, (task_id,)).fetchall()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error:
            self._forget(conn)
            raise
        if not rows:  # only if someone deleted the rows in between
            raise sqlite3.OperationalError("recipe row vanished")
        return [(str(owner), str(data)) for owner, data in rows]

    def _save_draft(self, row: tuple[object, ...], data: bytes, keep: int) -> None:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Expired drafts go as new ones come in (reads skip them anyway).
                conn.execute("DELETE FROM drafts WHERE expires_at <= ?", (time.time(),))
                # The same id again (a retry that failed again): the row is replaced,
                # and only ever its owner's (ids are the server's UUIDs anyway).
                conn.execute(
                    "INSERT INTO drafts (id, user_id, task_id, created_at, expires_at, data) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                    "task_id = excluded.task_id, created_at = excluded.created_at, "
                    "expires_at = excluded.expires_at, data = excluded.data "
                    "WHERE drafts.user_id = excluded.user_id",
                    (*row, data),
                )
                # The user's oldest drafts beyond the cap go (their failures stay in the logs).
                conn.execute(
                    "DELETE FROM drafts WHERE id IN (SELECT id FROM drafts WHERE user_id = ? "
                    "ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?)",
                    (row[1], keep),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error:
            self._forget(conn)
            raise

    def _query(self, sql: str, params: tuple[object, ...]) -> builtins.list[tuple[str]]:
        conn = self._connect()
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.Error:
            self._forget(conn)
            raise


def _now() -> str:
    """ISO-8601 UTC with milliseconds and a `Z`, e.g. `2026-11-25T10:00:00.123Z`."""
    now = datetime.datetime.now(datetime.UTC)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _epoch(iso: str) -> float:
    """`2026-12-08T10:00:00Z` in Unix seconds."""
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _values(user_id: str, task_id: str, recipe: Recipe) -> tuple[object, ...]:
    return (
        recipe.id,
        user_id,
        task_id,
        recipe.title,
        recipe.language,
        recipe.servings,
        recipe.source.url if recipe.source else None,
        _encode(recipe).decode(),
        recipe.created_at,
    )


def _migrate(conn: sqlite3.Connection) -> None:
    """Create the table, or bring a file of an older version up to this one.

    Version 0 had `task_id UNIQUE` (one recipe per task): SQLite cannot drop a
    constraint, so the table is rebuilt with its rows at position 0. In one
    transaction that takes the write lock first, so a second process opening
    the file at the same moment waits and then finds the work done."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            columns = [row[1] for row in conn.execute("PRAGMA table_info(recipes)")]
            if columns and "position" not in columns:
                conn.execute("ALTER TABLE recipes RENAME TO recipes_v0")
                conn.execute(_TABLE)
                conn.execute(
                    f"INSERT INTO recipes ({_COLUMNS}, position) "
                    f"SELECT {_COLUMNS}, 0 FROM recipes_v0"
                )
                conn.execute("DROP TABLE recipes_v0")
            conn.execute(_TABLE)
            conn.execute(_INDEX)
            conn.execute(_DRAFTS)
            for index in _DRAFT_INDEXES:
                conn.execute(index)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
