"""Opaque secrets (refresh tokens, email links, recovery codes, API keys) and how they are stored.

Only a SHA-256 of a bearer secret is stored: the secrets are 256-bit random, so a plain hash is
enough (no salt/stretching needed) and lets us find the row by hash. The CSRF token of the web app
is an HMAC of the session id, so it needs no storage and cannot be forged without the server key.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable

_ALNUM = string.ascii_letters + string.digits
RECOVERY_CODE_COUNT = 10


def new_secret(prefix: str = "", nbytes: int = 32) -> str:
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).rstrip(b"=").decode()


def hash_secret(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_api_key_pair() -> tuple[str, str]:
    """(api key, secret): 64 alphanumerics each, like Binance's."""
    return ("".join(secrets.choice(_ALNUM) for _ in range(64)),
            "".join(secrets.choice(_ALNUM) for _ in range(64)))


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Codes like `k3x9-p2m7-q8d4`: 60 bits each, no look-alike characters."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return ["-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))
            for _ in range(count)]


def csrf_token(key: str, session_id: str) -> str:
    mac = hmac.new(key.encode(), b"csrf:" + session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def csrf_valid(key: str | Iterable[str], session_id: str | None, presented: str | None) -> bool:
    """`key`: one secret, or every secret of the JWT key set (a CSRF token made under a key that is
    still in the set stays valid, so rotating the signing key logs nobody out)."""
    if not session_id or not presented:
        return False
    keys = (key,) if isinstance(key, str) else tuple(key)
    # every key is compared (no early exit) so the time taken does not tell which one matched
    return sum(hmac.compare_digest(csrf_token(k, session_id), presented) for k in keys) > 0
