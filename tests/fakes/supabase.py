"""A fake Supabase: the PostgREST and Storage subsets that supabase-py sends for
the recipes and drafts tables and the thumbnails bucket (EXTERNALS.md §3).

Tests configure a `SupabaseFakeState` and serve `make_supabase_app(state)` with
`tests.fakes.server.start_fake`; the base URL is then the client's SUPABASE_URL.
Everything received is recorded in `state.requests`.

Gateway (every route): the `apikey` header must be the service or the anon key
(else 401 `{"message": "Invalid API key"}` as Kong answers). The role comes from
`Authorization: Bearer`: the service key → `service_role` (bypasses "RLS"), the
anon key → `anon`, anything else is decoded as a JWT WITHOUT verifying the
signature (it is a fake): `role` and `sub` claims; an expired `exp` → 401
PGRST303, garbage → 401 PGRST301.

PostgREST (`/rest/v1/recipes`, `/rest/v1/drafts`: `SCHEMAS`), errors `{"code","details","hint","message"}`:

* `GET`/`HEAD` with `select=*|a,b`, filters `col=eq.|neq.|is.|in.(…)`,
  `order=a.desc,b.asc`, `limit`, `offset`, `Accept: application/vnd.pgrst.object+json`
  (406 PGRST116 unless exactly one row), `Prefer: count=exact`.
* `POST` (object or array) with `Prefer: return=representation|minimal`,
  `resolution=ignore-duplicates|merge-duplicates`, `?on_conflict=` and `?columns=`;
  defaults for `id`, `user_id` (the token's `sub`), `created_at` and the JSON
  columns; unique `id` and (`task_id`, `position`) (409 23505; an `on_conflict` naming no unique key: 400 42P10), not-null (400 23502), uuid
  syntax (400 22P02), unknown column (400 PGRST204), optional foreign key to
  `state.users` (409 23503).
* `PATCH` and `DELETE` with filters.
* "RLS" as in the migrations: `authenticated` sees and changes only rows whose
  `user_id` is its `sub` (others are invisible: 200 `[]`, 0 rows changed);
  inserting another user's row → 403 42501; `anon` → 401 42501. Drafts: a
  user's rows past `expires_at` are invisible too, and a user may not insert or
  update any (403 42501 permission denied); `seq` is generated (400 428C9).
* Filters `gt.|gte.|lt.|lte.` on timestamp columns (compared as times).

Storage (`/storage/v1/object/{bucket}/{path}`), errors
`{"statusCode": "409", "error": "Duplicate", "message": "…"}`:

* `POST` upload (multipart field `file`, or a raw body), 409 when the object
  exists unless `x-upsert: true`; `PUT` replaces an existing object; `GET`
  downloads. Only `service_role` may write; a user may read `<sub>/…`.

Scripted trouble: `state.fail(status, times=…)` (None = always), `latency_s`.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime
import email.parser
import email.policy
import functools
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web

SERVICE_KEY = "sb_secret_fake-service-role-key-0123456789"
ANON_KEY = "sb_publishable_fake-anon-key-0123456789"
BUCKET = "recipe-thumbnails"

Route = Literal["rest", "storage", "*"]

# public.recipes as in deploy/supabase/migrations/20261125000000_recipes.sql.
UUID_COLUMNS = frozenset({"id", "user_id", "task_id"})
INT_COLUMNS = frozenset({"servings", "prep_minutes", "cook_minutes", "total_minutes", "position"})
COLUMNS = (
    "id",
    "user_id",
    "task_id",
    "position",  # 20261207000000_recipes_per_post.sql
    "title",
    "language",
    "servings",
    "prep_minutes",
    "cook_minutes",
    "total_minutes",
    "ingredients",
    "steps",
    "tags",
    "source_url",
    "source",
    "thumbnail_path",
    "data",
    "created_at",
)
NOT_NULL = (
    "id",
    "user_id",
    "task_id",
    "position",
    "title",
    "ingredients",
    "steps",
    "tags",
    "data",
)
# Unique keys (a column or several) and their constraints' names.
UNIQUE: dict[tuple[str, ...], str] = {
    ("id",): "recipes_pkey",
    ("task_id", "position"): "recipes_task_id_position_key",
}


@dataclasses.dataclass(frozen=True)
class Schema:
    """A table as its migration makes it, and as its RLS policies let the
    `authenticated` role at it."""

    name: str
    columns: tuple[str, ...]
    not_null: tuple[str, ...]
    unique: dict[tuple[str, ...], str]
    uuid_columns: frozenset[str]
    int_columns: frozenset[str]
    timestamp_columns: frozenset[str] = frozenset({"created_at"})
    defaults: tuple[tuple[str, Any], ...] = ()
    # Columns the database fills and refuses a value for (`generated always`).
    generated: frozenset[str] = frozenset()
    # What `authenticated` may do besides reading its rows (the grants).
    user_writes: bool = True
    # Its rows are invisible to their user once this timestamp column has passed.
    expires: str | None = None


RECIPES = Schema(
    name="recipes",
    columns=COLUMNS,
    not_null=NOT_NULL,
    unique=UNIQUE,
    uuid_columns=UUID_COLUMNS,
    int_columns=INT_COLUMNS,
    defaults=(("ingredients", []), ("steps", []), ("tags", []), ("data", {}), ("position", 0)),
)
# public.drafts as in deploy/supabase/migrations/20261208000000_drafts.sql: a user
# may select (unexpired) and delete their rows, nothing else.
DRAFTS = Schema(
    name="drafts",
    columns=("id", "user_id", "task_id", "created_at", "expires_at", "seq", "data"),
    not_null=("id", "user_id", "task_id", "created_at", "expires_at", "seq", "data"),
    unique={("id",): "drafts_pkey"},
    uuid_columns=frozenset({"id", "user_id", "task_id"}),
    int_columns=frozenset({"seq"}),
    timestamp_columns=frozenset({"created_at", "expires_at"}),
    generated=frozenset({"seq"}),
    user_writes=False,
    expires="expires_at",
)
SCHEMAS = {schema.name: schema for schema in (RECIPES, DRAFTS)}
TABLES = tuple(SCHEMAS)


@dataclasses.dataclass
class Failure:
    """Answer the next `times` requests of `route` (None: every request) with
    `status`, and `body` (a default shaped for the route when None)."""

    status: int
    times: int | None = 1
    route: Route = "*"
    method: str | None = None
    retry_after: str | None = None
    body: dict[str, Any] | None = None


@dataclasses.dataclass
class Upload:
    filename: str | None
    content_type: str | None
    data: bytes
    cache_control: str | None


@dataclasses.dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    query_string: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    role: str | None = None
    sub: str | None = None
    status: int | None = None
    upload: Upload | None = None

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value[7:] if value.lower().startswith("bearer ") else None


@dataclasses.dataclass
class StoredObject:
    data: bytes
    content_type: str
    cache_control: str | None
    id: str
    owner_role: str
    updated: int = 0


@dataclasses.dataclass
class SupabaseFakeState:
    service_key: str = SERVICE_KEY
    anon_key: str = ANON_KEY
    tables: dict[str, list[dict[str, Any]]] = dataclasses.field(
        default_factory=lambda: {name: [] for name in TABLES}
    )
    buckets: set[str] = dataclasses.field(default_factory=lambda: {BUCKET})
    objects: dict[tuple[str, str], StoredObject] = dataclasses.field(default_factory=dict)
    # Known auth.users ids; None: no foreign-key check.
    users: set[str] | None = None
    latency_s: float = 0.0
    failures: list[Failure] = dataclasses.field(default_factory=list)
    requests: list[Received] = dataclasses.field(default_factory=list)
    _last_created: datetime.datetime | None = None
    _seq: int = 0

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.tables["recipes"]

    def fail(
        self,
        status: int,
        *,
        times: int | None = 1,
        route: Route = "*",
        method: str | None = None,
        retry_after: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> Failure:
        failure = Failure(status, times, route, method, retry_after, body)
        self.failures.append(failure)
        return failure

    def hits(self, route: Route = "*", method: str | None = None) -> list[Received]:
        return [
            r
            for r in self.requests
            if (route == "*" or r.path.startswith(f"/{route}/v1/"))
            and (method is None or r.method == method)
        ]

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def now(self) -> str:
        """`timestamptz` as PostgREST renders it; strictly increasing."""
        now = datetime.datetime.now(datetime.UTC)
        if self._last_created is not None and now <= self._last_created:
            now = self._last_created + datetime.timedelta(microseconds=1)
        self._last_created = now
        return now.isoformat(timespec="microseconds")


def user_token(
    sub: str,
    *,
    role: str = "authenticated",
    expires_in: int = 3600,
    secret: bytes = b"fake-project-jwt-secret",
) -> str:
    """A Supabase-shaped user access token (HS256; the fake does not check the
    signature, but the token looks real to anything that only decodes it)."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "iss": "http://127.0.0.1/auth/v1",
        "aud": "authenticated",
        "sub": sub,
        "role": role,
        "iat": now,
        "exp": now + expires_in,
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
    }
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- errors ---------------------------------------------------------------------------


