"""Who is calling: FastAPI dependencies that turn credentials into a `Principal`.

`current_principal` accepts `Authorization: Bearer <access token>` (or the web app's httpOnly
cookie, once the auth service sets it). The user's status (active, email verified, role, 2FA) comes
from a small per-process cache with a short TTL, so the hot order path does not query the user row
on every request, while a disabled user is locked out within seconds everywhere.
Ownership of every resource is still checked by the services against `principal.user_id`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from ..common.errors import Forbidden, Unauthorized
from ..container import get_container
from .tokens import decode_access_token

ALL_PERMISSIONS = frozenset({"read", "trade", "withdraw"})
ACCESS_COOKIE = "mc_access"


class EmailNotVerified(Forbidden):
    code, message = "email_not_verified", "Verify your email address first."


class PermissionDenied(Forbidden):
    code, message = "permission_denied", "These credentials lack the required permission."


@dataclass(frozen=True, slots=True)
class UserStatus:
    user_id: int
    email: str
    role: str
    active: bool
    email_verified: bool
    totp_enabled: bool


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

    def __init__(self, ttl: float = 3.0) -> None:
        self.ttl = ttl
        self._entries: dict[int, tuple[float, UserStatus | None]] = {}

    async def get(self, db: Any, user_id: int) -> UserStatus | None:
        now = time.monotonic()
        hit = self._entries.get(user_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        row = await db.fetchrow(
            "SELECT id, email, role::text AS role, status::text AS status, email_verified_at IS NOT NULL AS verified, "
            "totp_enabled_at IS NOT NULL AS totp FROM auth.app_user WHERE id = $1", user_id)
        status = None if row is None else UserStatus(row["id"], row["email"], row["role"],
                                                     row["status"] == "active", row["verified"], row["totp"])
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
        cache = container.services["user_status_cache"] = UserStatusCache()
    return cache


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Use 'Authorization: Bearer <token>'.", code="invalid_authorization_header")
        return token.strip()
    return request.cookies.get(ACCESS_COOKIE)


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
    token = _bearer_token(request)
    if token is None:
        resolver = container.services.get("api_key_resolver")
        if resolver is not None:
            principal = await resolver(request)
            if principal is not None:
                request.state.principal = principal
                return principal
        raise Unauthorized()
    claims = decode_access_token(container.settings, token)
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
