"""Access tokens: what a client sending each kind of token sees (API.md "Authentication")."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwt
from starlette.datastructures import Headers

from resimply import auth
from resimply.auth import (
    Identity,
    TokenVerifier,
    bearer_token,
    load_or_create_dev_secret,
    mint_dev_token,
)
from resimply.errors import Unauthorized
from resimply.jwks import UNKNOWN_KID_MESSAGE, UNREACHABLE_MESSAGE, JwksCache
from resimply.settings import Settings, SettingsError

SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
USER = "5f0c8a52-9d0e-4c1a-a7a4-1d2b3c4d5e6f"
PROJECT = "https://abcdefghijklmnop.supabase.co"
ISSUER = f"{PROJECT}/auth/v1"
DROP = object()  # claim value meaning "leave this claim out"


# --- helpers -------------------------------------------------------------------


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_json(obj: object) -> str:
    return b64u(json.dumps(obj).encode())


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": USER,
        "aud": "authenticated",
        "role": "authenticated",
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not DROP}


def hs256(payload: dict[str, Any], secret: str = SECRET) -> str:
    token: str = jwt.encode(payload, secret, algorithm="HS256")
    return token


def handmade(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    """A token built by hand, HMAC-SHA256-signed with `key` (no signature when None)."""
    signing_input = f"{b64u_json(header)}.{b64u_json(payload)}"
    if key is None:
        return signing_input + "."
    digest = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64u(digest)}"


def _int_b64u(value: int) -> str:
    return b64u(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private_pem: str
    public_pem: bytes
    jwk: dict[str, Any]

    def sign(self, payload: dict[str, Any], *, kid: object = DROP) -> str:
        headers = {} if kid is None else {"kid": self.kid if kid is DROP else kid}
        token: str = jwt.encode(payload, self.private_pem, algorithm=self.alg, headers=headers)
        return token


def make_ec_key(kid: str) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64u(numbers.x.to_bytes(32, "big")),
        "y": b64u(numbers.y.to_bytes(32, "big")),
        "kid": kid,
        "alg": "ES256",
        "use": "sig",
        "key_ops": ["verify"],
    }
    return _signing_key(kid, "ES256", private, jwk)


def make_rsa_key(kid: str) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "n": _int_b64u(numbers.n),
        "e": _int_b64u(numbers.e),
        "kid": kid,
        "alg": "RS256",
        "use": "sig",
    }
    return _signing_key(kid, "RS256", private, jwk)


def _signing_key(
    kid: str, alg: str, private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, jwk: dict[str, Any]
) -> SigningKey:
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SigningKey(kid, alg, private_pem, public_pem, jwk)


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return make_ec_key("ec-key-1")


@pytest.fixture(scope="module")
def ec_key_2() -> SigningKey:
    return make_ec_key("ec-key-2")


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return make_rsa_key("rsa-key-1")


@dataclass
class JwksServer:
    """A local stand-in for `{SUPABASE_URL}/auth/v1/.well-known/jwks.json`."""

    url: str = ""
    keys: list[dict[str, Any]] = field(default_factory=list)
    hits: int = 0
    status: int = 200
    body: bytes | None = None
    delay_s: float = 0.0


@pytest.fixture
async def jwks_server() -> AsyncIterator[JwksServer]:
    server = JwksServer()

    async def handler(request: web.Request) -> web.Response:
        server.hits += 1
        if server.delay_s:
            await asyncio.sleep(server.delay_s)
        if server.body is not None:
            return web.Response(body=server.body, status=server.status)
        return web.json_response({"keys": server.keys}, status=server.status)

    app = web.Application()
    app.router.add_get("/auth/v1/.well-known/jwks.json", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.url = f"http://{host}:{port}"
    yield server
    await runner.cleanup()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fresh_token(key: SigningKey, jwks_server: JwksServer) -> str:
    """A token never verified before: a verifier remembers the tokens it accepted
    (without consulting the JWKS again), and JWKS tests must reach the JWKS."""
    return key.sign(claims(iss=f"{jwks_server.url}/auth/v1", jti=uuid.uuid4().hex))


@pytest.fixture
async def make_verifier() -> AsyncIterator[Callable[..., tuple[TokenVerifier, JwksCache]]]:
    caches: list[JwksCache] = []

    def make(settings: Settings, **cache_options: Any) -> tuple[TokenVerifier, JwksCache]:
        cache = JwksCache(settings, **cache_options)
        caches.append(cache)
        return TokenVerifier(settings, jwks=cache), cache

    yield make
    for cache in caches:
        await cache.aclose()


async def refused(verifier: TokenVerifier, token: str | None) -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        await verifier.verify(token)
    exc = info.value
    assert exc.code == "unauthorized"
    assert exc.http_status == 401
    if token:
        assert token not in exc.message
    return exc


def project_verifier(**settings: Any) -> TokenVerifier:
    return TokenVerifier(Settings(supabase_jwt_secret=SECRET, **settings))


# --- missing and malformed tokens ------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "   "])
async def test_missing_token_is_refused(token: str | None) -> None:
    exc = await refused(project_verifier(), token)
    assert exc.message == auth.MISSING


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "only.two",
        "a.b.c.d",
        "not base64!.e30.sig",
        "abc.def.ghi",  # three parts, but no JSON inside
        f"{b64u(b'[1, 2]')}.{b64u_json({'sub': USER})}.c2ln",  # header is not an object
        f"{b64u_json({'typ': 'JWT'})}.{b64u_json({'sub': USER})}.c2ln",  # no alg at all
        "x" * 9000,
    ],
)
async def test_garbage_is_refused_as_malformed(token: str) -> None:
    exc = await refused(project_verifier(), token)
    assert exc.message == auth.MALFORMED


async def test_unprintable_algorithm_name_is_not_echoed() -> None:
    token = handmade({"alg": "<script>alert(1)</script>"}, claims(), SECRET.encode())
    exc = await refused(project_verifier(), token)
    assert exc.message == "The access token's signing algorithm is not accepted by this server."


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
@pytest.mark.parametrize("with_signature", [False, True])
async def test_unsigned_alg_none_is_refused(alg: str, with_signature: bool) -> None:
    token = handmade({"alg": alg, "typ": "JWT"}, claims(), None)
    if with_signature:
        token += "c2ln"
    exc = await refused(project_verifier(), token)
    assert exc.message == "Unsigned access tokens (alg none) are not accepted."


async def test_hs512_is_refused_even_with_the_right_secret() -> None:
    token: str = jwt.encode(claims(), SECRET, algorithm="HS512")
    exc = await refused(project_verifier(), token)
    assert exc.message == "Access tokens signed with HS512 are not accepted by this server."


async def test_algorithm_missing_from_the_configured_allow_list_is_refused() -> None:
    verifier = project_verifier(jwt_algorithms=("ES256", "RS256"))
    exc = await refused(verifier, hs256(claims()))
    assert exc.message == "Access tokens signed with HS256 are not accepted by this server."


async def test_hs256_without_any_secret_is_refused() -> None:
    verifier = TokenVerifier(Settings(supabase_url=PROJECT))
    exc = await refused(verifier, hs256(claims(iss=ISSUER)))
    assert exc.message == "Access tokens signed with HS256 are not accepted by this server."


# --- signatures ----------------------------------------------------------------


async def test_wrong_secret_is_refused() -> None:
    exc = await refused(project_verifier(), hs256(claims(), "another-projects-secret-0123456789"))
    assert exc.message == auth.BAD_SIGNATURE


async def test_tampered_payload_is_refused() -> None:
    header, _, signature = hs256(claims()).split(".")
    forged = f"{header}.{b64u_json(claims(sub='someone-else'))}.{signature}"
    exc = await refused(project_verifier(), forged)
    assert exc.message == auth.BAD_SIGNATURE


async def test_hs256_signed_with_the_jwks_public_key_is_refused(
    jwks_server: JwksServer, ec_key: SigningKey, make_verifier: Any
) -> None:
    jwks_server.keys = [ec_key.jwk]
    forged = handmade(
        {"alg": "HS256", "typ": "JWT", "kid": ec_key.kid},
        claims(iss=f"{jwks_server.url}/auth/v1"),
        ec_key.public_pem,
    )
    # With a project secret configured, HS256 is checked against that secret only.
    with_secret, _ = make_verifier(
        Settings(supabase_url=jwks_server.url, supabase_jwt_secret=SECRET)
    )
    assert (await refused(with_secret, forged)).message == auth.BAD_SIGNATURE
    # Without one, HS256 is not accepted at all.
    without_secret, _ = make_verifier(Settings(supabase_url=jwks_server.url))
    exc = await refused(without_secret, forged)
    assert exc.message == "Access tokens signed with HS256 are not accepted by this server."
    assert jwks_server.hits == 0  # the JWKS was never consulted for an HS256 token


# --- claims --------------------------------------------------------------------


async def test_expired_token_is_refused() -> None:
    exc = await refused(project_verifier(), hs256(claims(exp=int(time.time()) - 120)))
    assert exc.message == auth.EXPIRED


async def test_leeway_of_thirty_seconds_is_honoured() -> None:
    now = int(time.time())
    identity = await project_verifier().verify(hs256(claims(exp=now - 10)))
    assert identity.user_id == USER
    assert (await refused(project_verifier(), hs256(claims(exp=now - 45)))).message == auth.EXPIRED


async def test_leeway_zero_is_strict_and_large_leeway_is_capped_at_thirty_seconds() -> None:
    now = int(time.time())
    strict = project_verifier(jwt_leeway_s=0)
    assert (await refused(strict, hs256(claims(exp=now - 5)))).message == auth.EXPIRED
    lax = project_verifier(jwt_leeway_s=3600)
    assert (await refused(lax, hs256(claims(exp=now - 120)))).message == auth.EXPIRED
    assert (await lax.verify(hs256(claims(exp=now - 20)))).user_id == USER


async def test_not_before_in_the_future_is_refused() -> None:
    now = int(time.time())
    exc = await refused(project_verifier(), hs256(claims(nbf=now + 300)))
    assert exc.message == auth.NOT_YET_VALID
    # within the leeway (a client clock a few seconds ahead) it is fine
    assert (await project_verifier().verify(hs256(claims(nbf=now + 10)))).user_id == USER


@pytest.mark.parametrize("claim", ["exp", "aud", "sub"])
async def test_missing_required_claim_is_refused(claim: str) -> None:
    exc = await refused(project_verifier(), hs256(claims(**{claim: DROP})))
    assert exc.message == f'The access token lacks the required "{claim}" claim.'


@pytest.mark.parametrize("aud", ["anon", "service_role", ["anon", "other"], ""])
async def test_wrong_audience_is_refused(aud: object) -> None:
    exc = await refused(project_verifier(), hs256(claims(aud=aud)))
    assert exc.message == auth.WRONG_AUDIENCE


async def test_audience_list_containing_authenticated_is_accepted() -> None:
    identity = await project_verifier().verify(hs256(claims(aud=["other", "authenticated"])))
    assert identity.user_id == USER


@pytest.mark.parametrize("iss", ["https://evil.supabase.co/auth/v1", PROJECT, DROP])
async def test_wrong_or_missing_issuer_is_refused_when_supabase_url_is_set(iss: object) -> None:
    verifier = project_verifier(supabase_url=PROJECT)
    exc = await refused(verifier, hs256(claims(iss=iss)))
    assert exc.message == auth.WRONG_ISSUER


async def test_issuer_matches_even_with_a_trailing_slash_in_supabase_url() -> None:
    verifier = project_verifier(supabase_url=PROJECT + "/")
    assert (await verifier.verify(hs256(claims(iss=ISSUER)))).user_id == USER


async def test_issuer_is_not_checked_without_supabase_url() -> None:
    identity = await project_verifier().verify(hs256(claims(iss="supabase")))
    assert identity.claims["iss"] == "supabase"


@pytest.mark.parametrize("sub", ["", "   ", 123, None, ["a"]])
async def test_subject_must_be_a_non_empty_string(sub: object) -> None:
    exc = await refused(project_verifier(), hs256(claims(sub=sub)))
    assert exc.message == auth.BAD_SUBJECT


@pytest.mark.parametrize(
    ("exp", "message"),
    [("9999999999", auth.INVALID), ([1], auth.INVALID), (True, auth.EXPIRED)],
)
async def test_non_numeric_expiry_is_refused(exp: object, message: str) -> None:
    exc = await refused(project_verifier(), hs256(claims(exp=exp)))
    assert exc.message == message


# --- accepted tokens -----------------------------------------------------------


async def test_hs256_with_the_project_secret_is_accepted() -> None:
    verifier = project_verifier(supabase_url=PROJECT)
    token = hs256(claims(iss=ISSUER, email="cook@example.com"))
    identity = await verifier.verify(token)
    assert isinstance(identity, Identity)
    assert identity.user_id == USER
    assert identity.claims["email"] == "cook@example.com"
    assert identity.claims["iss"] == ISSUER
    with pytest.raises(TypeError):
        identity.claims["sub"] = "someone-else"  # type: ignore[index]


async def test_bearer_value_with_surrounding_spaces_is_accepted() -> None:
    identity = await project_verifier().verify(f"  {hs256(claims())} ")
    assert identity.user_id == USER


async def test_es256_from_the_jwks_is_accepted(
    jwks_server: JwksServer, ec_key: SigningKey, rsa_key: SigningKey, make_verifier: Any
) -> None:
    jwks_server.keys = [rsa_key.jwk, ec_key.jwk]
    verifier, cache = make_verifier(Settings(supabase_url=jwks_server.url))
    identity = await verifier.verify(ec_key.sign(claims(iss=f"{jwks_server.url}/auth/v1")))
    assert identity.user_id == USER
    assert identity.claims["aud"] == "authenticated"
    # a second token is served from the cache
    await verifier.verify(ec_key.sign(claims(iss=f"{jwks_server.url}/auth/v1", sub="u2")))
    assert jwks_server.hits == 1
    assert cache.fetch_count == 1


async def test_rs256_from_the_jwks_is_accepted(
    jwks_server: JwksServer, ec_key: SigningKey, rsa_key: SigningKey, make_verifier: Any
) -> None:
    jwks_server.keys = [ec_key.jwk, rsa_key.jwk]
    verifier, _ = make_verifier(Settings(supabase_url=jwks_server.url))
    identity = await verifier.verify(rsa_key.sign(claims(iss=f"{jwks_server.url}/auth/v1")))
    assert identity.user_id == USER
    assert jwks_server.hits == 1


async def test_jwks_token_with_a_wrong_issuer_is_refused(
    jwks_server: JwksServer, ec_key: SigningKey, make_verifier: Any
) -> None:
    jwks_server.keys = [ec_key.jwk]
    verifier, _ = make_verifier(Settings(supabase_url=jwks_server.url))
    exc = await refused(verifier, ec_key.sign(claims(iss=ISSUER)))
    assert exc.message == auth.WRONG_ISSUER


async def test_es256_signed_by_another_key_under_a_known_kid_is_refused(
    jwks_server: JwksServer, ec_key: SigningKey, ec_key_2: SigningKey, make_verifier: Any
) -> None:
    jwks_server.keys = [ec_key.jwk]
    verifier, _ = make_verifier(Settings(supabase_url=jwks_server.url))
    forged = ec_key_2.sign(claims(iss=f"{jwks_server.url}/auth/v1"), kid=ec_key.kid)
    assert (await refused(verifier, forged)).message == auth.BAD_SIGNATURE


async def test_token_alg_must_fit_the_key_type_of_its_kid(
    jwks_server: JwksServer, ec_key: SigningKey, rsa_key: SigningKey, make_verifier: Any
) -> None:
    jwks_server.keys = [ec_key.jwk, rsa_key.jwk]
    verifier, _ = make_verifier(Settings(supabase_url=jwks_server.url))
    # an RS256 token that names the EC key
    token = rsa_key.sign(claims(iss=f"{jwks_server.url}/auth/v1"), kid=ec_key.kid)
    exc = await refused(verifier, token)
    assert exc.message == "The access token's signing key cannot be used with RS256."


async def test_jwks_token_without_kid_is_refused(
    jwks_server: JwksServer, ec_key: SigningKey, make_verifier: Any
) -> None:
    jwks_server.keys = [ec_key.jwk]
    verifier, _ = make_verifier(Settings(supabase_url=jwks_server.url))
    exc = await refused(verifier, ec_key.sign(claims(), kid=None))
    assert exc.message == auth.NO_KID
    assert jwks_server.hits == 0


async def test_es256_without_supabase_url_is_refused(ec_key: SigningKey) -> None:
    exc = await refused(project_verifier(), ec_key.sign(claims()))
    assert exc.message == "Access tokens signed with ES256 are not accepted by this server."


# --- critical header extensions (RFC 7515 §4.1.11) ------------------------------------


# A signed, otherwise valid token: only its `crit` can be the reason for a refusal.
@pytest.mark.parametrize(
    ("crit", "message"),
    [
        (["http://example.com/extension"], auth.UNKNOWN_CRITICAL),
        (["b64"], auth.UNKNOWN_CRITICAL),  # RFC 7797 unencoded payloads: not supported
        (["exp-ext", "http://example.com/other"], auth.UNKNOWN_CRITICAL),
        ([], auth.MALFORMED),
        ("http://example.com/extension", auth.MALFORMED),
        ([1], auth.MALFORMED),
        ([""], auth.MALFORMED),
        (["ext", "ext"], auth.MALFORMED),
        (["alg"], auth.MALFORMED),  # a standard header name may not be listed
        (["kid"], auth.MALFORMED),
        (None, auth.MALFORMED),
        ({"ext": True}, auth.MALFORMED),
    ],
)
async def test_hs256_token_with_a_crit_header_is_refused(crit: object, message: str) -> None:
    verifier = project_verifier()
    extensions = {name: True for name in crit if isinstance(name, str)} if crit else {}
    token = hs256_with_headers(claims(), {"crit": crit, **extensions})
    assert (await refused(verifier, token)).message == message
    # the same token without `crit` passes: the header alone made the difference
    assert (await verifier.verify(hs256_with_headers(claims(), extensions))).user_id == USER


def hs256_with_headers(payload: dict[str, Any], headers: dict[str, Any]) -> str:
    headers = {k: v for k, v in headers.items() if k not in ("alg", "kid")}
    return handmade({"alg": "HS256", "typ": "JWT", **headers}, payload, SECRET.encode())


async def test_dev_token_with_a_crit_header_is_refused(tmp_path: Path) -> None:
    settings = dev_settings(tmp_path)
    secret = load_or_create_dev_secret(settings)
    token = jwt.encode(claims(), secret, algorithm="HS256", headers={"crit": ["ext"], "ext": 1})
    exc = await refused(TokenVerifier(settings), token)
    assert exc.message == auth.UNKNOWN_CRITICAL


@pytest.mark.parametrize("crit", [["http://example.com/extension"], "ext", []])
async def test_jwks_token_with_a_crit_header_is_refused_before_any_key_fetch(
    jwks_server: JwksServer, ec_key: SigningKey, make_verifier: Any, crit: object
) -> None:
    jwks_server.keys = [ec_key.jwk]
    verifier, _ = make_verifier(Settings(supabase_url=jwks_server.url))
    payload = claims(iss=f"{jwks_server.url}/auth/v1")
    token = jwt.encode(
        payload,
        ec_key.private_pem,
        algorithm="ES256",
        headers={"kid": ec_key.kid, "crit": crit, "http://example.com/extension": 1},
    )
    exc = await refused(verifier, token)
    expected = auth.UNKNOWN_CRITICAL if isinstance(crit, list) and crit else auth.MALFORMED
    assert exc.message == expected
    assert jwks_server.hits == 0
    assert (await verifier.verify(ec_key.sign(payload))).user_id == USER


# --- remembered tokens ---------------------------------------------------------------


class WallClock:
    """Unix time that a test moves forward by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens that went through full verification (python-jose's decode)."""
    seen: list[str] = []
    decode = auth.jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(auth.jwt, "decode", counting)
    return seen


async def test_a_verified_token_is_remembered(decodes: list[str]) -> None:
    verifier = project_verifier()
    token = hs256(claims())
    for _ in range(3):
        assert (await verifier.verify(token)).user_id == USER
    assert (await verifier.verify(f" {token} ")).user_id == USER  # the same token
    assert decodes == [token]


async def test_a_remembered_token_still_expires_to_the_second(decodes: list[str]) -> None:
    clock = WallClock()
    verifier = TokenVerifier(Settings(supabase_jwt_secret=SECRET, jwt_leeway_s=5), clock=clock)
    exp = int(clock.now) + 10
    token = hs256(claims(exp=exp))
    await verifier.verify(token)
    clock.now = exp + 5  # the last instant inside the leeway
    assert (await verifier.verify(token)).user_id == USER
    assert len(decodes) == 1
    clock.now = exp + 5.001
    assert (await refused(verifier, token)).message == auth.EXPIRED
    assert (await refused(verifier, token)).message == auth.EXPIRED


async def test_a_token_is_remembered_for_a_minute_at_most(decodes: list[str]) -> None:
    clock = WallClock()
    verifier = TokenVerifier(Settings(supabase_jwt_secret=SECRET), clock=clock)
    token = hs256(claims(exp=int(clock.now) + 3600))
    await verifier.verify(token)
    clock.now += auth.VERIFIED_TTL_S
    await verifier.verify(token)
    assert len(decodes) == 1
    clock.now += 0.001
    await verifier.verify(token)
    assert len(decodes) == 2  # verified in full again, then remembered afresh


async def test_remembered_tokens_are_bounded_least_recently_used_first(
    decodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "VERIFIED_MAX_ENTRIES", 2)
    verifier = project_verifier()
    a, b, c = (hs256(claims(jti=name)) for name in "abc")
    for token in (a, b, a, c):  # c pushes out b, the least recently used
        await verifier.verify(token)
    await verifier.verify(a)
    await verifier.verify(b)
    assert decodes == [a, b, c, b]


async def test_refused_tokens_are_not_remembered(decodes: list[str]) -> None:
    verifier = project_verifier()
    token = hs256(claims(), secret="another-secret-that-is-at-least-32-characters")
    for _ in range(2):
        assert (await refused(verifier, token)).message == auth.BAD_SIGNATURE
    assert len(decodes) == 2


# --- the JWKS cache --------------------------------------------------------------


async def test_rotation_unknown_kid_triggers_one_refetch_then_is_accepted(
    jwks_server: JwksServer, ec_key: SigningKey, ec_key_2: SigningKey, make_verifier: Any
) -> None:
    clock = FakeClock()
    jwks_server.keys = [ec_key.jwk]
    verifier, cache = make_verifier(Settings(supabase_url=jwks_server.url), clock=clock)
    iss = f"{jwks_server.url}/auth/v1"
    await verifier.verify(ec_key.sign(claims(iss=iss)))
    assert jwks_server.hits == 1

    jwks_server.keys = [ec_key.jwk, ec_key_2.jwk]  # Supabase publishes the new key
    clock.now += 60
    identity = await verifier.verify(ec_key_2.sign(claims(iss=iss, sub="rotated-user")))
    assert identity.user_id == "rotated-user"
    assert jwks_server.hits == 2
    # both keys are now served from the cache
    await verifier.verify(ec_key.sign(claims(iss=iss)))
    await verifier.verify(ec_key_2.sign(claims(iss=iss)))
    assert jwks_server.hits == 2
    assert cache.fetch_count == 2


async def test_unknown_kid_is_refused_after_one_refetch(
    jwks_server: JwksServer, ec_key: SigningKey, ec_key_2: SigningKey, make_verifier: Any
) -> None:
    clock = FakeClock()
    jwks_server.keys = [ec_key.jwk]
    verifier, _ = make_verifier(Settings(supabase_url=jwks_server.url), clock=clock)
    await verifier.verify(ec_key.sign(claims(iss=f"{jwks_server.url}/auth/v1")))
    clock.now += 60
    exc = await refused(verifier, ec_key_2.sign(claims(iss=f"{jwks_server.url}/auth/v1")))
    assert exc.message == UNKNOWN_KID_MESSAGE
    assert jwks_server.hits == 2


async def test_a_flood_of_random_kids_refetches_at_most_once(
    jwks_server: JwksServer, ec_key: SigningKey, make_verifier: Any
) -> None:
    clock = FakeClock()
    jwks_server.keys = [ec_key.jwk]
    verifier, _ = make_verifier(Settings(supabase_url=jwks_server.url), clock=clock)
    iss = f"{jwks_server.url}/auth/v1"
    await verifier.verify(ec_key.sign(claims(iss=iss)))
    clock.now += 60
    tokens = [ec_key.sign(claims(iss=iss), kid=uuid.uuid4().hex) for _ in range(50)]
    results = await asyncio.gather(*(verifier.verify(t) for t in tokens), return_exceptions=True)
    assert all(isinstance(r, Unauthorized) for r in results)
    assert {r.message for r in results if isinstance(r, Unauthorized)} == {UNKNOWN_KID_MESSAGE}
    assert jwks_server.hits == 2
    # sequential floods inside the rate-limit window do not refetch either
    for token in tokens[:10]:
        await refused(verifier, token)
    assert jwks_server.hits == 2
    # the valid key keeps working all along
    assert (await verifier.verify(ec_key.sign(claims(iss=iss)))).user_id == USER


async def test_concurrent_first_requests_share_one_fetch(
    jwks_server: JwksServer, ec_key: SigningKey, make_verifier: Any
) -> None:
    jwks_server.keys = [ec_key.jwk]
    jwks_server.delay_s = 0.2
    verifier, _ = make_verifier(Settings(supabase_url=jwks_server.url))
    token = ec_key.sign(claims(iss=f"{jwks_server.url}/auth/v1"))
    identities = await asyncio.gather(*(verifier.verify(token) for _ in range(20)))
    assert [i.user_id for i in identities] == [USER] * 20
    assert jwks_server.hits == 1


async def test_cached_keys_are_refetched_after_ten_minutes(
    jwks_server: JwksServer, ec_key: SigningKey, make_verifier: Any
) -> None:
    clock = FakeClock()
    jwks_server.keys = [ec_key.jwk]
    verifier, _ = make_verifier(Settings(supabase_url=jwks_server.url), clock=clock)
    await verifier.verify(fresh_token(ec_key, jwks_server))
    clock.now += 599
    await verifier.verify(fresh_token(ec_key, jwks_server))
    assert jwks_server.hits == 1
    clock.now += 2
    await verifier.verify(fresh_token(ec_key, jwks_server))
    assert jwks_server.hits == 2


async def test_jwks_unreachable_is_a_401_that_says_try_again(
    ec_key: SigningKey, make_verifier: Any
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    verifier, _ = make_verifier(Settings(supabase_url=url, http_timeout_s=2.0))
    exc = await refused(verifier, ec_key.sign(claims(iss=f"{url}/auth/v1")))
    assert exc.message == UNREACHABLE_MESSAGE
    assert exc.retryable is True
    assert exc.to_dict() == {"error": "unauthorized", "message": UNREACHABLE_MESSAGE}


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, b"oops"), (200, b"<html>not json</html>"), (200, b'{"no_keys": []}'), (404, None)],
)
async def test_jwks_answering_nonsense_is_a_401_that_says_try_again(
    jwks_server: JwksServer,
    ec_key: SigningKey,
    make_verifier: Any,
    status: int,
    body: bytes | None,
) -> None:
    jwks_server.keys = [ec_key.jwk]
    jwks_server.status, jwks_server.body = status, body
    verifier, _ = make_verifier(Settings(supabase_url=jwks_server.url))
    exc = await refused(verifier, ec_key.sign(claims(iss=f"{jwks_server.url}/auth/v1")))
    assert exc.message == UNREACHABLE_MESSAGE
    assert jwks_server.hits == 1