class _Reply(Exception):
    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def _pg_error(
    status: int, code: str, message: str, *, details: str | None = None, hint: str | None = None
) -> _Reply:
    body = {"code": code, "details": details, "hint": hint, "message": message}
    return _Reply(web.json_response(body, status=status))


def _storage_error(status: int, error: str, message: str) -> _Reply:
    body = {"statusCode": str(status), "error": error, "message": message}
    return _Reply(web.json_response(body, status=status))


def _default_failure_body(failure: Failure, path: str) -> dict[str, Any]:
    if path.startswith("/storage/"):
        return {
            "statusCode": str(failure.status),
            "error": "Scripted",
            "message": "scripted failure",
        }
    if failure.status >= 500:
        # What the API gateway answers when PostgREST is down.
        return {"message": "An invalid response was received from the upstream server"}
    if failure.status == 429:
        return {"message": "Too Many Requests"}
    return {"code": "PGRST000", "details": None, "hint": None, "message": "scripted failure"}


RECEIVED = web.RequestKey("received", Received)


# --- the app --------------------------------------------------------------------------


def make_supabase_app(state: SupabaseFakeState) -> web.Application:
    @web.middleware
    async def gateway(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        body = await request.read()
        received = Received(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            query_string=request.query_string,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        state.requests.append(received)
        request[RECEIVED] = received
        if state.latency_s:
            await asyncio.sleep(state.latency_s)
        try:
            _authenticate(state, request, received)
            _scripted_failure(state, request)
            response = await handler(request)
        except _Reply as reply:
            response = reply.response
        received.status = response.status
        return response

    app = web.Application(middlewares=[gateway], client_max_size=64 * 1024 * 1024)
    rest = _Rest(state)
    storage = _Storage(state)
    app.router.add_route("*", "/rest/v1/{table}", rest.handle)
    app.router.add_route("*", "/storage/v1/object/{bucket}/{path:.+}", storage.handle)
    return app


def _authenticate(state: SupabaseFakeState, request: web.Request, received: Received) -> None:
    apikey = request.headers.get("apikey")
    if apikey not in (state.service_key, state.anon_key):
        raise _Reply(
            web.json_response(
                {
                    "message": "Invalid API key",
                    "hint": "Double check your Supabase `anon` or `service_role` API key.",
                },
                status=401,
            )
        )
    storage = request.path.startswith("/storage/")
    token = received.bearer or apikey
    if token == state.service_key:
        received.role = "service_role"
        return
    if token == state.anon_key:
        received.role = "anon"
        return
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        if not isinstance(claims, dict):
            raise ValueError("claims are not an object")
    except (IndexError, ValueError):
        if storage:
            raise _storage_error(400, "InvalidJWT", "Invalid Compact JWS") from None
        raise _pg_error(
            401, "PGRST301", "Expected 3 parts in JWT; got 1", hint=None, details=None
        ) from None
    exp = claims.get("exp")
    if isinstance(exp, int | float) and exp < time.time():
        if storage:
            raise _storage_error(400, "InvalidJWT", '"exp" claim timestamp check failed')
        raise _pg_error(401, "PGRST303", "JWT expired")
    received.role = str(claims.get("role") or "anon")
    received.sub = str(claims["sub"]) if claims.get("sub") else None


def _scripted_failure(state: SupabaseFakeState, request: web.Request) -> None:
    for failure in state.failures:
        if failure.times is not None and failure.times <= 0:
            continue
        if failure.route != "*" and not request.path.startswith(f"/{failure.route}/v1/"):
            continue
        if failure.method is not None and failure.method != request.method:
            continue
        if failure.times is not None:
            failure.times -= 1
        headers = {"Retry-After": failure.retry_after} if failure.retry_after else None
        body = failure.body or _default_failure_body(failure, request.path)
        raise _Reply(web.json_response(body, status=failure.status, headers=headers))


# --- PostgREST ------------------------------------------------------------------------


_RESERVED = frozenset({"select", "order", "limit", "offset", "on_conflict", "columns"})


class _Rest:
    def __init__(self, state: SupabaseFakeState) -> None:
        self.state = state

    async def handle(self, request: web.Request) -> web.StreamResponse:
        table = request.match_info["table"]
        if table not in self.state.tables:
            raise _pg_error(
                404,
                "PGRST205",
                f"Could not find the table 'public.{table}' in the schema cache",
                hint="Perhaps you meant the table 'public.recipes'",
            )
        received = request[RECEIVED]
        if received.role == "anon":
            raise _pg_error(401, "42501", f"permission denied for table {table}")
        if received.role not in ("service_role", "authenticated"):
            raise _pg_error(401, "PGRST301", f'role "{received.role}" does not exist')
        rows = self.state.tables[table]
        schema = SCHEMAS[table]
        method = request.method
        if (
            method in ("POST", "PATCH")
            and received.role != "service_role"
            and not schema.user_writes
        ):
            # No grant: PostgREST answers 403 to a signed-in role.
            raise _pg_error(403, "42501", f"permission denied for table {table}")
        if method in ("GET", "HEAD"):
            return self._select(request, rows, received, schema)
        if method == "POST":
            return self._insert(request, rows, received, schema)
        if method == "PATCH":
            return self._update(request, rows, received, schema)
        if method == "DELETE":
            return self._delete(request, rows, received, schema)
        raise _pg_error(405, "PGRST117", f"Unsupported HTTP method: {method}")

    # --- reading --------------------------------------------------------------------

    def _visible(
        self, rows: list[dict[str, Any]], received: Received, schema: Schema
    ) -> list[dict[str, Any]]:
        if received.role == "service_role":
            return list(rows)
        now = datetime.datetime.now(datetime.UTC)
        return [
            row
            for row in rows
            if row["user_id"] == received.sub
            and (schema.expires is None or _timestamp(row[schema.expires]) > now)
        ]

    def _filtered(
        self, request: web.Request, rows: list[dict[str, Any]], schema: Schema
    ) -> list[dict[str, Any]]:
        for key, value in request.query.items():
            if key in _RESERVED:
                continue
            rows = [row for row in rows if _matches(schema, key, value, row)]
        return rows

    def _select(
        self, request: web.Request, rows: list[dict[str, Any]], received: Received, schema: Schema
    ) -> web.StreamResponse:
        found = self._filtered(request, self._visible(rows, received, schema), schema)
        total = len(found)
        for part in reversed(_split(request.query.get("order", ""))):
            column, _, direction = part.partition(".")
            _check_column(schema, column)
            desc = direction.split(".")[0] == "desc"
            # Postgres: NULLs sort last ascending, first descending.
            found.sort(key=functools.partial(_order_key, column), reverse=desc)
        offset = _int_param(request, "offset", 0)
        limit = _int_param(request, "limit", None)
        found = found[offset:]
        if limit is not None:
            found = found[:limit]
        projected = _project(request, found, schema)
        headers = {
            "Content-Range": _content_range(offset, len(found), total, request),
        }
        if request.headers.get("Accept", "").startswith("application/vnd.pgrst.object+json"):
            if len(projected) != 1:
                raise _pg_error(
                    406,
                    "PGRST116",
                    "Cannot coerce the result to a single JSON object",
                    details=f"The result contains {len(projected)} rows",
                )
            return _json(projected[0], 200, headers, request)
        return _json(projected, 200, headers, request)

    # --- writing --------------------------------------------------------------------

    def _insert(
        self, request: web.Request, rows: list[dict[str, Any]], received: Received, schema: Schema
    ) -> web.StreamResponse:
        table = schema.name
        payload = _body(received)
        items = payload if isinstance(payload, list) else [payload]
        if not all(isinstance(item, dict) for item in items):
            raise _pg_error(400, "PGRST102", "All object keys must match")
        prefer = _prefer(request)
        columns = [c.strip('"') for c in _split(request.query.get("columns", ""))]
        on_conflict = tuple(_split(request.query.get("on_conflict", "id")))
        for column in on_conflict:
            _check_column(schema, column)
        if on_conflict not in schema.unique:
            raise _pg_error(
                400,
                "42P10",
                "there is no unique or exclusion constraint matching the ON CONFLICT specification",
            )
        resolution = prefer.get("resolution")
        new_rows: list[dict[str, Any]] = []
        merged: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for item in items:
            if columns:
                item = {k: v for k, v in item.items() if k in columns}
            for key in item:
                if key not in schema.columns:
                    raise _pg_error(
                        400,
                        "PGRST204",
                        f"Could not find the '{key}' column of '{table}' in the schema cache",
                    )
                if key in schema.generated:
                    raise _pg_error(
                        400, "428C9", f'cannot insert a non-DEFAULT value into column "{key}"'
                    )
            row = self._with_defaults(item, received, schema)
            _check_row(schema, row)
            if received.role == "authenticated" and row["user_id"] != received.sub:
                raise _pg_error(
                    403, "42501", f'new row violates row-level security policy for table "{table}"'
                )
            self._check_foreign_key(row, table)
            existing = [
                r for r in rows + new_rows if _key(r, on_conflict) == _key(row, on_conflict)
            ]
            if existing and resolution == "ignore-duplicates":
                continue
            if existing and resolution == "merge-duplicates":
                target = existing[0]
                if received.role == "authenticated" and target["user_id"] != received.sub:
                    raise _pg_error(
                        403,
                        "42501",
                        "new row violates row-level security policy (USING expression) "
                        f'for table "{table}"',
                    )
                # ON CONFLICT DO UPDATE SET: the columns sent (the client sends them all).
                changes = {k: row[k] for k in item if k != "created_at"}
                merged.append((target, changes))
                continue
            for key, constraint in schema.unique.items():
                for other in rows + new_rows:
                    if _key(other, key) == _key(row, key):
                        raise _pg_error(
                            409,
                            "23505",
                            f'duplicate key value violates unique constraint "{constraint}"',
                            details=f"Key ({', '.join(key)}) already exists.",
                        )
            new_rows.append(row)
        for target, changes in merged:
            target.update(changes)
        rows.extend(new_rows)
        returned = new_rows + [target for target, _ in merged]
        return self._written(request, returned, 201, prefer)

    def _update(
        self, request: web.Request, rows: list[dict[str, Any]], received: Received, schema: Schema
    ) -> web.StreamResponse:
        table = schema.name
        changes = _body(received)
        if not isinstance(changes, dict):
            raise _pg_error(400, "PGRST102", "Empty or invalid json")
        for key in changes:
            if key not in schema.columns:
                raise _pg_error(
                    400,
                    "PGRST204",
                    f"Could not find the '{key}' column of '{table}' in the schema cache",
                )
        targets = self._filtered(request, self._visible(rows, received, schema), schema)
        updated = []
        for row in targets:
            candidate = {**row, **changes}
            _check_row(schema, candidate)
            if received.role == "authenticated" and candidate["user_id"] != received.sub:
                raise _pg_error(
                    403, "42501", f'new row violates row-level security policy for table "{table}"'
                )
            for key, constraint in schema.unique.items():
                if any(c in changes for c in key) and any(
                    other is not row and _key(other, key) == _key(candidate, key) for other in rows
                ):
                    raise _pg_error(
                        409,
                        "23505",
                        f'duplicate key value violates unique constraint "{constraint}"',
                    )
            updated.append((row, candidate))
        for row, candidate in updated:
            row.update(candidate)
        return self._written(request, [row for row, _ in updated], 200, _prefer(request))

    def _delete(
        self, request: web.Request, rows: list[dict[str, Any]], received: Received, schema: Schema
    ) -> web.StreamResponse:
        targets = self._filtered(request, self._visible(rows, received, schema), schema)
        for row in targets:
            rows.remove(row)
        return self._written(request, targets, 200, _prefer(request))

    def _written(
        self,
        request: web.Request,
        rows: list[dict[str, Any]],
        status: int,
        prefer: dict[str, str],
    ) -> web.StreamResponse:
        if prefer.get("return") == "representation":
            return _json(
                _project(request, rows, SCHEMAS[request.match_info["table"]]), status, {}, request
            )
        return web.Response(status=201 if status == 201 else 204)

    def _with_defaults(
        self, item: dict[str, Any], received: Received, schema: Schema
    ) -> dict[str, Any]:
        row: dict[str, Any] = dict.fromkeys(schema.columns)
        row.update(
            id=str(uuid.uuid4()),
            user_id=received.sub if received.role == "authenticated" else None,
            created_at=self.state.now(),
        )
        row.update({column: json.loads(json.dumps(value)) for column, value in schema.defaults})
        if "seq" in schema.generated:
            row["seq"] = self.state.next_seq()
        row.update(item)
        for column in schema.uuid_columns:
            if isinstance(row[column], str):
                row[column] = row[column].lower()
        for column in schema.timestamp_columns:
            if isinstance(row[column], str):
                # As PostgreSQL renders a timestamptz (UTC session).
                row[column] = _timestamp(row[column]).isoformat()
        return row

    def _check_foreign_key(self, row: dict[str, Any], table: str = "recipes") -> None:
        if self.state.users is not None and row["user_id"] not in self.state.users:
            raise _pg_error(
                409,
                "23503",
                f'insert or update on table "{table}" violates foreign key constraint '
                f'"{table}_user_id_fkey"',
                details=f'Key (user_id)=({row["user_id"]}) is not present in table "users".',
            )


def _body(received: Received) -> Any:
    try:
        return json.loads(received.body)
    except ValueError:
        raise _pg_error(400, "PGRST102", "Empty or invalid json") from None


def _prefer(request: web.Request) -> dict[str, str]:
    prefer: dict[str, str] = {}
    for header in request.headers.getall("Prefer", []):
        for part in header.split(","):
            key, _, value = part.strip().partition("=")
            if key:
                prefer[key] = value
    return prefer


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _key(row: dict[str, Any], columns: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(row[c] for c in columns)


def _check_column(schema: Schema, column: str) -> None:
    if column not in schema.columns:
        raise _pg_error(400, "42703", f"column {schema.name}.{column} does not exist")


def _timestamp(value: object) -> datetime.datetime:
    try:
        when = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _pg_error(
            400, "22007", f'invalid input syntax for type timestamp with time zone: "{value}"'
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.astimezone(datetime.UTC)


def _check_uuid(column: str, value: object) -> None:
    try:
        uuid.UUID(str(value))
    except ValueError:
        raise _pg_error(400, "22P02", f'invalid input syntax for type uuid: "{value}"') from None


def _check_row(schema: Schema, row: dict[str, Any]) -> None:
    for column in schema.not_null:
        if row[column] is None:
            raise _pg_error(
                400,
                "23502",
                f'null value in column "{column}" of relation "{schema.name}" violates not-null '
                "constraint",
            )
    for column in schema.uuid_columns:
        _check_uuid(column, row[column])
    for column in schema.int_columns:
        value = row[column]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise _pg_error(400, "22P02", f'invalid input syntax for type integer: "{value}"')


def _matches(schema: Schema, column: str, expression: str, row: dict[str, Any]) -> bool:
    _check_column(schema, column)
    negate = expression.startswith("not.")
    if negate:
        expression = expression[4:]
    operator, _, operand = expression.partition(".")
    value = row[column]
    if operator in ("gt", "gte", "lt", "lte") and column in schema.timestamp_columns:
        if value is None:
            return False
        left, right = _timestamp(value), _timestamp(operand)
        result = {
            "gt": left > right,
            "gte": left >= right,
            "lt": left < right,
            "lte": left <= right,
        }[operator]
    elif operator in ("eq", "neq"):
        if column in schema.uuid_columns:
            _check_uuid(column, operand)
            operand = operand.lower()
        result = value is not None and _text(value) == operand
        if operator == "neq":
            result = value is not None and _text(value) != operand
    elif operator == "is":
        if operand not in ("null", "true", "false", "unknown"):
            raise _pg_error(400, "PGRST100", f"failed to parse filter (is.{operand})")
        result = _text(value) == operand if value is not None else operand in ("null", "unknown")
    elif operator == "in":
        if not (operand.startswith("(") and operand.endswith(")")):
            raise _pg_error(400, "PGRST100", f"failed to parse filter (in.{operand})")
        options = [o.strip().strip('"') for o in operand[1:-1].split(",")]
        if column in schema.uuid_columns:
            for option in options:
                _check_uuid(column, option)
            options = [o.lower() for o in options]
        result = value is not None and _text(value) in options
    else:
        raise _pg_error(400, "PGRST100", f"failed to parse filter ({operator}.{operand})")
    return not result if negate else result


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _order_key(column: str, row: dict[str, Any]) -> tuple[bool, Any]:
    return (row[column] is None, _sort_key(row[column]))


def _sort_key(value: object) -> Any:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return _text(value)


def _project(
    request: web.Request, rows: list[dict[str, Any]], schema: Schema
) -> list[dict[str, Any]]:
    select = _split(request.query.get("select", "*"))
    if not select or "*" in select:
        return [dict(row) for row in rows]
    for column in select:
        _check_column(schema, column)
    return [{column: row[column] for column in select} for row in rows]


def _int_param(request: web.Request, name: str, default: int | None) -> Any:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _pg_error(400, "PGRST100", f'"failed to parse {name} parameter ({raw})"') from None
    return max(0, value)


def _content_range(offset: int, count: int, total: int, request: web.Request) -> str:
    exact = "count=exact" in request.headers.get("Prefer", "")
    end = f"{offset}-{offset + count - 1}" if count else "*"
    return f"{end}/{total if exact else '*'}"


def _json(
    value: Any, status: int, headers: dict[str, str], request: web.Request
) -> web.StreamResponse:
    body = b"" if request.method == "HEAD" else json.dumps(value).encode()
    return web.Response(
        body=body,
        status=status,
        headers={**headers, "Content-Type": "application/json; charset=utf-8"},
    )


# --- Storage --------------------------------------------------------------------------


class _Storage:
    def __init__(self, state: SupabaseFakeState) -> None:
        self.state = state

    async def handle(self, request: web.Request) -> web.StreamResponse:
        received = request[RECEIVED]
        bucket = request.match_info["bucket"]
        path = request.match_info["path"]
        if bucket not in self.state.buckets:
            raise _storage_error(404, "Bucket not found", "Bucket not found")
        key = (bucket, path)
        if request.method == "GET":
            stored = self.state.objects.get(key)
            owner = path.split("/")[0]
            if stored is None or (received.role != "service_role" and owner != received.sub):
                raise _storage_error(404, "not_found", "Object not found")
            return web.Response(
                body=stored.data, headers={"Content-Type": stored.content_type}, status=200
            )
        if request.method not in ("POST", "PUT"):
            raise _storage_error(405, "Method Not Allowed", f"{request.method} is not allowed")
        if received.role != "service_role":
            raise _storage_error(403, "Unauthorized", "new row violates row-level security policy")
        upload = _upload(received)
        received.upload = upload
        exists = key in self.state.objects
        if request.method == "POST" and exists and received.headers.get("x-upsert") != "true":
            raise _storage_error(409, "Duplicate", "The resource already exists")
        if request.method == "PUT" and not exists:
            raise _storage_error(404, "not_found", "Object not found")
        previous = self.state.objects.get(key)
        self.state.objects[key] = StoredObject(
            data=upload.data,
            content_type=upload.content_type or "application/octet-stream",
            cache_control=upload.cache_control,
            id=previous.id if previous else str(uuid.uuid4()),
            owner_role=received.role,
            updated=previous.updated + 1 if previous else 0,
        )
        return web.json_response(
            {"Key": f"{bucket}/{path}", "Id": self.state.objects[key].id}, status=200
        )


def _upload(received: Received) -> Upload:
    content_type = received.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return Upload(
            None, content_type or None, received.body, received.headers.get("cache-control")
        )
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + received.body
    )
    file: Upload | None = None
    cache_control: str | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if name == "file":
            file = Upload(
                filename=part.get_filename(),
                content_type=part.get("content-type"),
                data=data,
                cache_control=None,
            )
        elif name == "cacheControl":
            cache_control = data.decode()
    if file is None:
        raise _storage_error(400, "InvalidRequest", "No file in the form")
    file.cache_control = cache_control
    return file
