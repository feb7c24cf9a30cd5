"""Write side effects into the outbox in the caller's transaction; the relay delivers them later.

Topics are dotted names (`email.verify`, `email.password_reset`, `wallet.deposit_credited`, ...).
Because the row commits with the business change, an email is never sent for something that rolled
back, and never lost for something that committed.
"""
from __future__ import annotations

from typing import Any


async def enqueue(conn: Any, topic: str, payload: dict[str, Any]) -> int:
    return await conn.fetchval("INSERT INTO ops.outbox (topic, payload) VALUES ($1, $2) RETURNING id",
                               topic, payload)