async def test_failed_fetches_back_off_then_recover(
    jwks_server: JwksServer, ec_key: SigningKey, make_verifier: Any
) -> None:
    clock = FakeClock()
    jwks_server.keys = [ec_key.jwk]
    jwks_server.status, jwks_server.body = 503, b"down"
    verifier, _ = make_verifier(Settings(supabase_url=jwks_server.url), clock=clock)
    token = ec_key.sign(claims(iss=f"{jwks_server.url}/auth/v1"))
    for _ in range(5):
        assert (await refused(verifier, token)).message == UNREACHABLE_MESSAGE
    assert jwks_server.hits == 1  # no hammering while it is down
    jwks_server.status, jwks_server.body = 200, None
    clock.now += 6
    assert (await verifier.verify(token)).user_id == USER
    assert jwks_server.hits == 2


async def test_keys_stay_usable_while_a_refresh_fails_for_a_while(
    jwks_server: JwksServer, ec_key: SigningKey, make_verifier: Any
) -> None:
    clock = FakeClock()
    jwks_server.keys = [ec_key.jwk]
    verifier, _ = make_verifier(Settings(supabase_url=jwks_server.url), clock=clock)
    await verifier.verify(fresh_token(ec_key, jwks_server))
    jwks_server.status, jwks_server.body = 500, b"down"
    clock.now += 601
    assert (await verifier.verify(fresh_token(ec_key, jwks_server))).user_id == USER  # stale keys
    assert jwks_server.hits == 2
    clock.now += 3600
    exc = await refused(verifier, fresh_token(ec_key, jwks_server))
    assert exc.message == UNREACHABLE_MESSAGE


