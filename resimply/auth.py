"""Who is calling: Supabase access tokens, verified with python-jose.

Accepted (API.md "Authentication"): HS256 signed with `SUPABASE_JWT_SECRET`
(or, in local development mode, with a per-machine dev secret), and ES256/RS256
signed by a key of the project's JWKS. The algorithm allow-list comes from
`Settings.jwt_algorithms`, never from the token; each algorithm has exactly
one source of keys, so an HS256 token can never be checked against a public key.
Required claims: `sub`, `exp`, `aud == "authenticated"`, and `iss` when
`SUPABASE_URL` is set. Tokens and secrets never reach messages or logs.
A token that passed is remembered for up to a minute, so a client's next
requests skip the signature check; its `exp` is still checked on every use.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import aiohttp
import structlog
from jose import jwk, jws, jwt
from jose.backends.base import Key
from jose.exceptions import ExpiredSignatureError

from .errors import Unauthorized
from .jwks import JwksCache
from .settings import Settings, SettingsError

log = structlog.get_logger(__name__)

AUDIENCE = "authenticated"
SUPPORTED_ALGORITHMS = frozenset({"HS256", "ES256", "RS256"})
MAX_LEEWAY_S = 30
MAX_TOKEN_CHARS = 8192
DEV_TOKEN_TTL_S = 7 * 24 * 3600
# Verified tokens are remembered this long at most, and this many at most (see
# `_VerifiedTokens`): ~1 MB of Supabase tokens (~1 kB each), 8 MB at worst.
VERIFIED_TTL_S = 60.0
VERIFIED_MAX_ENTRIES = 1024

# Three base64url segments; the signature may be empty only so that an
# `alg: none` token gets the clearer "not accepted" answer below.
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_DEV_SECRET_SHAPE = re.compile(r"[0-9a-f]{64}")
_PRINTABLE_ALG = re.compile(r"[A-Za-z0-9+_-]{1,16}")

MISSING = "Send an access token: Authorization: Bearer <token>."
MALFORMED = "The access token is malformed; send the JWT you received when signing in."
BAD_SIGNATURE = "The access token's signature is invalid; sign in again."
EXPIRED = "The access token has expired; sign in again."
NOT_YET_VALID = "The access token is not valid yet; check the clock of the device."
WRONG_AUDIENCE = (
    'The access token is not meant for this service (its "aud" must be "authenticated").'
)
WRONG_ISSUER = "The access token was issued by another Supabase project (wrong issuer)."
BAD_SUBJECT = 'The access token\'s "sub" claim must be a non-empty user id.'
INVALID = "The access token is invalid; sign in again."
NO_KID = "The access token does not name its signing key (kid); sign in again."
UNKNOWN_CRITICAL = (
    'The access token requires header extensions ("crit") that this server does not '
    "support; send a standard Supabase access token."
)
# Header parameters of JWS/JWA themselves, which RFC 7515 §4.1.11 forbids in "crit".
_STANDARD_HEADERS = frozenset(
    {"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit"}
)


@dataclass(frozen=True)
class Identity:
    """The verified caller: `user_id` is the token's `sub`."""

    user_id: str
    claims: Mapping[str, Any]
    # The verified token itself, for reads made on the user's behalf (row-level
    # security); kept out of repr so it cannot reach a log line by accident.
    token: str = field(default="", repr=False)


# --- development mode ----------------------------------------------------------


def _dev_mode(settings: Settings) -> bool:
    return settings.dev and not settings.supabase_jwt_secret


