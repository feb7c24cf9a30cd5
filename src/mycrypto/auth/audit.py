"""The security audit log: who did what, when, from where. Written in the caller's transaction."""
from __future__ import annotations

from typing import Any

from ..db.database import Queryable


async def record(conn: Queryable, event: str, *, user_id: int | None = None, actor_user_id: int | None = None,
                 ip: str | None = None, user_agent: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
    """Append one audit event (e.g. 'login_failed', 'withdrawal_approved'); never raises on details."""
    await conn.execute(
        "INSERT INTO auth.audit_log (user_id, actor_user_id, event, ip, user_agent, details) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        user_id, actor_user_id, event, ip, (user_agent or "")[:400] or None, details or {})
