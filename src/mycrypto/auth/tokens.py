"""Short-lived JWT access tokens. One algorithm is allowed (HS256), and iss/aud/exp/iat/jti are required.

The allow-list is what defeats `alg: none` and algorithm-confusion attacks: a token whose header
names any other algorithm is refused before its signature is even looked at.

Keys come from a key set (settings.jwt_keys, JWT_KEYS / JWT_SECRET; docs/key-rotation.md): the active
key signs and its id goes in the header's `kid`; verification picks the key by `kid`, so a token signed
with an older key keeps working until that key is removed from the set. A `kid` not in the set is
refused (401 `unknown_token_key`); a token without `kid` (issued before key ids) is checked against the
legacy key id `default` only, and refused once that key is retired.

`decode_access_token` sits on the hot order path, so verified tokens are cached by their exact string
(bounded, per signing configuration). A cache hit re-checks `exp`, so caching never extends a token's
life; a token that failed verification is never cached.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import jwt

from ..common.errors import Unauthorized
from ..config import LEGACY_KEY_ID, KeyRing

ALLOWED_ALGORITHMS = ("HS256",)
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "jti")


class InvalidToken(Unauthorized):
    code, message = "invalid_token", "The access token is invalid."


class ExpiredToken(Unauthorized):
    code, message = "token_expired", "The access token has expired."


class UnknownTokenKey(Unauthorized):
    code, message = "unknown_token_key", "The access token was signed with a key that is no longer accepted."


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    role: str
    session_id: str | None
    jti: str
    expires_at: int


def issue_access_token(settings: object, *, user_id: int, role: str, session_id: str | None,
                       now: float | None = None) -> tuple[str, int]:
    """Return (token, expires_at epoch seconds)."""
    now = int(time.time() if now is None else now)
    exp = now + settings.access_token_ttl_s  # type: ignore[attr-defined]
    claims = {"sub": str(user_id), "role": role, "iat": now, "nbf": now, "exp": exp,
              "iss": settings.jwt_issuer, "aud": settings.jwt_audience,  # type: ignore[attr-defined]
              "jti": os.urandom(12).hex(), "typ": "access"}
    if session_id:
        claims["sid"] = session_id
    keys = settings.jwt_keys  # type: ignore[attr-defined]
    token = jwt.encode(claims, keys.active, algorithm="HS256", headers={"kid": keys.active_id})
    return token, exp


_CACHE_MAX = 50_000
_LEEWAY_S = 5
_caches: dict[tuple[object, str, str], dict[str, AccessClaims]] = {}


def _cache_for(settings: object) -> dict[str, AccessClaims]:
    # per key set: retiring a key starts a fresh cache, so its tokens are verified (and refused) again
    key = (settings.jwt_keys.keys, settings.jwt_issuer, settings.jwt_audience)  # type: ignore[attr-defined]
    cache = _caches.get(key)
    if cache is None:
        if len(_caches) > 16:  # many configurations only happen in tests; keep memory bounded
            _caches.clear()
        cache = _caches[key] = {}
    return cache


def decode_access_token(settings: object, token: str) -> AccessClaims:
    """Verify an access token (signature, alg, iss, aud, exp, iat, jti, typ) and return its claims."""
    cache = _cache_for(settings)
    hit = cache.get(token)
    if hit is not None:
        if hit.expires_at + _LEEWAY_S >= time.time():
            return hit
        cache.pop(token, None)
        raise ExpiredToken()
    claims = _decode(settings, token)
    if len(cache) >= _CACHE_MAX:
        cache.clear()  # cheap and rare: a refill costs one HMAC per live token
    cache[token] = claims
    return claims


def _decode(settings: object, token: str) -> AccessClaims:
    if not isinstance(token, str) or len(token) > 4096:
        raise InvalidToken()
    secret = _key_for(settings.jwt_keys, token)  # type: ignore[attr-defined]
    try:
        claims = jwt.decode(
            token, secret,
            algorithms=list(ALLOWED_ALGORITHMS), audience=settings.jwt_audience,  # type: ignore[attr-defined]
            issuer=settings.jwt_issuer, options={"require": list(REQUIRED_CLAIMS)},  # type: ignore[attr-defined]
            leeway=_LEEWAY_S,
        )
    except jwt.ExpiredSignatureError:
        raise ExpiredToken() from None
    except jwt.PyJWTError:
        raise InvalidToken() from None
    if claims.get("typ") != "access":
        raise InvalidToken()
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError):
        raise InvalidToken() from None
    return AccessClaims(user_id=user_id, role=str(claims.get("role", "user")), session_id=claims.get("sid"),
                        jti=str(claims["jti"]), expires_at=int(claims["exp"]))


def _key_for(keys: KeyRing, token: str) -> str:
    """The secret that must have signed this token, chosen by its header's `kid` (not yet verified: a
    forged `kid` only selects a key the signature must then match)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken() from None
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise InvalidToken()  # (jwt.decode refuses it too; failing here keeps the reason obvious)
    kid = header.get("kid", LEGACY_KEY_ID)  # no kid: a token from before key ids, legacy key only
    if not isinstance(kid, str):
        raise InvalidToken()
    secret = keys.get(kid)
    if secret is None:
        raise UnknownTokenKey()
    return secret
