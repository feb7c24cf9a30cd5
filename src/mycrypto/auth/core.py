"""What every auth use case shares: the request context, the checks they start with, and `AuthCore`.

`AuthService` (service.py) is one object per app (`container.auth`, built by `apps.create_app` at
start-up, so every service - not only the auth router - honours API keys and revoked sessions). It is
assembled from `AuthCore` (settings, database, rate limiter, the user-status cache, resolving a user id
to a `Principal`) and the use cases: 2FA (`TwoFactor`, twofactor.py), API keys (`ApiKeys`, apikeys.py)
and accounts, sessions and passwords (service.py).
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..common.errors import Unauthorized
from ..common.ratelimit import Limiter
from ..config import Settings
from ..db.database import Database, UnitOfWork
from ..notify.emails import enqueue_email
from .domain import limits
from .domain.emails import normalise_email
from .domain.rules import Rejected
from .errors import SessionRequired, SessionRevoked, from_rejected
from .passwords import validate_new_password
from .principal import ALL_PERMISSIONS, Principal, UserStatusCache


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who is asking, for rate limits and the audit log."""
    ip: str
    user_agent: str | None = None


def require_session(principal: Principal) -> None:
    """Account management needs a password login: an API key must never manage the account."""
    if principal.api_key_id is not None:
        raise SessionRequired()


def email_or_422(raw: str) -> str:
    try:
        return normalise_email(raw)
    except Rejected as exc:
        raise from_rejected(exc) from None


def check_new_password(password: str, email: str | None) -> None:
    try:
        validate_new_password(password, email)
    except Rejected as exc:
        raise from_rejected(exc) from None


def utc_now() -> datetime:
    return datetime.now(UTC)


def _nothing() -> None:
    return None


class AuthCore:
    """`wake_outbox` is called after a transaction that queued an email commits (the relay sends it now)."""

    def __init__(self, settings: Settings, db: Database, limiter: Limiter,
                 wake_outbox: Callable[[], Any] | None = None) -> None:
        self.settings = settings
        self.db = db
        self.limiter = limiter
        self._wake_outbox = wake_outbox or _nothing
        # Access tokens live at most ACCESS_TOKEN_TTL_SECONDS, so only sessions revoked within that
        # window (plus a margin) can still have live tokens.
        self.status_cache = UserStatusCache(revoked_window_s=settings.access_token_ttl_s + 60)
        self._background: set[asyncio.Task] = set()

    async def limit(self, rule: limits.Rule, key: str | int) -> None:
        """Spend one token of `rule` for `key`; 429 + Retry-After when the bucket is empty."""
        await self.limiter.check(f"{rule.name}:{key}", rate=rule.rate, burst=rule.burst)

    # ------------------------------------------------------------------ who is calling
    async def principal_for_user(self, user_id: int, *, session_id: str | None = None, api_key_id: int | None = None,
                                 permissions: frozenset[str] = ALL_PERMISSIONS) -> Principal:
        """The caller as a Principal (from the status cache), or 401 account_inactive."""
        status = await self.status_cache.get(self.db, user_id)
        if status is None or not status.active:
            raise Unauthorized("This account is not active.", code="account_inactive")
        return Principal(user_id=user_id, role=status.role, email=status.email,
                         email_verified=status.email_verified, totp_enabled=status.totp_enabled,
                         session_id=session_id, api_key_id=api_key_id, permissions=permissions)

    async def check_session(self, user_id: int, session_id: str) -> None:
        """Refuse an access token whose session was revoked (uses the status cache: no extra query)."""
        status = await self.status_cache.get(self.db, user_id)
        if status is not None and session_id in status.revoked_sessions:
            raise SessionRevoked()

    # ------------------------------------------------------------------ helpers of the use cases
    def _wake_after(self, uow: UnitOfWork) -> None:
        uow.after_commit(self._wake_outbox)

    def _link(self, path: str, token: str) -> str:
        return f"{self.settings.base_url}{path}?token={token}"

    async def _security_notice(self, conn: Any, ctx: RequestContext, to: str, what: str) -> None:
        await enqueue_email(conn, self.settings, to=to, template="security_notice",
                            vars={"what": what, "when": utc_now().strftime("%Y-%m-%d %H:%M UTC"), "ip": ctx.ip})