async def test_verifier_creates_and_closes_its_own_jwks_cache(
    jwks_server: JwksServer, ec_key: SigningKey
) -> None:
    jwks_server.keys = [ec_key.jwk]
    verifier = TokenVerifier(Settings(supabase_url=jwks_server.url))
    identity = await verifier.verify(ec_key.sign(claims(iss=f"{jwks_server.url}/auth/v1")))
    assert identity.user_id == USER
    await verifier.aclose()


def test_jwks_cache_needs_supabase_url() -> None:
    with pytest.raises(SettingsError, match="SUPABASE_URL"):
        JwksCache(Settings())


# --- development mode --------------------------------------------------------------


def dev_settings(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(dev=True, data_dir=data_dir, **overrides)


async def test_dev_token_is_accepted_in_dev_mode(tmp_path: Path) -> None:
    settings = dev_settings(tmp_path)
    token = mint_dev_token(settings, settings.dev_user_id)
    identity = await TokenVerifier(settings).verify(token)
    assert identity.user_id == "00000000-0000-4000-8000-000000000001"
    assert identity.claims["role"] == "authenticated"
    assert identity.claims["aud"] == "authenticated"
    assert identity.claims["exp"] - identity.claims["iat"] == 7 * 24 * 3600
    assert "iss" not in identity.claims


async def test_dev_token_carries_the_issuer_when_supabase_url_is_set(tmp_path: Path) -> None:
    settings = dev_settings(tmp_path, supabase_url=PROJECT)
    token = mint_dev_token(settings, "user-7", ttl_s=60)
    identity = await TokenVerifier(settings).verify(token)
    assert identity.user_id == "user-7"
    assert identity.claims["iss"] == ISSUER
    assert identity.claims["exp"] - identity.claims["iat"] == 60


async def test_dev_secret_is_shared_by_settings_with_the_same_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    web_settings, worker_settings = dev_settings(data_dir), dev_settings(data_dir)
    secret = load_or_create_dev_secret(web_settings)
    assert load_or_create_dev_secret(worker_settings) == secret
    assert len(secret) == 64
    assert int(secret, 16) >= 0
    path = data_dir / "dev-jwt-secret"
    assert web_settings.dev_secret_file == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == secret
    assert list(path.parent.iterdir()) == [path]  # no temp files left behind

    token = mint_dev_token(web_settings, "cli-user")
    assert (await TokenVerifier(worker_settings).verify(token)).user_id == "cli-user"
    other = dev_settings(tmp_path / "other")
    assert (await refused(TokenVerifier(other), token)).message == auth.BAD_SIGNATURE


def test_dev_secret_file_with_loose_permissions_is_tightened(tmp_path: Path) -> None:
    settings = dev_settings(tmp_path)
    secret = load_or_create_dev_secret(settings)
    os.chmod(settings.dev_secret_file, 0o644)
    assert load_or_create_dev_secret(settings) == secret
    assert stat.S_IMODE(settings.dev_secret_file.stat().st_mode) == 0o600


def test_corrupt_dev_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    settings = dev_settings(tmp_path)
    settings.dev_secret_file.write_text("not a secret\n")
    with pytest.raises(SettingsError, match="delete it"):
        auth._read_dev_secret(settings.dev_secret_file, attempts=1)


def test_threads_creating_the_dev_secret_at_once_agree(tmp_path: Path) -> None:
    settings = dev_settings(tmp_path / "data")
    with ThreadPoolExecutor(max_workers=16) as pool:
        found = list(pool.map(lambda _: load_or_create_dev_secret(settings), range(64)))
    assert len(set(found)) == 1
    assert settings.dev_secret_file.read_text().strip() == found[0]


def test_processes_creating_the_dev_secret_at_once_agree(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from resimply.settings import Settings; "
        "from resimply.auth import load_or_create_dev_secret as f; "
        "print(f(Settings(dev=True, data_dir=Path(sys.argv[1]))))"
    )
    data_dir = tmp_path / "shared"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(data_dir)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0] * 6
    assert len(set(outputs)) == 1
    assert outputs[0] == (data_dir / "dev-jwt-secret").read_text().strip()


