"""Who is calling: FastAPI dependencies that turn credentials into a `Principal`.

`current_principal` accepts, in this order: `Authorization: Bearer <access token>`; the web app's
httpOnly `mc_access` cookie (then unsafe methods also need `X-CSRF-Token`, see docs/auth.md); or a
signed API-key request (`X-MBX-APIKEY`, resolved by the hook `services["api_key_resolver"]`).
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
from .domain.tokens import csrf_valid
from .tokens import decode_access_token

ALL_PERMISSIONS = frozenset({"read", "trade", "withdraw"})
ACCESS_COOKIE = "mc_access"
CSRF_COOKIE = "mc_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class EmailNotVerified(Forbidden):
    code, message = "email_not_verified", "Verify your email address first."


class PermissionDenied(Forbidden):
    code, message = "permission_denied", "These credentials lack the required permission."


class CsrfFailed(Forbidden):
    code, message = "csrf_failed", "Missing or invalid X-CSRF-Token header."


class SessionRevoked(Unauthorized):
    code, message = "session_revoked", "This session was signed out; sign in again."


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

    async def get(self, db: Any, user_id: int) -> UserStatus | None:
        now = time.monotonic()
        hit = self._entries.get(user_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        row = await db.fetchrow(
            "SELECT u.id, u.email, u.role::text AS role, u.status::text AS status, "
            "u.email_verified_at IS NOT NULL AS verified, u.totp_enabled_at IS NOT NULL AS totp, "
            "ARRAY(SELECT DISTINCT r.family_id::text FROM auth.refresh_token r WHERE r.user_id = u.id "
            "      AND r.revoked_at > now() - make_interval(secs => $2)) AS revoked "
            "FROM auth.app_user u WHERE u.id = $1", user_id, self.revoked_window_s)
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


def user_status_cache(container: Any) -> UserStatusCache:
    cache = container.services.get("user_status_cache")
    if cache is None:
        window = int(getattr(container.settings, "access_token_ttl_s", 3600)) + 60
        cache = container.services["user_status_cache"] = UserStatusCache(revoked_window_s=window)
    return cache


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
    if not csrf_valid(settings.jwt_secret.get_secret_value(), session_id, request.headers.get(CSRF_HEADER)):
        raise CsrfFailed()


async def check_session(container: Any, user_id: int, session_id: str) -> None:
    """Refuse an access token whose session was revoked (uses the status cache: no extra query)."""
    status = await user_status_cache(container).get(container.db, user_id)
    if status is not None and session_id in status.revoked_sessions:
        raise SessionRevoked()


async def principal_for_user(container: Any, user_id: int, *, role_claim: str | None = None,
                             session_id: str | None = None, api_key_id: int | None = None,
                             permissions: frozenset[str] = ALL_PERMISSIONS) -> Principal:
    status = await user_status_cache(container).get(container.db, user_id)
    if status is None or not status.active:
        raise Unauthorized("This account is not active.", code="account_inactive")
    return Principal(user_id=user_id, role=status.role, email=status.email,
                     email_verified=status.email_verified, totp_enabled=status.totp_enabled,
                     session_id=session_id, api_key_id=api_key_id, permissions=permissions)


async def current_principal(request: Request) -> Principal:
    """Dependency: the authenticated caller, or 401."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    container = get_container(request)
    if "auth_hooks_installed" not in container.services:
        from .hooks import install

        install(container)
    token, from_cookie = _bearer_token(request)
    if token is None:
        resolver = container.services.get("api_key_resolver")
        if resolver is not None:
            principal = await resolver(request)
            if principal is not None:
                request.state.principal = principal
                return principal
        raise Unauthorized()
    claims = decode_access_token(container.settings, token)
    if from_cookie:
        check_csrf(request, container.settings, claims.session_id)
    session_check = container.services.get("session_check")
    if session_check is not None and claims.session_id:
        await session_check(claims)  # raises if the session was revoked (logout, password reset)
    principal = await principal_for_user(container, claims.user_id, session_id=claims.session_id)
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
