"""The security audit log: who did what, when, from where. Written in the caller's transaction.

Events a user should see as they happen (`STREAM_EVENTS`: a new sign-in, 2FA turned on or off, password or
API-key changes) also go to the outbox as `stream.user.security`, in the same transaction, for the user's
private WebSocket stream (docs/streams.md).
"""
from __future__ import annotations

import time
from typing import Any

from ..db.database import Queryable
from ..notify.outbox import enqueue

STREAM_EVENTS = frozenset({"login", "totp_enabled", "totp_disabled", "password_changed", "password_reset",
                           "api_key_created", "api_key_revoked", "sessions_revoked_all", "refresh_token_reused",
                           "recovery_codes_regenerated"})


async def record(conn: Queryable, event: str, *, user_id: int | None = None, actor_user_id: int | None = None,
                 ip: str | None = None, user_agent: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
    """Append one audit event (e.g. 'login_failed', 'withdrawal_approved'); never raises on details."""
    await conn.execute(
        "INSERT INTO auth.audit_log (user_id, actor_user_id, event, ip, user_agent, details) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        user_id, actor_user_id, event, ip, (user_agent or "")[:400] or None, details or {})
    if user_id is not None and event in STREAM_EVENTS:
        await enqueue(conn, "stream.user.security", {"user_id": user_id, "event": event, "ip": ip,
                                                      "time": time.time_ns() // 1_000_000})