def test_minting_is_refused_outside_dev_mode(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="RESIMPLY_DEV=1"):
        mint_dev_token(Settings(data_dir=tmp_path), USER)
    with pytest.raises(SettingsError, match="SUPABASE_JWT_SECRET"):
        mint_dev_token(dev_settings(tmp_path, supabase_jwt_secret=SECRET), USER)
    with pytest.raises(SettingsError):
        load_or_create_dev_secret(Settings(data_dir=tmp_path))
    assert list(tmp_path.iterdir()) == []  # no secret file was created


async def test_dev_secret_is_not_used_when_a_project_secret_is_set(tmp_path: Path) -> None:
    dev_token = mint_dev_token(dev_settings(tmp_path), USER)
    verifier = TokenVerifier(dev_settings(tmp_path, supabase_jwt_secret=SECRET))
    assert (await refused(verifier, dev_token)).message == auth.BAD_SIGNATURE
    assert (await verifier.verify(hs256(claims()))).user_id == USER


async def test_dev_token_is_refused_by_a_production_verifier(tmp_path: Path) -> None:
    dev_token = mint_dev_token(dev_settings(tmp_path), USER)
    prod = TokenVerifier(Settings(data_dir=tmp_path, supabase_url=PROJECT))
    exc = await refused(prod, dev_token)
    assert exc.message == "Access tokens signed with HS256 are not accepted by this server."


