"""SQL of the auth service (use cases, principals, the CLI). Every function receives a connection (or the
pool, for a read outside a transaction) and never commits. Rows come back as asyncpg Records.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ..db.database import Queryable

# Lists without a `limit` parameter (sessions, API keys) still have a cap: the newest rows first (active
# keys before revoked ones), never an unbounded answer (issue 11, pagination caps).
MAX_LISTED = 200

_USER_COLUMNS = ("id, email, password_hash, role::text AS role, status::text AS status, email_verified_at, "
                 "totp_secret_enc, totp_enabled_at, totp_last_step, failed_login_count, locked_until, "
                 "last_failed_login_at, password_changed_at, created_at")


# ------------------------------------------------------------------------------------------- users
async def insert_user(conn: Queryable, email: str, password_hash: str, *, role: str = "user",
                      verified: bool = False) -> int | None:
    """The new user's id, or None when the email is taken (no exception, no partial row)."""
    return await conn.fetchval(
        "INSERT INTO auth.app_user (email, password_hash, role, email_verified_at) "
        "VALUES ($1, $2, $3::auth.user_role, CASE WHEN $4 THEN now() END) "
        "ON CONFLICT (email) DO NOTHING RETURNING id", email, password_hash, role, verified)


async def user_by_email(conn: Queryable, email: str, *, for_update: bool = False) -> Any:
    lock = " FOR NO KEY UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM auth.app_user WHERE email = $1{lock}", email)


async def user_by_id(conn: Queryable, user_id: int, *, for_update: bool = False) -> Any:
    lock = " FOR NO KEY UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM auth.app_user WHERE id = $1{lock}", user_id)


async def user_status(conn: Queryable, user_id: int, revoked_window_s: int) -> Any:
    """What authorising a request needs of a user (principal.UserStatusCache): role, status, email and 2FA
    state, and the sessions revoked within the last `revoked_window_s` seconds."""
    return await conn.fetchrow(
        "SELECT u.id, u.email, u.role::text AS role, u.status::text AS status, "
        "u.email_verified_at IS NOT NULL AS verified, u.totp_enabled_at IS NOT NULL AS totp, "
        "ARRAY(SELECT DISTINCT r.family_id::text FROM auth.refresh_token r WHERE r.user_id = u.id "
        "      AND r.revoked_at > now() - make_interval(secs => $2)) AS revoked "
        "FROM auth.app_user u WHERE u.id = $1", user_id, revoked_window_s)


async def mark_email_verified(conn: Queryable, user_id: int) -> None:
    await conn.execute("UPDATE auth.app_user SET email_verified_at = COALESCE(email_verified_at, now()), "
                       "updated_at = now() WHERE id = $1", user_id)


async def set_password(conn: Queryable, user_id: int, password_hash: str) -> None:
    await conn.execute("UPDATE auth.app_user SET password_hash = $2, password_changed_at = now(), "
                       "updated_at = now() WHERE id = $1", user_id, password_hash)


async def upgrade_password_hash(conn: Queryable, user_id: int, password_hash: str) -> None:
    """Same password, stronger parameters: not a password change (sessions stay)."""
    await conn.execute("UPDATE auth.app_user SET password_hash = $2, updated_at = now() WHERE id = $1",
                       user_id, password_hash)


async def set_role(conn: Queryable, user_id: int, role: str) -> None:
    await conn.execute("UPDATE auth.app_user SET role = $2::auth.user_role, updated_at = now() WHERE id = $1",
                       user_id, role)


# ------------------------------------------------------------------------------------------ lockout
async def login_failure(conn: Queryable, user_id: int, ip: str) -> Any:
    return await conn.fetchrow("SELECT failures, locked_until, last_failed_at FROM auth.login_failure "
                               "WHERE user_id = $1 AND ip = $2", user_id, ip)


async def save_ip_failure(conn: Queryable, user_id: int, ip: str, failures: int, lock_s: int) -> None:
    await conn.execute(
        "INSERT INTO auth.login_failure (user_id, ip, failures, locked_until, last_failed_at) "
        "VALUES ($1, $2, $3, CASE WHEN $4 > 0 THEN now() + make_interval(secs => $4) END, now()) "
        "ON CONFLICT (user_id, ip) DO UPDATE SET failures = EXCLUDED.failures, "
        "locked_until = EXCLUDED.locked_until, last_failed_at = now()", user_id, ip, failures, lock_s)


async def save_account_failure(conn: Queryable, user_id: int, failures: int, lock_s: int) -> None:
    await conn.execute(
        "UPDATE auth.app_user SET failed_login_count = $2, last_failed_login_at = now(), "
        "locked_until = CASE WHEN $3 > 0 THEN now() + make_interval(secs => $3) ELSE locked_until END "
        "WHERE id = $1", user_id, failures, lock_s)