def load_or_create_dev_secret(settings: Settings) -> str:
    """The local development signing secret, shared by every process of this machine.

    Kept in `settings.dev_secret_file` (mode 0600). Processes starting at the same
    time agree on one secret: each writes a private temp file and hard-links it
    into place, which never overwrites; everybody then reads back the winner.
    """
    if not _dev_mode(settings):
        raise SettingsError(
            "The development secret exists only in development mode (RESIMPLY_DEV=1 "
            "without SUPABASE_JWT_SECRET)."
        )
    path = settings.dev_secret_file
    with contextlib.suppress(FileNotFoundError):
        return _read_dev_secret(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_hex(32)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secret + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic, and never replaces an existing file
        except FileExistsError:
            pass  # another process won the race; its secret is read back below
        except OSError:
            _create_exclusive(path, secret)  # a file system without hard links
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return _read_dev_secret(path)


def _create_exclusive(path: Path, secret: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secret + "\n")


def _read_dev_secret(path: Path, *, attempts: int = 20) -> str:
    for attempt in range(attempts):
        secret = path.read_text(encoding="ascii", errors="replace").strip()
        if _DEV_SECRET_SHAPE.fullmatch(secret):
            break
        if attempt + 1 < attempts:
            time.sleep(0.05)  # a writer without hard links may still be writing
    else:
        raise SettingsError(f"{path} does not hold a development secret; delete it and retry.")
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return secret


def mint_dev_token(settings: Settings, user_id: str, *, ttl_s: int = DEV_TOKEN_TTL_S) -> str:
    """An HS256 access token for `user_id`, signed with the development secret."""
    if not settings.dev:
        raise SettingsError("Development tokens can only be minted with RESIMPLY_DEV=1.")
    if settings.supabase_jwt_secret:
        raise SettingsError(
            "Refusing to mint a development token while a real SUPABASE_JWT_SECRET is set."
        )
    if not user_id:
        raise ValueError("user_id must not be empty")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "aud": AUDIENCE,
        "role": "authenticated",
        "iat": now,
        "exp": now + ttl_s,
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    token: str = jwt.encode(claims, load_or_create_dev_secret(settings), algorithm="HS256")
    return token


# --- verification --------------------------------------------------------------


class _VerifiedTokens:
    """Identities of tokens that passed full verification recently, by token string.

    Full verification (two base64 and JSON parses, an HMAC or signature check, the
    claim checks) is the largest CPU cost of a small request, and a client sends
    many requests with one token. An entry is served for at most `ttl_s`, so a key
    withdrawn from the JWKS stops being honoured soon; the caller re-checks the
    token's lifetime on every hit (`_lifetime_problem`), so expiry is exact. Only
    successes are stored: refused tokens cannot fill it and keep their precise
    messages. Least recently used entries go first beyond `max_entries`.
    """

    def __init__(self, *, ttl_s: float, max_entries: int) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[Identity, float]] = OrderedDict()

    def get(self, token: str, now: float) -> Identity | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        identity, fresh_until = entry
        if now > fresh_until:
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return identity

    def put(self, token: str, identity: Identity, now: float) -> None:
        self._entries[token] = (identity, now + self._ttl_s)
        self._entries.move_to_end(token)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def forget(self, token: str) -> None:
        self._entries.pop(token, None)


