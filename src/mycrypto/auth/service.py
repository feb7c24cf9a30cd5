"""Auth use cases: `AuthService` - registration, email verification, login/refresh/logout, sessions,
passwords; with 2FA (`TwoFactor`, twofactor.py) and API keys (`ApiKeys`, apikeys.py) it is the one auth
object of an app (`container.auth`, built by apps.create_app at start-up; see core.py).

Each method owns its unit of work; emails are outbox rows written in the same transaction as the
change they announce (so a user row never exists without its verification token and email). The
caller's `RequestContext` is for rate limits and the audit log.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from ..notify.emails import enqueue_email
from . import audit
from . import repository as repo
from .apikeys import ApiKeys
from .core import RequestContext, check_new_password, email_or_422, require_session, utc_now
from .domain import limits, lockout
from .domain.tokens import hash_secret, new_secret
from .errors import (AccountInactive, InvalidCredentials, InvalidEmailToken, InvalidRefreshToken, LoginLocked,
                     RefreshTokenReused, RegistrationDisabled, SessionNotFound, WrongPassword)
from .passwords import hash_password, needs_rehash, verify_password
from .principal import Principal
from .tokens import issue_access_token
from .totp import InvalidSecondFactor, SecondFactorRequired, check_second_factor
from .twofactor import TwoFactor


@dataclass(frozen=True, slots=True)
class Session:
    access_token: str
    access_expires_at: int
    refresh_token: str
    refresh_expires_in: int
    session_id: str
    user: dict[str, Any]


def user_public(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "email": row["email"], "role": row["role"],
            "email_verified": row["email_verified_at"] is not None,
            "totp_enabled": row["totp_enabled_at"] is not None,
            "created_at": repo.iso(row["created_at"])}


def _parse_session_id(session_id: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(session_id)) if session_id else None
    except ValueError:
        return None


class AuthService(TwoFactor, ApiKeys):
    """Accounts, sign-in, sessions and passwords (here), 2FA and API keys (the bases), and who is calling
    (core.AuthCore): `AuthService(settings, db, limiter, wake_outbox)`."""

    # -------------------------------------------------------------------------------------- registration
    async def register(self, ctx: RequestContext, email_raw: str, password: str) -> None:
        """Create an unverified user + verification token + email, atomically; reveal nothing about existence."""
        settings = self.settings
        if not settings.registration_enabled:
            raise RegistrationDisabled()
        await self.limit(limits.REGISTER_IP, ctx.ip)
        email = email_or_422(email_raw)
        await self.limit(limits.REGISTER_ACCOUNT, email)
        check_new_password(password, email)
        password_hash = await hash_password(settings, password)  # also when the email exists: same timing
        token = new_secret("ev_")
        async with self.db.unit_of_work() as uow:
            user_id = await repo.insert_user(uow.conn, email, password_hash)
            if user_id is not None:
                await repo.insert_email_token(uow.conn, user_id, "verify_email", hash_secret(token),
                                              settings.email_verify_ttl_s)
                await enqueue_email(uow.conn, settings, to=email, template="verify_email",
                                    vars={"expires_hours": settings.email_verify_ttl_s // 3600},
                                    secret_vars={"link": self._link("/api/v1/auth/verify-email", token)})
                await audit.record(uow.conn, "register", user_id=user_id, ip=ctx.ip, user_agent=ctx.user_agent)
            else:
                existing = await repo.user_by_email(uow.conn, email)
                await enqueue_email(uow.conn, settings, to=email, template="account_exists")
                await audit.record(uow.conn, "register_existing_email", user_id=existing["id"] if existing else None,
                                   ip=ctx.ip, user_agent=ctx.user_agent)
            self._wake_after(uow)
            await uow.commit()

    async def verify_email(self, ctx: RequestContext, token: str) -> str:
        """Spend a verification token: 'verified', or 'already_verified' when the link was used before."""
        await self.limit(limits.VERIFY_IP, ctx.ip)
        async with self.db.unit_of_work() as uow:
            row = await repo.email_token(uow.conn, hash_secret(token), "verify_email")
            if row is None:
                raise InvalidEmailToken()
            user = await repo.user_by_id(uow.conn, row["user_id"], for_update=True)
            if row["used_at"] is not None:
                # Link scanners and double clicks: a used link of a verified account is not an error.
                if user is not None and user["email_verified_at"] is not None:
                    return "already_verified"
                raise InvalidEmailToken()
            if row["expired"]:
                raise InvalidEmailToken("This link has expired; ask for a new one.")
            await repo.use_email_tokens(uow.conn, row["user_id"], "verify_email")
            await repo.mark_email_verified(uow.conn, row["user_id"])
            await audit.record(uow.conn, "email_verified", user_id=row["user_id"], ip=ctx.ip, user_agent=ctx.user_agent)
            await uow.commit()
        self.status_cache.invalidate(row["user_id"])
        return "verified"

    async def resend_verification(self, ctx: RequestContext, email_raw: str) -> None:
        """Send a fresh verification link to an unverified account; silently nothing otherwise."""
        await self.limit(limits.RESEND_IP, ctx.ip)
        email = email_or_422(email_raw)
        await self.limit(limits.RESEND_ACCOUNT, email)
        settings = self.settings
        token = new_secret("ev_")
        async with self.db.unit_of_work() as uow:
            user = await repo.user_by_email(uow.conn, email, for_update=True)
            if user is None or user["email_verified_at"] is not None or user["status"] != "active":
                return
            await repo.insert_email_token(uow.conn, user["id"], "verify_email", hash_secret(token),
                                          settings.email_verify_ttl_s)
            await enqueue_email(uow.conn, settings, to=email, template="verify_email",
                                vars={"expires_hours": settings.email_verify_ttl_s // 3600},
                                secret_vars={"link": self._link("/api/v1/auth/verify-email", token)})
            await audit.record(uow.conn, "verification_resent", user_id=user["id"], ip=ctx.ip,
                               user_agent=ctx.user_agent)
            self._wake_after(uow)
            await uow.commit()

    # --------------------------------------------------------------------------------------------- login
    async def _refuse_if_locked(self, user: Any, ip: str) -> None:
        now = utc_now()
        waits = [0.0]
        if user["locked_until"] is not None:
            waits.append((user["locked_until"] - now).total_seconds())
        failure = await repo.login_failure(self.db, user["id"], ip)
        if failure is not None and failure["locked_until"] is not None:
            waits.append((failure["locked_until"] - now).total_seconds())
        wait = max(waits)
        if wait > 0:
            raise LoginLocked(wait)

    async def _record_failure(self, ctx: RequestContext, user_id: int, reason: str) -> None:
        """Count a failed login per (account, IP) and per account; lock with increasing backoff."""
        now = utc_now()
        async with self.db.unit_of_work() as uow:
            user = await repo.user_by_id(uow.conn, user_id, for_update=True)  # serialises concurrent failures
            if user is None:
                return
            prev = await repo.login_failure(uow.conn, user_id, ctx.ip)
            ip_out = lockout.after_failure(
                prev["failures"] if prev else 0,
                (now - prev["last_failed_at"]).total_seconds() if prev else None,
                free=lockout.IP_FREE_FAILURES, base=lockout.IP_BASE_S)
            acct_out = lockout.after_failure(
                user["failed_login_count"],
                (now - user["last_failed_login_at"]).total_seconds() if user["last_failed_login_at"] else None,
                free=lockout.ACCOUNT_FREE_FAILURES, base=lockout.ACCOUNT_BASE_S)
            await repo.save_ip_failure(uow.conn, user_id, ctx.ip, ip_out.failures, ip_out.lock_s)
            await repo.save_account_failure(uow.conn, user_id, acct_out.failures, acct_out.lock_s)
            await audit.record(uow.conn, "login_failed", user_id=user_id, ip=ctx.ip, user_agent=ctx.user_agent,
                               details={"reason": reason, "failures": ip_out.failures,
                                        "locked_s": max(ip_out.lock_s, acct_out.lock_s)})
            await uow.commit()

    async def _open_session(self, conn: Any, ctx: RequestContext, user: Any) -> Session:
        settings = self.settings
        family = uuid.uuid4()
        refresh_token = new_secret("rt_")
        await repo.insert_refresh_token(conn, user_id=user["id"], family_id=family,
                                        token_hash=hash_secret(refresh_token), parent_id=None, ip=ctx.ip,
                                        user_agent=ctx.user_agent, ttl_s=settings.refresh_token_ttl_s)
        access, exp = issue_access_token(settings, user_id=user["id"], role=user["role"], session_id=str(family))
        return Session(access, exp, refresh_token, settings.refresh_token_ttl_s, str(family), user_public(user))

    async def login(self, ctx: RequestContext, email_raw: str, password: str,
                    totp_code: str | None) -> Session:
        """Password (+ TOTP when enabled) -> access token + rotating refresh token (a new session)."""
        settings = self.settings
        await self.limit(limits.LOGIN_IP, ctx.ip)
        email = email_or_422(email_raw)
        await self.limit(limits.LOGIN_ACCOUNT, email)
        user = await repo.user_by_email(self.db, email)
        if user is not None:
            await self._refuse_if_locked(user, ctx.ip)
        if not await verify_password(settings, user["password_hash"] if user else None, password):
            if user is not None:
                await self._record_failure(ctx, user["id"], "password")
            else:
                await audit.record(self.db, "login_failed", ip=ctx.ip, user_agent=ctx.user_agent,
                                   details={"reason": "unknown_email", "email": email})
            raise InvalidCredentials()
        if user["status"] != "active":
            raise AccountInactive()
        if user["totp_enabled_at"] is not None:
            if not totp_code:
                raise SecondFactorRequired("Enter the code from your authenticator app.")
            await self.limit(limits.TOTP_IP, ctx.ip)
            await self.limit(limits.TOTP_ACCOUNT, user["id"])
        new_hash = await hash_password(settings, password) if needs_rehash(settings, user["password_hash"]) else None
        try:
            async with self.db.unit_of_work() as uow:
                if user["totp_enabled_at"] is not None:
                    await check_second_factor(uow.conn, settings, user["id"], totp_code)
                await repo.clear_login_failures(uow.conn, user["id"], ctx.ip)
                if new_hash is not None:
                    await repo.upgrade_password_hash(uow.conn, user["id"], new_hash)
                session = await self._open_session(uow.conn, ctx, user)
                await audit.record(uow.conn, "login", user_id=user["id"], ip=ctx.ip, user_agent=ctx.user_agent,
                                   details={"session_id": session.session_id,
                                            "totp": user["totp_enabled_at"] is not None,
                                            "rehashed": new_hash is not None})
                await uow.commit()
        except InvalidSecondFactor:
            await self._record_failure(ctx, user["id"], "totp")
            raise
        return session

    async def refresh(self, ctx: RequestContext, refresh_token: str) -> Session:
        """Rotate: the presented token is spent and a new one issued in the same session (family).

        Presenting an already-rotated token means it was copied: the whole family is revoked.
        """
        settings = self.settings
        await self.limit(limits.REFRESH_IP, ctx.ip)
        if not refresh_token or len(refresh_token) > 200:
            raise InvalidRefreshToken()
        reused_user: int | None = None
        async with self.db.unit_of_work() as uow:
            row = await repo.refresh_token(uow.conn, hash_secret(refresh_token))
            if row is None or row["revoked_at"] is not None or row["expired"]:
                raise InvalidRefreshToken()
            if row["rotated_at"] is not None:
                await repo.revoke_family(uow.conn, row["user_id"], row["family_id"], "reuse_detected")
                await audit.record(uow.conn, "refresh_token_reused", user_id=row["user_id"], ip=ctx.ip,
                                   user_agent=ctx.user_agent, details={"session_id": str(row["family_id"])})
                await uow.commit()
                reused_user = row["user_id"]
            else:
                user = await repo.user_by_id(uow.conn, row["user_id"])
                if user is None or user["status"] != "active":
                    raise AccountInactive()
                new_token = new_secret("rt_")
                await repo.mark_rotated(uow.conn, row["id"])
                await repo.insert_refresh_token(uow.conn, user_id=user["id"], family_id=row["family_id"],
                                                token_hash=hash_secret(new_token), parent_id=row["id"], ip=ctx.ip,
                                                user_agent=ctx.user_agent, ttl_s=settings.refresh_token_ttl_s)
                await uow.commit()
        if reused_user is not None:
            self.status_cache.invalidate(reused_user)
            raise RefreshTokenReused()
        access, exp = issue_access_token(settings, user_id=user["id"], role=user["role"],
                                         session_id=str(row["family_id"]))
        return Session(access, exp, new_token, settings.refresh_token_ttl_s, str(row["family_id"]), user_public(user))

    async def logout(self, ctx: RequestContext, principal: Principal, refresh_token: str | None) -> None:
        """End the caller's session (and the session of `refresh_token`, if it is the caller's)."""
        require_session(principal)
        families = set()
        current = _parse_session_id(principal.session_id)
        if current is not None:
            families.add(current)
        async with self.db.unit_of_work() as uow:
            if refresh_token:
                row = await repo.refresh_token(uow.conn, hash_secret(refresh_token))
                if row is not None and row["user_id"] == principal.user_id:
                    families.add(row["family_id"])
            for family in families:
                await repo.revoke_family(uow.conn, principal.user_id, family, "logout")
            await audit.record(uow.conn, "logout", user_id=principal.user_id, ip=ctx.ip, user_agent=ctx.user_agent,
                               details={"sessions": [str(f) for f in families]})
            await uow.commit()
        self.status_cache.invalidate(principal.user_id)

    async def logout_by_refresh_token(self, ctx: RequestContext, refresh_token: str) -> None:
        """Cookie-mode logout when the access token already expired: the refresh token names the session."""
        async with self.db.unit_of_work() as uow:
            row = await repo.refresh_token(uow.conn, hash_secret(refresh_token))
            if row is None:
                return
            await repo.revoke_family(uow.conn, row["user_id"], row["family_id"], "logout")
            await audit.record(uow.conn, "logout", user_id=row["user_id"], ip=ctx.ip, user_agent=ctx.user_agent,
                               details={"sessions": [str(row["family_id"])]})
            await uow.commit()
        self.status_cache.invalidate(row["user_id"])

    # ------------------------------------------------------------------------------------------ sessions
    async def list_sessions(self, principal: Principal) -> list[dict[str, Any]]:
        rows = await repo.active_sessions(self.db, principal.user_id)
        return [{"id": str(r["family_id"]), "created_at": repo.iso(r["created_at"]),
                 "last_used_at": repo.iso(r["last_used_at"]), "expires_at": repo.iso(r["expires_at"]),
                 "ip": r["ip"], "user_agent": r["user_agent"],
                 "current": str(r["family_id"]) == principal.session_id} for r in rows]

    async def revoke_session(self, ctx: RequestContext, principal: Principal, session_id: str) -> None:
        """Sign out one of the caller's sessions; someone else's (or an unknown id) is a 404."""
        require_session(principal)
        family = _parse_session_id(session_id)
        if family is None:
            raise SessionNotFound()
        async with self.db.unit_of_work() as uow:
            if not await repo.session_is_active(uow.conn, principal.user_id, family):
                raise SessionNotFound()
            await repo.revoke_family(uow.conn, principal.user_id, family, "revoked_by_user")
            await audit.record(uow.conn, "session_revoked", user_id=principal.user_id, ip=ctx.ip,
                               user_agent=ctx.user_agent, details={"session_id": str(family)})
            await uow.commit()
        self.status_cache.invalidate(principal.user_id)

    async def revoke_all_sessions(self, ctx: RequestContext, principal: Principal, keep_current: bool) -> int:
        require_session(principal)
        keep = _parse_session_id(principal.session_id) if keep_current else None
        async with self.db.unit_of_work() as uow:
            n = await repo.revoke_all_sessions(uow.conn, principal.user_id, "revoked_all_by_user", keep)
            await audit.record(uow.conn, "sessions_revoked_all", user_id=principal.user_id, ip=ctx.ip,
                               user_agent=ctx.user_agent,
                               details={"revoked_tokens": n, "kept_current": keep is not None})
            await uow.commit()
        self.status_cache.invalidate(principal.user_id)
        return n

    async def me(self, principal: Principal) -> dict[str, Any]:
        user = await repo.user_by_id(self.db, principal.user_id)
        if user is None:
            raise AccountInactive()
        out = user_public(user)
        out.update({"session_id": principal.session_id, "api_key_id": principal.api_key_id,
                    "permissions": sorted(principal.permissions)})
        return out

    # ----------------------------------------------------------------------------------------- passwords
    async def change_password(self, ctx: RequestContext, principal: Principal, current: str, new: str) -> None:
        """Needs the current password; signs out every other session and emails a notice."""
        require_session(principal)
        settings = self.settings
        await self.limit(limits.LOGIN_ACCOUNT, f"user:{principal.user_id}")
        user = await repo.user_by_id(self.db, principal.user_id)
        if user is None:
            raise AccountInactive()
        if not await verify_password(settings, user["password_hash"], current):
            await audit.record(self.db, "password_change_failed", user_id=user["id"], ip=ctx.ip,
                               user_agent=ctx.user_agent)
            raise WrongPassword()
        check_new_password(new, user["email"])
        new_hash = await hash_password(settings, new)
        async with self.db.unit_of_work() as uow:
            await repo.set_password(uow.conn, user["id"], new_hash)
            await repo.revoke_all_sessions(uow.conn, user["id"], "password_changed",
                                           _parse_session_id(principal.session_id))
            await audit.record(uow.conn, "password_changed", user_id=user["id"], ip=ctx.ip, user_agent=ctx.user_agent)
            await self._security_notice(uow.conn, ctx, user["email"], "Your password was changed.")
            self._wake_after(uow)
            await uow.commit()
        self.status_cache.invalidate(user["id"])

    async def forgot_password(self, ctx: RequestContext, email_raw: str) -> None:
        """Email a single-use reset link if the account exists; the answer is the same either way."""
        await self.limit(limits.FORGOT_IP, ctx.ip)
        email = email_or_422(email_raw)
        await self.limit(limits.FORGOT_ACCOUNT, email)
        settings = self.settings
        token = new_secret("pr_")
        async with self.db.unit_of_work() as uow:
            user = await repo.user_by_email(uow.conn, email)
            if user is None or user["status"] != "active":
                return
            await repo.insert_email_token(uow.conn, user["id"], "reset_password", hash_secret(token),
                                          settings.password_reset_ttl_s)
            await enqueue_email(uow.conn, settings, to=email, template="password_reset",
                                vars={"expires_minutes": settings.password_reset_ttl_s // 60},
                                secret_vars={"link": self._link("/api/v1/auth/reset-password", token)})
            await audit.record(uow.conn, "password_reset_requested", user_id=user["id"], ip=ctx.ip,
                               user_agent=ctx.user_agent)
            self._wake_after(uow)
            await uow.commit()

    async def reset_password(self, ctx: RequestContext, token: str, new_password: str) -> None:
        """Spend a reset token: new password, every session signed out, lockouts cleared, email proven."""
        await self.limit(limits.RESET_IP, ctx.ip)
        settings = self.settings
        row = await repo.email_token_peek(self.db, hash_secret(token), "reset_password")
        if row is None or row["used_at"] is not None or row["expired"]:
            raise InvalidEmailToken()
        check_new_password(new_password, row["email"])  # before spending the token, so a retry is possible
        new_hash = await hash_password(settings, new_password)
        async with self.db.unit_of_work() as uow:
            row = await repo.email_token(uow.conn, hash_secret(token), "reset_password")
            if row is None or row["used_at"] is not None or row["expired"]:
                raise InvalidEmailToken()  # spent concurrently
            user = await repo.user_by_id(uow.conn, row["user_id"], for_update=True)
            if user is None or user["status"] != "active":
                raise InvalidEmailToken()
            await repo.use_email_tokens(uow.conn, user["id"], "reset_password")
            await repo.set_password(uow.conn, user["id"], new_hash)
            await repo.mark_email_verified(uow.conn, user["id"])  # the link proved the address
            await repo.revoke_all_sessions(uow.conn, user["id"], "password_reset")
            await repo.clear_login_failures(uow.conn, user["id"])
            await audit.record(uow.conn, "password_reset", user_id=user["id"], ip=ctx.ip, user_agent=ctx.user_agent)
            await self._security_notice(uow.conn, ctx, user["email"], "Your password was reset.")
            self._wake_after(uow)
            await uow.commit()
        self.status_cache.invalidate(user["id"])

    async def security_events(self, principal: Principal, limit_: int, before_id: int | None) -> list[dict]:
        rows = await repo.security_events(self.db, principal.user_id, limit_, before_id)
        return [{"id": r["id"], "event": r["event"], "ip": r["ip"], "user_agent": r["user_agent"],
                 "details": r["details"] or {}, "created_at": repo.iso(r["created_at"])} for r in rows]


__all__ = ["AuthService", "RequestContext", "Session", "require_session", "InvalidCredentials"]
