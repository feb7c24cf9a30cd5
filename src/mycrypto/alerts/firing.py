"""Firing alerts: one transaction per evaluated chunk of trades that, for each firing, conditionally
updates the alert, writes its history row, its email (outbox `email.price_alert`) and its private-stream
event (outbox `stream.user.alert_triggered`), and moves the market's evaluation cursor.

Exactly once: the alert's update only happens for a series position (`seq`) after its last firing,
while it is active and out of its cooldown; when it does not happen, nothing else is written for
that firing. A replay after a restart, or a second owner evaluating the same trades during a
takeover, therefore writes nothing twice (the row lock orders two such transactions, and the second
finds the condition false). The unique (alert_id, seq) of the history is the last line of defence.
"""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..notify import outbox
from ..notify.emails import enqueue_email
from ..common.markets import MarketSpec
from . import repository as repo
from .domain.conditions import Condition
from .domain.watch import Firing

STREAM_TOPIC = "stream.user.alert_triggered"
EMAIL_TEMPLATE = "price_alert"


def _s(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return "0" if value == 0 else format(value.normalize(), "f")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


async def record(db: Any, settings: Any, spec: MarketSpec, firings: list[Firing], position: int) -> int:
    """Write `firings` (in order) and the cursor `position` in one transaction; the number that fired."""
    fired = 0
    async with db.unit_of_work() as uow:
        conn = uow.conn
        for f in firings:
            done = await repo.fire(conn, f.alert_id, f.seq, f.ms, f.trade_id, f.price, f.value)
            if done is None:
                continue
            row, event_id = done
            fired += 1
            condition = Condition.from_row(row["condition"], row["direction"], row["level"], row["params"])
            what = condition.describe(spec.symbol)
            event = {"type": "alert_triggered", "alert_id": row["id"], "history_id": event_id,
                     "symbol": spec.symbol, "condition": condition.to_wire(), "description": what,
                     "price": _s(f.price), "value": _s(f.value), "trade_id": f.trade_id, "time": f.ms,
                     "status": row["status"], "repeat": row["repeating"], "fire_count": row["fire_count"],
                     "note": row["note"]}
            await outbox.enqueue(conn, STREAM_TOPIC, {"user_id": row["user_id"], "event": event})
            if row["notify_email"]:
                await enqueue_email(conn, settings, to=row["email"], template=EMAIL_TEMPLATE, vars={
                    "what": what, "price": f"{_s(f.price)} {spec.quote}",
                    "value": _s(f.value) if f.value is not None else "-", "when": _iso(f.ms),
                    "note_line": f"Your note: {row['note']}" if row["note"] else ""})
        await repo.save_cursor(conn, spec.id, position)
        await uow.commit()
    return fired