class TokenVerifier:
    """Turns a bearer token into an `Identity`, or raises `Unauthorized`.

    Without `jwks`, one is created (sharing `session` when given) if
    `SUPABASE_URL` is set and ES256 or RS256 is allowed; `aclose()` closes it.
    `clock` (Unix seconds) is what `exp` and `nbf` are compared with.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        jwks: JwksCache | None = None,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._verified = _VerifiedTokens(ttl_s=VERIFIED_TTL_S, max_entries=VERIFIED_MAX_ENTRIES)
        self._algorithms = frozenset(settings.jwt_algorithms) & SUPPORTED_ALGORITHMS
        self._issuer = settings.jwt_issuer
        self._leeway = max(0, min(settings.jwt_leeway_s, MAX_LEEWAY_S))
        self._hs256_key: Key | None = None
        if "HS256" in self._algorithms:
            secret = settings.supabase_jwt_secret
            if not secret and settings.dev:
                secret = load_or_create_dev_secret(settings)
            if secret:
                self._hs256_key = jwk.construct(secret, "HS256")
        self._owns_jwks = False
        if jwks is None and settings.supabase_url and self._algorithms & {"ES256", "RS256"}:
            jwks = JwksCache(settings, session=session)
            self._owns_jwks = True
        self._jwks = jwks if settings.supabase_url else None

    async def aclose(self) -> None:
        if self._owns_jwks and self._jwks is not None:
            await self._jwks.aclose()

    async def verify(self, token: str | None) -> Identity:
        try:
            return await self._verify(token)
        except Unauthorized as exc:
            log.debug("token_rejected", reason=exc.message)
            raise

    async def _verify(self, token: str | None) -> Identity:
        token = (token or "").strip()
        if not token:
            raise Unauthorized(MISSING)
        now = self._clock()
        remembered = self._verified.get(token, now)
        if remembered is not None:
            if _lifetime_problem(remembered.claims, now=now, leeway=self._leeway) is None:
                return remembered
            # Expired since: full verification below refuses it with its usual message.
            self._verified.forget(token)
        identity = await self._verify_fully(token)
        self._verified.put(token, identity, now)
        return identity

    async def _verify_fully(self, token: str) -> Identity:
        if len(token) > MAX_TOKEN_CHARS or not _JWT_SHAPE.fullmatch(token):
            raise Unauthorized(MALFORMED)
        try:
            header = jwt.get_unverified_header(token)
        except Exception:
            raise Unauthorized(MALFORMED) from None
        if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
            raise Unauthorized(MALFORMED)
        if "crit" in header:
            raise Unauthorized(_critical_problem(header["crit"]))
        alg = header["alg"]
        if alg not in self._algorithms:
            raise Unauthorized(_refused_algorithm(alg))
        key = await self._key_for(alg, header)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=AUDIENCE,
                issuer=self._issuer,
                options={
                    "require_exp": True,
                    "require_aud": True,
                    "require_sub": True,
                    "require_iat": False,
                    "leeway": self._leeway,
                },
            )
        except ExpiredSignatureError:
            raise Unauthorized(EXPIRED) from None
        except Exception:
            raise Unauthorized(self._explain(token, key, alg)) from None
        # python-jose accepts e.g. `"sub": ""` or a numeric string `exp`: check again.
        problem = _claims_problem(
            claims, issuer=self._issuer, leeway=self._leeway, now=self._clock()
        )
        if problem:
            raise Unauthorized(problem)
        return Identity(user_id=claims["sub"], claims=MappingProxyType(dict(claims)), token=token)

    async def _key_for(self, alg: str, header: Mapping[str, Any]) -> Key:
        if alg == "HS256":
            if self._hs256_key is None:
                raise Unauthorized(_refused_algorithm(alg))
            return self._hs256_key
        if self._jwks is None:
            raise Unauthorized(_refused_algorithm(alg))
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise Unauthorized(NO_KID)
        return await self._jwks.get_key(kid, alg)

    def _explain(self, token: str, key: Key, alg: str) -> str:
        """Why python-jose refused a token, without relying on its message texts."""
        try:
            payload = jws.verify(token, key, [alg])
        except Exception:
            return BAD_SIGNATURE
        try:
            claims = json.loads(payload)
        except ValueError:
            return MALFORMED
        if not isinstance(claims, dict):
            return MALFORMED
        problem = _claims_problem(
            claims, issuer=self._issuer, leeway=self._leeway, now=self._clock()
        )
        return problem or INVALID


def _critical_problem(crit: object) -> str:
    """Why a token with a `crit` header is refused (RFC 7515 §4.1.11).

    python-jose ignores `crit`, so it is checked here. This server understands no
    JWS extension, so every well-formed `crit` names one it must reject; a `crit`
    that is not a non-empty list of distinct non-standard names is malformed.
    """
    if (
        not isinstance(crit, list)
        or not crit
        or not all(isinstance(name, str) and name for name in crit)
        or len(set(crit)) != len(crit)
        or _STANDARD_HEADERS.intersection(crit)
    ):
        return MALFORMED
    return UNKNOWN_CRITICAL


def _refused_algorithm(alg: str) -> str:
    if alg.lower() == "none":
        return "Unsigned access tokens (alg none) are not accepted."
    if _PRINTABLE_ALG.fullmatch(alg):
        return f"Access tokens signed with {alg} are not accepted by this server."
    return "The access token's signing algorithm is not accepted by this server."


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _claims_problem(
    claims: Mapping[str, Any], *, issuer: str | None, leeway: int, now: float
) -> str | None:
    """The first thing wrong with signature-checked claims, as a client-facing message."""
    for name in ("sub", "exp", "aud"):
        if name not in claims:
            return f'The access token lacks the required "{name}" claim.'
    problem = _lifetime_problem(claims, now=now, leeway=leeway)
    if problem:
        return problem
    aud = claims["aud"]
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if AUDIENCE not in audiences:
        return WRONG_AUDIENCE
    if issuer is not None and claims.get("iss") != issuer:
        return WRONG_ISSUER
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub.strip():
        return BAD_SUBJECT
    return None


def _lifetime_problem(claims: Mapping[str, Any], *, now: float, leeway: int) -> str | None:
    """`exp` and `nbf` against `now`: checked at full verification and again each
    time a remembered token is used (`_VerifiedTokens`)."""
    exp, nbf = claims["exp"], claims.get("nbf")
    if not _is_number(exp) or (nbf is not None and not _is_number(nbf)):
        return INVALID
    if exp < now - leeway:
        return EXPIRED
    if nbf is not None and nbf > now + leeway:
        return NOT_YET_VALID
    return None


# --- transport -----------------------------------------------------------------


def bearer_token(
    headers: Mapping[str, str], query: Mapping[str, str], *, allow_query: bool
) -> str | None:
    """The token of `Authorization: Bearer <token>`, else `?token=` when `allow_query`.

    `allow_query` is for SSE and WebSocket requests, where browsers cannot set
    headers. `headers` may be a case-insensitive mapping (Starlette) or a dict.
    """
    value = headers.get("authorization")
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    if value is not None:
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    if allow_query:
        token = (query.get("token") or "").strip()
        if token:
            return token
    return None
