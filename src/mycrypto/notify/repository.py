"""SQL of the notifier: delivery records in ops.email_delivery (dedup of redeliveries, dead letters)."""
from __future__ import annotations

from typing import Any

from ..db.database import Queryable


async def already_sent(db: Queryable, outbox_id: int) -> bool:
    return bool(await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM ops.email_delivery WHERE outbox_id = $1 AND status = 'sent')", outbox_id))


async def record(db: Queryable, *, outbox_id: int, topic: str, recipient: str, status: str, attempts: int,
                 error: str | None = None) -> None:
    await db.execute(
        "INSERT INTO ops.email_delivery (outbox_id, topic, recipient, status, attempts, last_error) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (outbox_id) DO UPDATE SET status = EXCLUDED.status, "
        "attempts = EXCLUDED.attempts, last_error = EXCLUDED.last_error, updated_at = now()",
        outbox_id, topic, recipient[:320], status, attempts, (error or "")[:1000] or None)


async def dead_letters(db: Queryable, limit: int = 100) -> list[Any]:
    return await db.fetch("SELECT outbox_id, topic, recipient, attempts, last_error, updated_at "
                          "FROM ops.email_delivery WHERE status = 'dead' ORDER BY updated_at DESC LIMIT $1", limit)