# --- where the token comes from ------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"authorization": "Bearer abc.def.ghi"}, "abc.def.ghi"),
        ({"Authorization": "bearer abc.def.ghi"}, "abc.def.ghi"),
        ({"AUTHORIZATION": "BEARER   abc.def.ghi  "}, "abc.def.ghi"),
        ({"authorization": "Basic dXNlcjpwYXNz"}, None),
        ({"authorization": "Bearer "}, None),
        ({"authorization": "abc.def.ghi"}, None),
        ({}, None),
    ],
)
def test_bearer_token_from_the_authorization_header(
    headers: dict[str, str], expected: str | None
) -> None:
    assert bearer_token(headers, {}, allow_query=False) == expected


def test_bearer_token_reads_starlette_headers() -> None:
    headers = Headers(raw=[(b"authorization", b"Bearer tok-1")])
    assert bearer_token(headers, {}, allow_query=False) == "tok-1"


def test_query_token_only_where_allowed() -> None:
    query = {"token": "tok-q"}
    assert bearer_token({}, query, allow_query=False) is None
    assert bearer_token({}, query, allow_query=True) == "tok-q"
    assert bearer_token({}, {"token": ""}, allow_query=True) is None
    # the header wins over the query string
    assert bearer_token({"authorization": "Bearer tok-h"}, query, allow_query=True) == "tok-h"


@pytest.fixture(autouse=True)
def _no_env_leaks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("SUPABASE_URL", "SUPABASE_JWT_SECRET", "RESIMPLY_DEV"):
        monkeypatch.delenv(name, raising=False)
    yield
