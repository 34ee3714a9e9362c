"""The Supabase signing keys (JWKS), fetched with aiohttp and cached.

`{SUPABASE_URL}/auth/v1/.well-known/jwks.json` lists the public keys that sign
ES256/RS256 access tokens. The cache keeps them ~10 minutes (as Supabase's own
clients do), refetches once when a token names an unknown `kid` (key rotation),
and never lets a flood of made-up `kid`s or a down endpoint turn into a flood of
requests: refetches are rate-limited and concurrent callers share one fetch.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import structlog
from jose import jwk
from jose.backends.base import Key

from .errors import Unauthorized
from .settings import Settings, SettingsError

log = structlog.get_logger(__name__)

UNREACHABLE_MESSAGE = "Could not verify the token signing key; try again."
UNKNOWN_KID_MESSAGE = "The access token was signed with an unknown key; sign in again."

# Public members of each key type; private ones ("d", "p", ...) are never used.
_PUBLIC_MEMBERS = {"EC": ("kty", "crv", "x", "y"), "RSA": ("kty", "n", "e")}
# What a token's `alg` demands of the key it names.
_KEY_TYPES = {"ES256": ("EC", "P-256"), "RS256": ("RSA", None)}
_MAX_BODY_BYTES = 256 * 1024


def jwks_url(supabase_url: str) -> str:
    return f"{supabase_url.rstrip('/')}/auth/v1/.well-known/jwks.json"


class JwksCache:
    """Public signing keys by `kid`, shared by every request of one process.

    Pass the process's `aiohttp.ClientSession` as `session`, or let the cache
    open (and `aclose()` close) its own.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        session: aiohttp.ClientSession | None = None,
        ttl_s: float = 600.0,
        min_refetch_interval_s: float = 10.0,
        failure_backoff_s: float = 5.0,
        max_stale_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not settings.supabase_url:
            raise SettingsError("SUPABASE_URL is needed to verify ES256/RS256 tokens (JWKS)")
        self.url = jwks_url(settings.supabase_url)
        self._timeout = aiohttp.ClientTimeout(total=settings.http_timeout_s)
        self._session = session
        self._owns_session = session is None
        self._ttl_s = ttl_s
        self._min_refetch_interval_s = min_refetch_interval_s
        self._failure_backoff_s = failure_backoff_s
        self._max_stale_s = max_stale_s
        self._clock = clock
        self._jwks: dict[str, Mapping[str, Any]] = {}
        self._keys: dict[tuple[str, str], Key] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch attempt, successful or not
        self._last_failed = False
        self._inflight: asyncio.Task[bool] | None = None
        self.fetch_count = 0

    async def get_key(self, kid: str, alg: str) -> Key:
        """The verification key for a token whose header names `kid` and `alg`.

        Raises `Unauthorized` when the key is unknown, does not fit `alg`, or the
        JWKS cannot be fetched (a 401 that says to try again, never a 500).
        """
        now = self._clock()
        if self._fetched_at is None or now - self._fetched_at >= self._ttl_s:
            backoff = self._failure_backoff_s if self._last_failed else 0.0
            if self._may_fetch(now, backoff):
                await self._refresh()
            if self._fetched_at is None or self._clock() - self._fetched_at >= self._max_stale_s:
                raise Unauthorized(UNREACHABLE_MESSAGE, retryable=True)
        jwk_dict = self._jwks.get(kid)
        if jwk_dict is None and self._may_fetch(self._clock(), self._min_refetch_interval_s):
            await self._refresh()
            jwk_dict = self._jwks.get(kid)
        if jwk_dict is None:
            if self._last_failed:
                raise Unauthorized(UNREACHABLE_MESSAGE, retryable=True)
            raise Unauthorized(UNKNOWN_KID_MESSAGE)
        return self._construct(kid, alg, jwk_dict)

    async def aclose(self) -> None:
        if self._inflight is not None:
            self._inflight.cancel()
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> JwksCache:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _may_fetch(self, now: float, min_interval: float) -> bool:
        if self._inflight is not None:
            return True  # joining a fetch already under way costs nothing
        return self._attempted_at is None or now - self._attempted_at >= min_interval

    async def _refresh(self) -> bool:
        if self._inflight is None:
            self._attempted_at = self._clock()
            task = asyncio.create_task(self._fetch())
            self._inflight = task
            task.add_done_callback(self._fetch_done)
        # shield: one waiter being cancelled must not cancel everybody's fetch
        return await asyncio.shield(self._inflight)

    def _fetch_done(self, task: asyncio.Task[bool]) -> None:
        if self._inflight is task:
            self._inflight = None

    async def _fetch(self) -> bool:
        self.fetch_count += 1
        try:
            data = await self._download()
            jwks = _parse_jwks(data)
        except Exception as exc:  # unreachable, HTTP error, bad JSON: all mean "no keys now"
            self._last_failed = True
            log.warning("jwks_fetch_failed", url=self.url, error=type(exc).__name__)
            return False
        self._jwks = jwks
        self._keys = {}
        self._fetched_at = self._clock()
        self._last_failed = False
        log.info("jwks_fetched", url=self.url, kids=sorted(jwks))
        return True

    async def _download(self) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.get(
            self.url, timeout=self._timeout, headers={"Accept": "application/json"}
        ) as resp:
            if resp.status != 200:
                raise ValueError(f"JWKS answered HTTP {resp.status}")
            body = await resp.content.read(_MAX_BODY_BYTES + 1)
            if len(body) > _MAX_BODY_BYTES:
                raise ValueError("JWKS document too large")
            return json.loads(body)

    def _construct(self, kid: str, alg: str, jwk_dict: Mapping[str, Any]) -> Key:
        cached = self._keys.get((kid, alg))
        if cached is not None:
            return cached
        kty, crv = _KEY_TYPES.get(alg, (None, None))
        fits = (
            kty is not None
            and jwk_dict.get("kty") == kty
            and (crv is None or jwk_dict.get("crv") == crv)
            and jwk_dict.get("alg", alg) == alg
            and jwk_dict.get("use", "sig") == "sig"
            and "verify" in jwk_dict.get("key_ops", ["verify"])
        )
        if not fits:
            raise Unauthorized(f"The access token's signing key cannot be used with {alg}.")
        public = {name: jwk_dict[name] for name in _PUBLIC_MEMBERS[str(kty)] if name in jwk_dict}
        try:
            key = jwk.construct(public, alg)
        except Exception:  # jose raises a mix of JWKError, ValueError, TypeError
            log.warning("jwks_key_unusable", kid=kid, alg=alg)
            raise Unauthorized(UNKNOWN_KID_MESSAGE) from None
        self._keys[(kid, alg)] = key
        return key


def _parse_jwks(data: Any) -> dict[str, Mapping[str, Any]]:
    """`{"keys": [jwk, ...]}` → {kid: jwk}; entries without a string `kid` are skipped."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("JWKS document has no 'keys' list")
    keys: dict[str, Mapping[str, Any]] = {}
    for entry in data["keys"]:
        if isinstance(entry, dict) and isinstance(entry.get("kid"), str) and entry["kid"]:
            keys[entry["kid"]] = entry
    return keys
