"""2FA use cases: enroll (secret + otpauth URI), confirm (turns it on, issues recovery codes),
disable and regenerate recovery codes (both need a current code). The per-request check other
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
from .domain import limits
from .domain.tokens import new_recovery_codes
from .errors import AccountInactive, TotpAlreadyEnabled, TotpNotEnabled, TotpNotEnrolled
from .principal import Principal, user_status_cache
from .service import RequestContext, _security_notice, _wake_after, limit, require_session
from .totp import TOTP_PURPOSE, InvalidSecondFactor, check_second_factor, hash_recovery_code, matching_step

ISSUER = "MyCrypto"


def _key(container: Any) -> str:
    return container.settings.data_encryption_key.get_secret_value()


async def _limits(container: Any, ctx: RequestContext, user_id: int) -> None:
    await limit(container, limits.TOTP_IP, ctx.ip)
    await limit(container, limits.TOTP_ACCOUNT, user_id)


async def enroll(container: Any, ctx: RequestContext, principal: Principal) -> dict[str, str]:
    """Start enrollment: a new secret (replacing any unconfirmed one). 2FA is not on until confirmed."""
    require_session(principal)
    secret = pyotp.random_base32()
    async with container.db.unit_of_work() as uow:
        user = await repo.user_by_id(uow.conn, principal.user_id, for_update=True)
        if user is None:
            raise AccountInactive()
        if user["totp_enabled_at"] is not None:
            raise TotpAlreadyEnabled()
        await repo.set_pending_totp(uow.conn, user["id"], encrypt(_key(container), TOTP_PURPOSE, secret))
        await audit.record(uow.conn, "totp_enroll_started", user_id=user["id"], ip=ctx.ip, user_agent=ctx.user_agent)
        await uow.commit()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user["email"], issuer_name=ISSUER)
    return {"secret": secret, "otpauth_uri": uri}


async def confirm(container: Any, ctx: RequestContext, principal: Principal, code: str) -> list[str]:
    """Turn 2FA on with a code from the app; returns ten one-time recovery codes (shown once)."""
    require_session(principal)
    await _limits(container, ctx, principal.user_id)
    codes = new_recovery_codes()
    async with container.db.unit_of_work() as uow:
        user = await repo.user_by_id(uow.conn, principal.user_id, for_update=True)
        if user is None:
            raise AccountInactive()
        if user["totp_enabled_at"] is not None:
            raise TotpAlreadyEnabled()
        if user["totp_secret_enc"] is None:
            raise TotpNotEnrolled()
        secret = decrypt(_key(container), TOTP_PURPOSE, user["totp_secret_enc"])
        step = matching_step(secret, (code or "").strip())
        if step is None:
            raise InvalidSecondFactor()
        await repo.enable_totp(uow.conn, user["id"], step)
        await repo.replace_recovery_codes(uow.conn, user["id"], [hash_recovery_code(c) for c in codes])
        await audit.record(uow.conn, "totp_enabled", user_id=user["id"], ip=ctx.ip, user_agent=ctx.user_agent)
        await _security_notice(uow.conn, container, ctx, user["email"], "Two-factor authentication was turned on.")
        _wake_after(uow, container)
        await uow.commit()
    user_status_cache(container).invalidate(principal.user_id)
    return codes


async def disable(container: Any, ctx: RequestContext, principal: Principal, code: str) -> None:
    """Turn 2FA off; needs a current code (or a recovery code)."""
    require_session(principal)
    await _limits(container, ctx, principal.user_id)
    async with container.db.unit_of_work() as uow:
        user = await repo.user_by_id(uow.conn, principal.user_id)
        if user is None:
            raise AccountInactive()
        if user["totp_enabled_at"] is None:
            raise TotpNotEnabled()
        await check_second_factor(uow.conn, container.settings, user["id"], code)
        await repo.disable_totp(uow.conn, user["id"])
        await audit.record(uow.conn, "totp_disabled", user_id=user["id"], ip=ctx.ip, user_agent=ctx.user_agent)
        await _security_notice(uow.conn, container, ctx, user["email"], "Two-factor authentication was turned off.")
        _wake_after(uow, container)
        await uow.commit()
    user_status_cache(container).invalidate(principal.user_id)


async def regenerate_recovery_codes(container: Any, ctx: RequestContext, principal: Principal, code: str) -> list[str]:
    """Replace all recovery codes (the old ones stop working); needs a current code."""
    require_session(principal)
    await _limits(container, ctx, principal.user_id)
    codes = new_recovery_codes()
    async with container.db.unit_of_work() as uow:
        user = await repo.user_by_id(uow.conn, principal.user_id)
        if user is None or user["totp_enabled_at"] is None:
            raise TotpNotEnabled()
        await check_second_factor(uow.conn, container.settings, user["id"], code)
        await repo.replace_recovery_codes(uow.conn, user["id"], [hash_recovery_code(c) for c in codes])
        await audit.record(uow.conn, "recovery_codes_regenerated", user_id=user["id"], ip=ctx.ip,
                           user_agent=ctx.user_agent)
        await uow.commit()
    return codes
