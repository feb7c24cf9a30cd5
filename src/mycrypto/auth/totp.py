"""TOTP (RFC 6238) codes with replay protection, and the second-factor check other services call.

`check_second_factor` is what withdrawals, API-key creation and 2FA changes call: when the user has
2FA on, a valid code (or an unused recovery code) is required; a code whose time step was already
used is refused (replay). The user row is locked FOR NO KEY UPDATE (which, unlike FOR UPDATE, does
not block inserting rows that reference the user, such as orders) so two requests cannot both spend the
same code.
"""
from __future__ import annotations

import hashlib
import logging
import hmac
import time
from typing import Any

import pyotp

from ..common.crypto import DecryptError, decrypt, key_id_of
from ..common.errors import AppError

TOTP_PURPOSE = "totp-secret"
log = logging.getLogger("mycrypto.auth.totp")
VALID_WINDOW = 1  # accept the previous/next 30 s step for clock drift


class SecondFactorRequired(AppError):
    code, http_status, message = "totp_required", 401, "A 2FA code is required for this action."


class InvalidSecondFactor(AppError):
    code, http_status, message = "invalid_totp", 401, "The 2FA code is invalid or was already used."


def matching_step(secret: str, code: str, now: float | None = None, window: int = VALID_WINDOW) -> int | None:
    """The 30-second time step the code belongs to, or None if it matches none in the window."""
    if not (isinstance(code, str) and len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    step_now = int(now) // totp.interval
    for step in range(step_now - window, step_now + window + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def hash_recovery_code(code: str) -> bytes:
    normalised = code.strip().replace("-", "").lower()
    return hashlib.sha256(normalised.encode()).digest()


async def check_second_factor(conn: Any, settings: Any, user_id: int, code: str | None, *,
                              now: float | None = None) -> bool:
    """Enforce 2FA for a sensitive action inside the caller's transaction.

    Returns False when the user has no 2FA (nothing to check), True when a code was accepted.
    Raises SecondFactorRequired / InvalidSecondFactor otherwise.
    """
    row = await conn.fetchrow(
        "SELECT totp_secret_enc, totp_enabled_at, totp_last_step FROM auth.app_user WHERE id = $1 FOR NO KEY UPDATE",
        user_id)
    if row is None or row["totp_enabled_at"] is None:
        return False
    if not code:
        raise SecondFactorRequired()
    code = code.strip()
    try:
        secret = decrypt(settings.data_keys, TOTP_PURPOSE, row["totp_secret_enc"])
    except DecryptError:
        # the seed's data-encryption key was retired too early: the authenticator cannot be checked, but
        # a recovery code still can (below); logged so the operator puts the key back
        log.error("user %s: TOTP seed does not decrypt (data key id %s not configured?)", user_id,
                  key_id_of(row["totp_secret_enc"]))
        secret = None
    step = matching_step(secret, code, now) if secret is not None else None
    if step is not None:
        if row["totp_last_step"] is not None and step <= row["totp_last_step"]:
            raise InvalidSecondFactor()  # replay of a code (or an older one) already used
        await conn.execute("UPDATE auth.app_user SET totp_last_step = $2 WHERE id = $1", user_id, step)
        return True
    used = await conn.fetchval(
        "UPDATE auth.recovery_code SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL "
        "RETURNING id", user_id, hash_recovery_code(code))
    if used is None:
        raise InvalidSecondFactor()
    return True
