"""The production recipe store: Supabase (PostgREST table `recipes` and a
Storage bucket for thumbnails), through supabase-py's async client.

* Writes use the service-role key (`settings.supabase_key`), which bypasses row
  level security, and always set `user_id` explicitly.
* Reads with an `access_token` act as that user, so the database's policies
  apply (`deploy/supabase/migrations/`); every read also filters on `user_id`.
  The user's token goes on a per-call copy of the PostgREST client that shares
  the HTTP connection pool: the shared client is never mutated, so concurrent
  requests of different users cannot see each other's token.
* One row per recipe, several per task when a post holds several (a main and
  its sauce), each at its `position`: one `upsert(rows,
  on_conflict="task_id,position", ignore_duplicates=True)` (`INSERT ... ON
  CONFLICT (task_id, position) DO NOTHING`), then the task's rows are read back
  by task id when the insert did not return them all. A retried job gets the
  first rows.
* The SDK's own retries are off; 408/425/429/5xx, timeouts and connection
  errors are retried under `RetryPolicy(deadline_s=settings.upstream_deadline_s)`
  and end as `StorageFailed(retryable=True)`. Other 4xx answers end as
  `StorageFailed(retryable=False)` with a message for the operator (never a key
  or an upstream body).

* Drafts (resimply/drafts.py) are rows of the `drafts` table
  (migrations/20261208000000_drafts.sql): the worker upserts them by id with the
  service role, and in the same call deletes expired rows and the user's beyond
  the cap; users read and delete their own through their token, where RLS hides
  other users' rows and expired ones. Every read also filters on `user_id` and
  `expires_at`, so service-role reads (the worker's retry) see the same.

postgrest-py's `APIError` drops the HTTP status, so an httpx response hook on
the client we hand to supabase-py raises `_HttpError` for every non-2xx answer
before the SDK parses it; PostgREST and Storage failures look alike to us.
"""

from __future__ import annotations

import asyncio
import builtins
import datetime
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import httpx
import msgspec
import structlog
from postgrest import AsyncRequestBuilder
from postgrest.exceptions import APIError
from postgrest.types import ReturnMethod
from storage3.utils import StorageException
from supabase import AsyncClient, AsyncClientOptions, acreate_client

from .. import errors
from ..drafts import Draft
from ..models import Recipe
from ..retry import TRANSIENT_STATUSES, GaveUp, RetryPolicy, Transient, parse_retry_after
from ..settings import Settings

log = structlog.get_logger(__name__)

T = TypeVar("T")

ClientFactory = Callable[[str, str, AsyncClientOptions], Awaitable[AsyncClient]]

TABLE = "recipes"
DRAFTS = "drafts"
# The unique key of a task's rows (migrations/20261207000000_recipes_per_post.sql).
ON_CONFLICT = "task_id,position"
MAX_LIST_LIMIT = 500
THUMBNAIL_CONTENT_TYPE = "image/jpeg"

SAVE_FAILED = "Saving the recipe failed; please try again later."
READ_FAILED = "Reading the recipes failed; please try again later."
THUMBNAIL_FAILED = "Saving the recipe's picture failed; please try again later."
DRAFT_SAVE_FAILED = "Saving the draft failed; please try again later."
DRAFT_READ_FAILED = "Reading the drafts failed; please try again later."

_CODE = re.compile(r"^[A-Za-z0-9_.\- ]{1,40}$")


class _HttpError(Exception):
    """A non-2xx answer from Supabase: status, the error code of the body (a
    PostgREST SQLSTATE / PGRST code, or Storage's `error`) and `Retry-After`."""

    def __init__(self, status: int, code: str | None, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}" + (f" ({code})" if code else ""))
        self.status = status
        self.code = code
        self.retry_after = retry_after


async def _raise_for_status(response: httpx.Response) -> None:
    """httpx response hook: turn every error answer into `_HttpError`."""
    if response.status_code < 400:
        return
    await response.aread()
    code: str | None = None
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        raw = body.get("code") or body.get("error")
        # Only short identifiers: never carry upstream text into logs or messages.
        if isinstance(raw, str | int) and _CODE.match(str(raw)):
            code = str(raw)
    raise _HttpError(
        response.status_code, code, parse_retry_after(response.headers.get("retry-after"))
    )


