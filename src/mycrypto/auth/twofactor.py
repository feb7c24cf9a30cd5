"""2FA use cases of `AuthService`: enroll (secret + otpauth URI), confirm (turns it on, issues recovery
codes), disable and regenerate recovery codes (both need a current code). The per-request check other
services call is `auth.totp.check_second_factor`.

The TOTP secret is stored encrypted (common.crypto, purpose `totp-secret`); recovery codes only as
hashes. Confirming records the code's time step, so that code cannot be replayed at login.
"""
from __future__ import annotations

from typing import Any

import pyotp

from ..common.crypto import decrypt, encrypt
from . import audit
from . import repository as repo
from .core import AuthCore, RequestContext, require_session
from .domain import limits
from .domain.tokens import new_recovery_codes
from .errors import AccountInactive, TotpAlreadyEnabled, TotpNotEnabled, TotpNotEnrolled
from .principal import Principal
from .totp import TOTP_PURPOSE, InvalidSecondFactor, check_second_factor, hash_recovery_code, matching_step

ISSUER = "MyCrypto"


class TwoFactor(AuthCore):
    """The 2FA use cases of AuthService."""

    def _data_key(self) -> Any:
        return self.settings.data_keys

    async def _totp_limits(self, ctx: RequestContext, user_id: int) -> None:
        await self.limit(limits.TOTP_IP, ctx.ip)
        await self.limit(limits.TOTP_ACCOUNT, user_id)

    async def enroll_totp(self, ctx: RequestContext, principal: Principal) -> dict[str, str]:
        """Start enrollment: a new secret (replacing any unconfirmed one). 2FA is not on until confirmed."""
        require_session(principal)
        secret = pyotp.random_base32()
        async with self.db.unit_of_work() as uow:
            user = await repo.user_by_id(uow.conn, principal.user_id, for_update=True)
            if user is None:
                raise AccountInactive()
            if user["totp_enabled_at"] is not None:
                raise TotpAlreadyEnabled()
            await repo.set_pending_totp(uow.conn, user["id"], encrypt(self._data_key(), TOTP_PURPOSE, secret))
            await audit.record(uow.conn, "totp_enroll_started", user_id=user["id"], ip=ctx.ip,
                               user_agent=ctx.user_agent)
            await uow.commit()
        uri = pyotp.TOTP(secret).provisioning_uri(name=user["email"], issuer_name=ISSUER)
        return {"secret": secret, "otpauth_uri": uri}

    async def confirm_totp(self, ctx: RequestContext, principal: Principal, code: str) -> list[str]:
        """Turn 2FA on with a code from the app; returns ten one-time recovery codes (shown once)."""
        require_session(principal)
        await self._totp_limits(ctx, principal.user_id)
        codes = new_recovery_codes()
        async with self.db.unit_of_work() as uow:
            user = await repo.user_by_id(uow.conn, principal.user_id, for_update=True)
            if user is None:
                raise AccountInactive()
            if user["totp_enabled_at"] is not None:
                raise TotpAlreadyEnabled()
            if user["totp_secret_enc"] is None:
                raise TotpNotEnrolled()
            secret = decrypt(self._data_key(), TOTP_PURPOSE, user["totp_secret_enc"])
            step = matching_step(secret, (code or "").strip())
            if step is None:
                raise InvalidSecondFactor()
            await repo.enable_totp(uow.conn, user["id"], step)
            await repo.replace_recovery_codes(uow.conn, user["id"], [hash_recovery_code(c) for c in codes])
            await audit.record(uow.conn, "totp_enabled", user_id=user["id"], ip=ctx.ip, user_agent=ctx.user_agent)
            await self._security_notice(uow.conn, ctx, user["email"], "Two-factor authentication was turned on.")
            self._wake_after(uow)
            await uow.commit()
        self.status_cache.invalidate(principal.user_id)
        return codes

    async def disable_totp(self, ctx: RequestContext, principal: Principal, code: str) -> None:
        """Turn 2FA off; needs a current code (or a recovery code)."""
        require_session(principal)
        await self._totp_limits(ctx, principal.user_id)
        async with self.db.unit_of_work() as uow:
            user = await repo.user_by_id(uow.conn, principal.user_id)
            if user is None:
                raise AccountInactive()
            if user["totp_enabled_at"] is None:
                raise TotpNotEnabled()
            await check_second_factor(uow.conn, self.settings, user["id"], code)
            await repo.disable_totp(uow.conn, user["id"])
            await audit.record(uow.conn, "totp_disabled", user_id=user["id"], ip=ctx.ip, user_agent=ctx.user_agent)
            await self._security_notice(uow.conn, ctx, user["email"], "Two-factor authentication was turned off.")
            self._wake_after(uow)
            await uow.commit()
        self.status_cache.invalidate(principal.user_id)

    async def regenerate_recovery_codes(self, ctx: RequestContext, principal: Principal, code: str) -> list[str]:
        """Replace all recovery codes (the old ones stop working); needs a current code."""
        require_session(principal)
        await self._totp_limits(ctx, principal.user_id)
        codes = new_recovery_codes()
        async with self.db.unit_of_work() as uow:
            user = await repo.user_by_id(uow.conn, principal.user_id)
            if user is None or user["totp_enabled_at"] is None:
                raise TotpNotEnabled()
            await check_second_factor(uow.conn, self.settings, user["id"], code)
            await repo.replace_recovery_codes(uow.conn, user["id"], [hash_recovery_code(c) for c in codes])
            await audit.record(uow.conn, "recovery_codes_regenerated", user_id=user["id"], ip=ctx.ip,
                               user_agent=ctx.user_agent)
            await uow.commit()
        return codes
