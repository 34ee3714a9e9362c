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
from pathlib import Path

import msgspec

from .. import errors
from ..models import Recipe

BUSY_TIMEOUT_MS = 10_000
CREATE_ATTEMPTS = 20
MAX_LIST_LIMIT = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS recipes (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    task_id TEXT UNIQUE NOT NULL,
    title TEXT,
    language TEXT,
    servings INTEGER,
    source_url TEXT,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS recipes_user_created ON recipes (user_id, created_at);
"""

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
        stored = msgspec.structs.replace(recipe, id=str(uuid.uuid4()), created_at=_now())
        try:
            owner, data = await asyncio.to_thread(self._save, user_id, task_id, stored)
            if owner != user_id:
                # Task ids are unique per task, so this is a bug upstream: never
                # hand one user's recipe to another.
                raise errors.StorageFailed(
                    "This task's recipe belongs to another user.", retryable=False
                )
            return _decode(data)
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
            "ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
            (user_id, limit, max(0, offset)),
        )

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
                conn.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == CREATE_ATTEMPTS:
                    raise
            finally:
                conn.close()
            time.sleep(0.01 * attempt)

    def _save(self, user_id: str, task_id: str, recipe: Recipe) -> tuple[str, str]:
        conn = self._connect()
        try:
            conn.execute(
                "INSERT INTO recipes (id, user_id, task_id, title, language, servings, "
                "source_url, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (task_id) DO NOTHING",
                (
                    recipe.id,
                    user_id,
                    task_id,
                    recipe.title,
                    recipe.language,
                    recipe.servings,
                    recipe.source.url if recipe.source else None,
                    _encode(recipe).decode(),
                    recipe.created_at,
                ),
            )
            row = conn.execute(
                "SELECT user_id, data FROM recipes WHERE task_id = ?", (task_id,)
            ).fetchone()
        except sqlite3.Error:
            self._forget(conn)
            raise
        if row is None:  # only if someone deleted the row in between
            raise sqlite3.OperationalError("recipe row vanished")
        return str(row[0]), str(row[1])

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