class SupabaseRecipeStore:
    """`RecipeStore` on Supabase; the client is created on first use."""

    name = "supabase"

    def __init__(
        self,
        settings: Settings,
        *,
        client_factory: ClientFactory | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not settings.supabase_url or not settings.supabase_key:
            raise ValueError("SupabaseRecipeStore needs SUPABASE_URL and SUPABASE_KEY")
        self.settings = settings
        self.bucket = settings.supabase_bucket
        self._url = settings.supabase_url
        self._key = settings.supabase_key
        self._factory: ClientFactory = client_factory or acreate_client
        self._retry = retry or RetryPolicy(deadline_s=settings.upstream_deadline_s)
        self._client: AsyncClient | None = None
        self._http: httpx.AsyncClient | None = None
        self._lock = asyncio.Lock()

    # --- RecipeStore ---------------------------------------------------------------

    async def save(
        self, *, user_id: str, task_id: str, recipe: Recipe, thumbnail: bytes | None = None
    ) -> Recipe:
        """Store `recipe` for `task_id` once; a repeat returns the first stored one.

        With `thumbnail` (JPEG bytes) the picture is uploaded first (see
        `save_thumbnail`) and its path stored in `thumbnail_path`; a failed upload
        is logged and the recipe is stored without it.
        """
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
        """The post's recipes for `task_id`, one row each at its `position`, in
        one insert; a repeat returns the rows the first call stored. The post's
        one picture is shared by its rows (`thumbnail_path`)."""
        if not (_is_uuid(user_id) and _is_uuid(task_id)):
            raise errors.StorageFailed(
                "The user or task id is not a UUID, so Supabase cannot store this recipe.",
                retryable=False,
            )
        thumbnail_path: str | None = None
        if thumbnail is not None:
            try:
                thumbnail_path = await self.save_thumbnail(
                    user_id=user_id, task_id=task_id, jpeg=thumbnail
                )
            except errors.StorageFailed as exc:
                log.warning("thumbnail_not_stored", task_id=task_id, reason=exc.message)
        client = await self._get_client()
        rows = [_row(user_id, task_id, r, thumbnail_path, n) for n, r in enumerate(recipes)]

        async def attempt() -> builtins.list[dict[str, Any]]:
            # One request, so one transaction: the task gets all its rows or none.
            inserted = await (
                client.table(TABLE)
                .upsert(rows, on_conflict=ON_CONFLICT, ignore_duplicates=True)
                .execute()
            )
            if len(inserted.data) == len(rows):
                return sorted((_as_row(r) for r in inserted.data), key=_position)
            # The task's rows exist already (a retried job): read them.
            found = await (
                client.table(TABLE).select("*").eq("task_id", task_id).order("position").execute()
            )
            if not found.data:  # deleted in between: try again
                raise Transient("recipe row vanished")
            return [_as_row(r) for r in found.data]

        stored = await self._call("save recipe", attempt, failed=SAVE_FAILED)
        if not all(_same_uuid(row.get("user_id"), user_id) for row in stored):
            # Task ids are unique per task, so this is a bug upstream: never
            # hand one user's recipe to another.
            raise errors.StorageFailed(
                "This task's recipe belongs to another user.", retryable=False
            )
        return [self._recipe(row, failed=SAVE_FAILED) for row in stored]

    async def get(
        self, *, user_id: str, recipe_id: str, access_token: str | None = None
    ) -> Recipe | None:
        """The user's recipe with this id; None when absent or someone else's."""
        if not (_is_uuid(user_id) and _is_uuid(recipe_id)):
            return None
        client = await self._get_client()

        async def attempt() -> builtins.list[dict[str, Any]]:
            query = (
                self._table(client, access_token)
                .select("*")
                .eq("id", recipe_id)
                .eq("user_id", user_id)
                .limit(1)
            )
            return [_as_row(r) for r in (await query.execute()).data]

        rows = await self._call(
            "get recipe", attempt, failed=READ_FAILED, as_user=access_token is not None
        )
        return self._recipe(rows[0], failed=READ_FAILED) if rows else None

    async def list(
        self, *, user_id: str, limit: int = 50, offset: int = 0, access_token: str | None = None
    ) -> builtins.list[Recipe]:
        """The user's recipes, newest first."""
        limit = max(0, min(limit, MAX_LIST_LIMIT))
        if limit == 0 or not _is_uuid(user_id):
            return []
        offset = max(0, offset)
        client = await self._get_client()

        async def attempt() -> builtins.list[dict[str, Any]]:
            query = (
                self._table(client, access_token)
                .select("*")
                .eq("user_id", user_id)
                .order("created_at", desc=True)
                .order("position")
                .order("id", desc=True)
                .limit(limit)
                .offset(offset)
            )
            return [_as_row(r) for r in (await query.execute()).data]

        rows = await self._call(
            "list recipes", attempt, failed=READ_FAILED, as_user=access_token is not None
        )
        return [self._recipe(row, failed=READ_FAILED) for row in rows]

    async def save_thumbnail(self, *, user_id: str, task_id: str, jpeg: bytes) -> str:
        """Upload the JPEG to `<user_id>/<task_id>.jpg` in the bucket, replacing an
        earlier upload of the same task; return that object path."""
        if not (_is_uuid(user_id) and _is_uuid(task_id)):
            raise errors.StorageFailed(
                "The user or task id is not a UUID, so the picture cannot be stored.",
                retryable=False,
            )
        path = f"{user_id}/{task_id}.jpg"
        client = await self._get_client()

        async def attempt() -> str:
            await client.storage.from_(self.bucket).upload(
                path,
                jpeg,
                {
                    "content-type": THUMBNAIL_CONTENT_TYPE,
                    "cache-control": "3600",
                    "upsert": "true",  # sent as `x-upsert: true`
                },
            )
            return path

        return await self._call("upload thumbnail", attempt, failed=THUMBNAIL_FAILED)

    # --- drafts (resimply/drafts.py `DraftBackend`) ----------------------------------

    async def save_draft(self, *, user_id: str, draft: Draft, keep: int) -> None:
        """Insert or replace the draft by id (a retry that failed again keeps its
        id: only the owner's retry can name it, the web tier checked it); then
        delete the expired drafts, and the user's beyond the newest `keep`."""
        if not (_is_uuid(user_id) and _is_uuid(draft.draft_id) and _is_uuid(draft.task_id)):
            raise errors.StorageFailed(
                "The user, draft or task id is not a UUID, so Supabase cannot store this draft.",
                retryable=False,
            )
        row = {
            "id": draft.draft_id,
            "user_id": user_id,
            "task_id": draft.task_id,
            "created_at": draft.created_at,
            "expires_at": draft.expires_at,
            "data": msgspec.to_builtins(draft),  # frames' JPEGs as base64
        }
        client = await self._get_client()

        async def attempt() -> None:
            await (
                client.table(DRAFTS)
                .upsert(row, on_conflict="id", returning=ReturnMethod.minimal)
                .execute()
            )
            # Expired rows go as new drafts come in (RLS hides them already).
            await (
                client.table(DRAFTS)
                .delete(returning=ReturnMethod.minimal)
                .lte("expires_at", _utc_now())
                .execute()
            )
            older = await (
                client.table(DRAFTS)
                .select("id")
                .eq("user_id", user_id)
                .order("created_at", desc=True)
                .order("seq", desc=True)
                .offset(keep)
                .limit(MAX_LIST_LIMIT)
                .execute()
            )
            ids = [str(_as_row(r)["id"]) for r in older.data]
            if ids:
                # The user's oldest drafts beyond the cap (their failures stay in the logs).
                await (
                    client.table(DRAFTS)
                    .delete(returning=ReturnMethod.minimal)
                    .eq("user_id", user_id)
                    .in_("id", ids)
                    .execute()
                )

        await self._call("save draft", attempt, failed=DRAFT_SAVE_FAILED, table=DRAFTS)

    async def get_draft(
        self, *, user_id: str, draft_id: str, access_token: str | None = None
    ) -> Draft | None:
        """The user's unexpired draft; None when absent, expired or someone else's."""
        if not (_is_uuid(user_id) and _is_uuid(draft_id)):
            return None
        rows = await self._read_drafts(
            "get draft",
            access_token,
            lambda table: table.eq("id", draft_id).eq("user_id", user_id).limit(1),
        )
        return rows[0] if rows else None

    async def list_drafts(
        self, *, user_id: str, limit: int, access_token: str | None = None
    ) -> builtins.list[Draft]:
        """The user's unexpired drafts, newest first."""
        limit = max(0, min(limit, MAX_LIST_LIMIT))
        if limit == 0 or not _is_uuid(user_id):
            return []
        return await self._read_drafts(
            "list drafts",
            access_token,
            lambda table: (
                table.eq("user_id", user_id)
                .order("created_at", desc=True)
                .order("seq", desc=True)
                .limit(limit)
            ),
        )

    async def delete_draft(
        self, *, user_id: str, draft_id: str, access_token: str | None = None
    ) -> None:
        if not (_is_uuid(user_id) and _is_uuid(draft_id)):
            return
        client = await self._get_client()

        async def attempt() -> None:
            await (
                self._table(client, access_token, DRAFTS)
                .delete(returning=ReturnMethod.minimal)
                .eq("id", draft_id)
                .eq("user_id", user_id)
                .execute()
            )

        await self._call(
            "delete draft",
            attempt,
            failed=DRAFT_SAVE_FAILED,
            as_user=access_token is not None,
            table=DRAFTS,
        )

    async def _read_drafts(
        self,
        what: str,
        access_token: str | None,
        narrow: Callable[[Any], Any],
    ) -> builtins.list[Draft]:
        client = await self._get_client()

        async def attempt() -> builtins.list[dict[str, Any]]:
            query = (
                self._table(client, access_token, DRAFTS)
                .select("data")
                .gt("expires_at", _utc_now())
            )
            return [_as_row(r) for r in (await narrow(query).execute()).data]

        rows = await self._call(
            what, attempt, failed=DRAFT_READ_FAILED, as_user=access_token is not None, table=DRAFTS
        )
        try:
            return [msgspec.convert(row["data"], Draft) for row in rows]
        except (msgspec.ValidationError, KeyError) as exc:
            log.warning("supabase_bad_draft", error=type(exc).__name__)
            raise errors.StorageFailed(
                "A stored draft could not be read; it does not match the draft format.",
                retryable=False,
            ) from None

    async def aclose(self) -> None:
        """Close the HTTP connections; a later call opens new ones."""
        async with self._lock:
            http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.aclose()

    # --- internals -------------------------------------------------------------------

    async def _get_client(self) -> AsyncClient:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                timeout = self.settings.http_timeout_s
                http = httpx.AsyncClient(
                    timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                    follow_redirects=False,
                    event_hooks={"response": [_raise_for_status]},
                )
                options = AsyncClientOptions(
                    httpx_client=http,
                    postgrest_client_retry=False,  # RetryPolicy decides
                    auto_refresh_token=False,
                    persist_session=False,
                )
                try:
                    self._client = await self._factory(self._url, self._key, options)
                except Exception:
                    await http.aclose()
                    raise errors.StorageFailed(
                        "The Supabase client could not be created; check SUPABASE_URL.",
                        retryable=False,
                    ) from None
                self._http = http
            return self._client

    def _table(
        self, client: AsyncClient, access_token: str | None, table: str = TABLE
    ) -> AsyncRequestBuilder:
        """The table as the user (RLS applies) when a token is given, else as the
        service role. `schema()` returns a copy sharing the connection pool, and
        `auth()` sets the bearer on that copy only."""
        if not access_token:
            return client.table(table)
        return client.postgrest.schema(client.options.schema).auth(access_token).from_(table)

    async def _call(
        self,
        what: str,
        attempt_fn: Callable[[], Awaitable[T]],
        *,
        failed: str,
        as_user: bool = False,
        table: str = TABLE,
    ) -> T:
        async def attempt() -> T:
            try:
                return await attempt_fn()
            except _HttpError as exc:
                if exc.status >= 500 or exc.status in TRANSIENT_STATUSES:
                    raise Transient(f"{what}: {exc}", retry_after=exc.retry_after) from None
                raise
            except httpx.TimeoutException:
                raise Transient(f"{what} timed out") from None
            except httpx.TransportError as exc:
                raise Transient(f"{what}: {type(exc).__name__}") from None

        try:
            return await self._retry.run(attempt, what=what, provider="supabase")
        except GaveUp as exc:
            log.warning("supabase_gave_up", what=what, attempts=exc.attempts, reason=str(exc))
            raise errors.StorageFailed(failed, retryable=True) from None
        except _HttpError as exc:
            log.warning("supabase_refused", what=what, status=exc.status, code=exc.code)
            raise errors.StorageFailed(
                _refusal(exc, bucket=self.bucket, as_user=as_user, table=table), retryable=False
            ) from None
        except (
            APIError,
            StorageException,
            httpx.HTTPError,
            LookupError,
            TypeError,
            ValueError,
        ) as exc:
            # A 2xx answer that is not what PostgREST / Storage send, or an odd
            # request error: retrying will not help.
            log.warning("supabase_unexpected", what=what, error=type(exc).__name__)
            raise errors.StorageFailed(
                "Supabase sent an answer the service did not understand.", retryable=False
            ) from None

    def _recipe(self, row: Mapping[str, Any], *, failed: str) -> Recipe:
        try:
            return _to_recipe(row)
        except (msgspec.ValidationError, KeyError, TypeError, ValueError) as exc:
            log.warning("supabase_bad_row", error=type(exc).__name__, row_id=str(row.get("id")))
            raise errors.StorageFailed(
                "A stored recipe could not be read; it does not match the recipe format.",
                retryable=False,
            ) from None


def _refusal(exc: _HttpError, *, bucket: str, as_user: bool, table: str = TABLE) -> str:
    """An operator's message for a 4xx answer: what to check, no upstream text."""
    code = f", code {exc.code}" if exc.code else ""
    if exc.status == 401 and as_user:
        return "Supabase did not accept your access token (HTTP 401); sign in again."
    if exc.status in (401, 403):
        return (
            f"Supabase refused the service's credentials (HTTP {exc.status}{code}); "
            "check SUPABASE_KEY (the service-role key) and SUPABASE_URL."
        )
    if exc.status == 404:
        return (
            f"Supabase has no `{table}` table or `{bucket}` storage bucket (HTTP 404{code}); "
            "apply deploy/supabase/migrations and check SUPABASE_BUCKET."
        )
    if exc.code in ("42P10", "PGRST204"):
        return (
            f"The Supabase `{table}` table is older than this service (HTTP {exc.status}{code}); "
            "apply deploy/supabase/migrations."
        )
    if exc.code == "23503":
        return "This user does not exist in Supabase Auth, so the recipe cannot be stored."
    return f"Supabase rejected the request (HTTP {exc.status}{code})."


def _utc_now() -> str:
    return (
        datetime.datetime.now(datetime.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def _same_uuid(a: object, b: str) -> bool:
    try:
        return uuid.UUID(str(a)) == uuid.UUID(b)
    except ValueError:
        return False


def _as_row(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("row is not an object")
    return value


def _position(row: Mapping[str, Any]) -> int:
    return int(row.get("position") or 0)


def _row(
    user_id: str, task_id: str, recipe: Recipe, thumbnail_path: str | None, position: int = 0
) -> dict[str, Any]:
    recipe = msgspec.structs.replace(recipe, id=str(uuid.uuid4()), created_at=None)
    data: dict[str, Any] = msgspec.to_builtins(recipe)
    return {
        "id": recipe.id,
        "user_id": user_id,
        "task_id": task_id,
        "position": position,
        "title": recipe.title,
        "language": recipe.language,
        "servings": recipe.servings,
        "prep_minutes": recipe.prep_minutes,
        "cook_minutes": recipe.cook_minutes,
        "total_minutes": recipe.total_minutes,
        "ingredients": data["ingredients"],
        "steps": data["steps"],
        "tags": data["tags"],
        "source_url": recipe.source.url if recipe.source else None,
        "source": data["source"],
        "thumbnail_path": thumbnail_path,
        "data": data,
    }


def _to_recipe(row: Mapping[str, Any]) -> Recipe:
    """The row's `data`, with `id` and `created_at` from the row's columns."""
    data = row.get("data") or {}
    if not isinstance(data, dict):
        raise TypeError("data is not an object")
    recipe = msgspec.convert({**data, "id": None, "created_at": None}, Recipe)
    return msgspec.structs.replace(
        recipe, id=str(row["id"]), created_at=_iso(str(row["created_at"]))
    )


def _iso(value: str) -> str:
    """PostgREST's timestamptz (`2026-11-25T10:00:00.123456+00:00`) in the API's
    form, as the SQLite store writes it: `2026-11-25T10:00:00.123Z`."""
    when = datetime.datetime.fromisoformat(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    when = when.astimezone(datetime.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