async def clear_login_failures(conn: Queryable, user_id: int, ip: str | None = None) -> None:
    """After a successful login (that IP) or a password reset (every IP): counters and locks go."""
    if ip is None:
        await conn.execute("DELETE FROM auth.login_failure WHERE user_id = $1", user_id)
    else:
        await conn.execute("DELETE FROM auth.login_failure WHERE user_id = $1 AND ip = $2", user_id, ip)
    await conn.execute("UPDATE auth.app_user SET failed_login_count = 0, locked_until = NULL, "
                       "last_failed_login_at = NULL WHERE id = $1 AND (failed_login_count <> 0 "
                       "OR locked_until IS NOT NULL)", user_id)


# ------------------------------------------------------------------------------------- email tokens
async def insert_email_token(conn: Queryable, user_id: int, purpose: str, token_hash: bytes, ttl_s: int) -> None:
    await conn.execute(
        "INSERT INTO auth.email_token (user_id, purpose, token_hash, expires_at) "
        "VALUES ($1, $2::auth.email_token_purpose, $3, now() + make_interval(secs => $4))",
        user_id, purpose, token_hash, ttl_s)


async def email_token(conn: Queryable, token_hash: bytes, purpose: str) -> Any:
    """The token row, locked, with `expired` computed by the database clock."""
    return await conn.fetchrow(
        "SELECT id, user_id, used_at, expires_at <= now() AS expired FROM auth.email_token "
        "WHERE token_hash = $1 AND purpose = $2::auth.email_token_purpose FOR UPDATE", token_hash, purpose)


async def email_token_peek(conn: Queryable, token_hash: bytes, purpose: str) -> Any:
    """Like `email_token` but unlocked and with the owner's email (to validate input before spending)."""
    return await conn.fetchrow(
        "SELECT t.id, t.user_id, t.used_at, t.expires_at <= now() AS expired, u.email FROM auth.email_token t "
        "JOIN auth.app_user u ON u.id = t.user_id WHERE t.token_hash = $1 AND t.purpose = $2::auth.email_token_purpose",
        token_hash, purpose)


async def use_email_tokens(conn: Queryable, user_id: int, purpose: str) -> None:
    """Spend every open token of this purpose (the one used, and any older links still in inboxes)."""
    await conn.execute("UPDATE auth.email_token SET used_at = now() WHERE user_id = $1 "
                       "AND purpose = $2::auth.email_token_purpose AND used_at IS NULL", user_id, purpose)


# ----------------------------------------------------------------------------------- refresh tokens
async def insert_refresh_token(conn: Queryable, *, user_id: int, family_id: uuid.UUID, token_hash: bytes,
                               parent_id: int | None, ip: str | None, user_agent: str | None,
                               ttl_s: int) -> Any:
    return await conn.fetchrow(
        "INSERT INTO auth.refresh_token (user_id, family_id, token_hash, parent_id, ip, user_agent, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7)) RETURNING id, expires_at",
        user_id, family_id, token_hash, parent_id, ip, (user_agent or "")[:400] or None, ttl_s)


async def refresh_token(conn: Queryable, token_hash: bytes) -> Any:
    return await conn.fetchrow(
        "SELECT id, user_id, family_id, rotated_at, revoked_at, expires_at <= now() AS expired "
        "FROM auth.refresh_token WHERE token_hash = $1 FOR UPDATE", token_hash)


async def refresh_token_family(conn: Queryable, token_hash: bytes) -> str | None:
    """The session (family id) a refresh token belongs to, without locking it (the CSRF check of a
    cookie refresh/logout needs it before the use case runs)."""
    return await conn.fetchval("SELECT family_id::text FROM auth.refresh_token WHERE token_hash = $1", token_hash)


async def mark_rotated(conn: Queryable, token_id: int) -> None:
    await conn.execute("UPDATE auth.refresh_token SET rotated_at = now() WHERE id = $1", token_id)


async def revoke_family(conn: Queryable, user_id: int, family_id: uuid.UUID, reason: str) -> int:
    """Revoke every still-open token of one session; the number revoked (0 = nothing was open)."""
    result = await conn.execute(
        "UPDATE auth.refresh_token SET revoked_at = now(), revoked_reason = $3 "
        "WHERE user_id = $1 AND family_id = $2 AND revoked_at IS NULL", user_id, family_id, reason)
    return int(result.split()[-1])


async def revoke_all_sessions(conn: Queryable, user_id: int, reason: str,
                              keep_family: uuid.UUID | None = None) -> int:
    result = await conn.execute(
        "UPDATE auth.refresh_token SET revoked_at = now(), revoked_reason = $2 "
        "WHERE user_id = $1 AND revoked_at IS NULL AND ($3::uuid IS NULL OR family_id <> $3)",
        user_id, reason, keep_family)
    return int(result.split()[-1])


