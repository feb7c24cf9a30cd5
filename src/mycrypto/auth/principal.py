"""Who is calling: FastAPI dependencies that turn credentials into a `Principal`.

`current_principal` accepts, in this order: `Authorization: Bearer <access token>`; the web app's
httpOnly `mc_access` cookie (then unsafe methods also need `X-CSRF-Token`, see docs/auth.md); or a
signed API-key request (`X-MBX-APIKEY`, checked by `AuthService.authenticate_signed_request`). The
`AuthService` (`container.auth`, set up by every app at start-up) keeps the status cache below, checks
revoked sessions and API keys; this module only reads the request, so it imports no use case.
The user's status (active, email verified, role, 2FA, recently revoked sessions) comes from a small
per-process cache with a short TTL, so the hot order path does not query the user row on every
request, while a disabled user or a revoked session is locked out within seconds everywhere
(immediately on the replica that made the change, which invalidates its cache).
Ownership of every resource is still checked by the services against `principal.user_id`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from ..common.errors import Forbidden, Unauthorized
from ..container import get_container
from ..db.database import Queryable
from . import repository as repo
from .domain.tokens import csrf_valid
from .errors import CsrfFailed, EmailNotVerified, PermissionDenied
from .tokens import decode_access_token

ALL_PERMISSIONS = frozenset({"read", "trade", "withdraw"})
ACCESS_COOKIE = "mc_access"
CSRF_COOKIE = "mc_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class UserStatus:
    user_id: int
    email: str
    role: str
    active: bool
    email_verified: bool
    totp_enabled: bool
    revoked_sessions: frozenset[str] = frozenset()  # sessions revoked recently enough to matter


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    role: str
    email: str
    email_verified: bool
    totp_enabled: bool
    session_id: str | None = None
    api_key_id: int | None = None
    permissions: frozenset[str] = field(default=ALL_PERMISSIONS)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def require(self, permission: str) -> None:
        if permission not in self.permissions:
            raise PermissionDenied(f"This API key lacks the '{permission}' permission.")

    def require_verified(self) -> None:
        if not self.email_verified:
            raise EmailNotVerified()


class UserStatusCache:
    """user_id -> UserStatus for `ttl` seconds; `invalidate` after local changes (verify, disable...)."""

    def __init__(self, ttl: float = 3.0, revoked_window_s: int = 3700) -> None:
        self.ttl = ttl
        # Access tokens live at most ACCESS_TOKEN_TTL_SECONDS, so only sessions revoked within that
        # window can still have live tokens; older revocations need not be loaded.
        self.revoked_window_s = revoked_window_s
        self._entries: dict[int, tuple[float, UserStatus | None]] = {}

    async def get(self, db: Queryable, user_id: int) -> UserStatus | None:
        now = time.monotonic()
        hit = self._entries.get(user_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        row = await repo.user_status(db, user_id, self.revoked_window_s)
        status = None if row is None else UserStatus(row["id"], row["email"], row["role"],
                                                     row["status"] == "active", row["verified"], row["totp"],
                                                     frozenset(row["revoked"]))
        if len(self._entries) > 100_000:  # bound memory; a refill costs one query per user
            self._entries.clear()
        self._entries[user_id] = (now, status)
        return status

    def invalidate(self, user_id: int | None = None) -> None:
        if user_id is None:
            self._entries.clear()
        else:
            self._entries.pop(user_id, None)


def _bearer_token(request: Request) -> tuple[str | None, bool]:
    """(token, came_from_cookie)."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Use 'Authorization: Bearer <token>'.", code="invalid_authorization_header")
        return token.strip(), False
    cookie = request.cookies.get(ACCESS_COOKIE)
    return (cookie, True) if cookie else (None, False)


def check_csrf(request: Request, settings: Any, session_id: str | None) -> None:
    """Cookie-authenticated unsafe requests must echo the session's CSRF token in X-CSRF-Token.

    The token is an HMAC of the session id (double-submit, signed): a cross-site page can neither
    read the mc_csrf cookie nor compute the value, and a cookie planted by a sibling domain is useless.
    """
    if request.method in SAFE_METHODS:
        return
    if not csrf_valid(settings.jwt_keys.secrets, session_id, request.headers.get(CSRF_HEADER)):
        raise CsrfFailed()


async def current_principal(request: Request) -> Principal:
    """Dependency: the authenticated caller, or 401."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    container = get_container(request)
    auth = container.auth
    token, from_cookie = _bearer_token(request)
    if token is None:
        principal = await auth.resolve_api_key(request)   # None: no X-MBX-APIKEY header
        if principal is not None:
            request.state.principal = principal
            return principal
        raise Unauthorized()
    claims = decode_access_token(container.settings, token)
    if from_cookie:
        check_csrf(request, container.settings, claims.session_id)
    if claims.session_id:
        await auth.check_session(claims.user_id, claims.session_id)  # raises if revoked (logout, reset)
    principal = await auth.principal_for_user(claims.user_id, session_id=claims.session_id)
    request.state.principal = principal
    return principal


async def verified_principal(request: Request) -> Principal:
    principal = await current_principal(request)
    principal.require_verified()
    return principal


async def admin_principal(request: Request) -> Principal:
    principal = await current_principal(request)
    if not principal.is_admin:
        raise Forbidden("Administrators only.", code="admin_required")
    return principal
