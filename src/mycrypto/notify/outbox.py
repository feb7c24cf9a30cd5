"""Write side effects into the outbox in the caller's transaction; the relay delivers them later.

Topics are dotted names (`email.verify_email`, `email.password_reset`, `wallet.deposit_credited`, ...).
Because the row commits with the business change, an email is never sent for something that rolled
back, and never lost for something that committed. The relay (`notify.relay`) claims pending rows
with FOR UPDATE SKIP LOCKED (replicas share the work), delivers them, and marks them sent only after
delivery was confirmed; a failed delivery is retried later with backoff, never dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..db.database import Queryable


async def enqueue(conn: Queryable, topic: str, payload: dict[str, Any]) -> int:
    return await conn.fetchval("INSERT INTO ops.outbox (topic, payload) VALUES ($1, $2) RETURNING id",
                               topic, payload)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    topic: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


async def claim(conn: Queryable, topic_prefix: str, limit: int) -> list[OutboxRow]:
    """Lock up to `limit` due rows of a topic family; other relays skip them until we commit."""
    rows = await conn.fetch(
        "SELECT id, topic, payload, attempts, created_at FROM ops.outbox "
        "WHERE sent_at IS NULL AND available_at <= now() AND topic LIKE $1 "
        "ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED", topic_prefix.replace("%", r"\%") + "%", limit)
    return [OutboxRow(r["id"], r["topic"], r["payload"], r["attempts"], r["created_at"]) for r in rows]


async def mark_sent(conn: Queryable, ids: list[int], note: str | None = None) -> None:
    if ids:
        await conn.execute("UPDATE ops.outbox SET sent_at = now(), attempts = attempts + 1, last_error = $2 "
                           "WHERE id = ANY($1::bigint[])", ids, note)


async def mark_failed(conn: Queryable, row_id: int, error: str, retry_in_s: float) -> None:
    await conn.execute("UPDATE ops.outbox SET attempts = attempts + 1, last_error = $2, "
                       "available_at = now() + make_interval(secs => $3) WHERE id = $1",
                       row_id, error[:1000], float(retry_in_s))


async def pending_count(conn: Queryable, topic_prefix: str = "") -> int:
    return await conn.fetchval("SELECT count(*) FROM ops.outbox WHERE sent_at IS NULL AND topic LIKE $1",
                               topic_prefix.replace("%", r"\%") + "%")