async def active_sessions(conn: Queryable, user_id: int) -> list[Any]:
    """One row per live session: its newest token (not rotated, not revoked, not expired)."""
    return await conn.fetch(
        "SELECT r.family_id, r.ip, r.user_agent, r.created_at AS last_used_at, r.expires_at, "
        "       (SELECT min(f.created_at) FROM auth.refresh_token f WHERE f.family_id = r.family_id) AS created_at "
        "FROM auth.refresh_token r WHERE r.user_id = $1 AND r.revoked_at IS NULL AND r.rotated_at IS NULL "
        "AND r.expires_at > now() ORDER BY r.created_at DESC LIMIT $2", user_id, MAX_LISTED)


async def session_is_active(conn: Queryable, user_id: int, family_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM auth.refresh_token WHERE user_id = $1 AND family_id = $2 "
        "AND revoked_at IS NULL AND rotated_at IS NULL AND expires_at > now())", user_id, family_id))


# --------------------------------------------------------------------------------------------- 2FA
async def set_pending_totp(conn: Queryable, user_id: int, secret_enc: str) -> None:
    await conn.execute("UPDATE auth.app_user SET totp_secret_enc = $2, totp_enabled_at = NULL, "
                       "totp_last_step = NULL, updated_at = now() WHERE id = $1", user_id, secret_enc)


async def enable_totp(conn: Queryable, user_id: int, step: int) -> None:
    await conn.execute("UPDATE auth.app_user SET totp_enabled_at = now(), totp_last_step = $2, "
                       "updated_at = now() WHERE id = $1", user_id, step)


async def disable_totp(conn: Queryable, user_id: int) -> None:
    await conn.execute("UPDATE auth.app_user SET totp_secret_enc = NULL, totp_enabled_at = NULL, "
                       "totp_last_step = NULL, updated_at = now() WHERE id = $1", user_id)
    await conn.execute("DELETE FROM auth.recovery_code WHERE user_id = $1", user_id)


async def replace_recovery_codes(conn: Queryable, user_id: int, code_hashes: list[bytes]) -> None:
    await conn.execute("DELETE FROM auth.recovery_code WHERE user_id = $1", user_id)
    await conn.execute("INSERT INTO auth.recovery_code (user_id, code_hash) SELECT $1, unnest($2::bytea[])",
                       user_id, code_hashes)


async def unused_recovery_codes(conn: Queryable, user_id: int) -> int:
    return await conn.fetchval("SELECT count(*) FROM auth.recovery_code WHERE user_id = $1 AND used_at IS NULL",
                               user_id)


# ---------------------------------------------------------------------------------------- API keys
_KEY_COLUMNS = "id, user_id, label, api_key, permissions, ip_allowlist, created_at, last_used_at, revoked_at"


async def count_active_api_keys(conn: Queryable, user_id: int) -> int:
    return await conn.fetchval("SELECT count(*) FROM auth.api_key WHERE user_id = $1 AND revoked_at IS NULL",
                               user_id)


async def insert_api_key(conn: Queryable, *, user_id: int, label: str, api_key: str, secret_enc: str,
                         permissions: list[str], ip_allowlist: list[str]) -> Any:
    return await conn.fetchrow(
        "INSERT INTO auth.api_key (user_id, label, api_key, secret_enc, permissions, ip_allowlist) "
        f"VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_KEY_COLUMNS}",
        user_id, label, api_key, secret_enc, permissions, ip_allowlist)


async def list_api_keys(conn: Queryable, user_id: int) -> list[Any]:
    return await conn.fetch(f"SELECT {_KEY_COLUMNS} FROM auth.api_key WHERE user_id = $1 "
                            "ORDER BY revoked_at IS NOT NULL, id DESC LIMIT $2", user_id, MAX_LISTED)


async def revoke_api_key(conn: Queryable, user_id: int, key_id: int) -> Any:
    """Revoke the user's own key; None when it does not exist, is someone else's, or is already revoked."""
    return await conn.fetchrow(
        f"UPDATE auth.api_key SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL "
        f"RETURNING {_KEY_COLUMNS}", key_id, user_id)


async def api_key_for_auth(conn: Queryable, api_key: str) -> Any:
    return await conn.fetchrow("SELECT id, user_id, secret_enc, permissions, ip_allowlist, revoked_at "
                               "FROM auth.api_key WHERE api_key = $1", api_key)


async def touch_api_key(conn: Queryable, key_id: int) -> None:
    await conn.execute("UPDATE auth.api_key SET last_used_at = now() WHERE id = $1", key_id)


# ------------------------------------------------------------------------------------------- audit
async def security_events(conn: Queryable, user_id: int, limit: int, before_id: int | None) -> list[Any]:
    return await conn.fetch(
        "SELECT id, event, ip, user_agent, details, created_at FROM auth.audit_log "
        "WHERE user_id = $1 AND ($3::bigint IS NULL OR id < $3) ORDER BY id DESC LIMIT $2",
        user_id, limit, before_id)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
