"""SQL of the alerts: the user's alerts and history, the evaluator's reads, and the firing itself.

Functions receive a connection and never commit. `NOTIFY_CHANNEL` tells the owner of a market that
one of its alerts was created or deleted (delivered when the writing transaction commits).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

NOTIFY_CHANNEL = "mycrypto_alerts"

ALERT_COLUMNS = (
    "a.id, a.user_id, a.market_id, a.condition, a.direction, a.level, a.params, a.repeating, a.cooldown_s, "
    "a.notify_email, a.note, a.status, a.since_trade_id, a.adopted_at IS NOT NULL AS adopted, a.fire_count, "
    "a.last_fired_seq, "
    "(extract(epoch FROM a.last_fired_at) * 1000)::bigint AS last_fired_ms, "
    "(extract(epoch FROM a.created_at) * 1000)::bigint AS created_ms, "
    "(extract(epoch FROM a.updated_at) * 1000)::bigint AS updated_ms")
EVENT_COLUMNS = (
    "e.id, e.alert_id, e.market_id, e.seq, e.trade_id, e.price, e.value, "
    "(extract(epoch FROM e.event_at) * 1000)::bigint AS event_ms, "
    "(extract(epoch FROM e.created_at) * 1000)::bigint AS created_ms")


def row_dict(row: Any) -> dict[str, Any]:
    out = dict(row)
    if isinstance(out["params"], str | bytes):   # (the pool decodes jsonb; a bare connection returns text)
        out["params"] = orjson.loads(out["params"])
    return out


async def notify(conn: Any, market_id: int, alert_id: int, op: str) -> None:
    """op: 'c' created, 'd' deleted. Delivered to listeners when the transaction commits."""
    await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, f"{market_id}:{alert_id}:{op}")


# ---------------------------------------------------------------------------- the user's alerts
async def lock_user(conn: Any, user_id: int) -> None:
    """Serialise one user's alert creations (the per-user limit is counted under this lock)."""
    await conn.execute("SELECT 1 FROM auth.app_user WHERE id = $1 FOR NO KEY UPDATE", user_id)


async def count_active(conn: Any, user_id: int) -> int:
    return await conn.fetchval("SELECT count(*) FROM trade.price_alert WHERE user_id = $1 AND status = 'active'",
                               user_id)


async def last_trade(conn: Any, market_id: int) -> tuple[int, Decimal | None]:
    """(id, price) of the market's newest committed trade; (0, None) if it has none."""
    row = await conn.fetchrow("SELECT id, price FROM trade.trade WHERE market_id = $1 ORDER BY id DESC LIMIT 1",
                              market_id)
    return (row["id"], row["price"]) if row is not None else (0, None)


async def insert_alert(conn: Any, *, user_id: int, market_id: int, condition: str, direction: str, level: Decimal,
                       params: dict, repeating: bool, cooldown_s: int, notify_email: bool, note: str,
                       since_trade_id: int) -> dict[str, Any]:
    row = await conn.fetchrow(
        "INSERT INTO trade.price_alert AS a (user_id, market_id, condition, direction, level, params, repeating, "
        "cooldown_s, notify_email, note, since_trade_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
        f"RETURNING {ALERT_COLUMNS}",
        user_id, market_id, condition, direction, level, params, repeating, cooldown_s,
        notify_email, note, since_trade_id)
    # the cursor row exists from the first alert on, so an evaluator starting later knows where to begin
    await conn.execute("INSERT INTO trade.alert_cursor (market_id, last_trade_id) VALUES ($1, $2) "
                       "ON CONFLICT (market_id) DO NOTHING", market_id, since_trade_id)
    return row_dict(row)


async def get_alert(conn: Any, user_id: int, alert_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {ALERT_COLUMNS} FROM trade.price_alert a "
                              "WHERE a.id = $1 AND a.user_id = $2 AND a.status <> 'deleted'", alert_id, user_id)
    return row_dict(row) if row is not None else None


async def list_alerts(conn: Any, user_id: int, *, market_id: int | None, status: str | None, before_id: int | None,
                      limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {ALERT_COLUMNS} FROM trade.price_alert a WHERE a.user_id = $1 AND a.status <> 'deleted' "
        "AND ($2::int IS NULL OR a.market_id = $2) AND ($3::text IS NULL OR a.status = $3) "
        "AND ($4::bigint IS NULL OR a.id < $4) ORDER BY a.id DESC LIMIT $5",
        user_id, market_id, status, before_id, limit)
    return [row_dict(r) for r in rows]


async def delete_alert(conn: Any, user_id: int, alert_id: int) -> dict[str, Any] | None:
    """Soft delete (its history stays readable); None if the user has no such alert."""
    row = await conn.fetchrow(
        "UPDATE trade.price_alert a SET status = 'deleted', deleted_at = now(), updated_at = now() "
        f"WHERE a.id = $1 AND a.user_id = $2 AND a.status <> 'deleted' RETURNING {ALERT_COLUMNS}", alert_id, user_id)
    return row_dict(row) if row is not None else None


async def history(conn: Any, user_id: int, *, alert_id: int | None, market_id: int | None, before_id: int | None,
                  limit: int) -> list[Any]:
    return await conn.fetch(
        f"SELECT {EVENT_COLUMNS}, a.condition, a.direction, a.level, a.params, a.note FROM trade.price_alert_event e "
        "JOIN trade.price_alert a ON a.id = e.alert_id WHERE e.user_id = $1 "
        "AND ($2::bigint IS NULL OR e.alert_id = $2) AND ($3::int IS NULL OR e.market_id = $3) "
        "AND ($4::bigint IS NULL OR e.id < $4) ORDER BY e.id DESC LIMIT $5",
        user_id, alert_id, market_id, before_id, limit)


# ---------------------------------------------------------------------------- the evaluator
async def cursor(conn: Any, market_id: int) -> int | None:
    return await conn.fetchval("SELECT last_trade_id FROM trade.alert_cursor WHERE market_id = $1", market_id)


async def save_cursor(conn: Any, market_id: int, last_trade_id: int) -> None:
    # GREATEST: an old owner still finishing must not move a new owner's cursor back
    await conn.execute(
        "INSERT INTO trade.alert_cursor AS c (market_id, last_trade_id) VALUES ($1, $2) ON CONFLICT (market_id) "
        "DO UPDATE SET last_trade_id = GREATEST(c.last_trade_id, EXCLUDED.last_trade_id), updated_at = now()",
        market_id, last_trade_id)


async def trade_at(conn: Any, market_id: int, trade_id: int) -> Any:
    """(id, price, ms) of the last trade at or before `trade_id`, or None."""
    return await conn.fetchrow(
        "SELECT id, price, (extract(epoch FROM created_at) * 1000)::bigint AS ms FROM trade.trade "
        "WHERE market_id = $1 AND id <= $2 ORDER BY id DESC LIMIT 1", market_id, trade_id)


async def max_trade_id(conn: Any, market_id: int) -> int:
    return await conn.fetchval("SELECT coalesce(max(id), 0) FROM trade.trade WHERE market_id = $1", market_id)


async def trades_after(conn: Any, market_id: int, after_id: int, limit: int) -> list[Any]:
    """Committed trades after `after_id` in id order: (id, price, ms)."""
    return await conn.fetch(
        "SELECT id, price, (extract(epoch FROM created_at) * 1000)::bigint AS ms FROM trade.trade "
        "WHERE market_id = $1 AND id > $2 ORDER BY id LIMIT $3", market_id, after_id, limit)


async def closed_candles(conn: Any, market_id: int, interval: str, before_ms: int, max_trade_id: int,
                         limit: int) -> list[tuple[int, Decimal, int]]:
    """(open ms, close, last trade id) of the newest `limit` candles that opened before `before_ms` and
    hold no trade after `max_trade_id` (so they were complete at the evaluator's position), oldest first."""
    rows = await conn.fetch(
        "SELECT (extract(epoch FROM open_time) * 1000)::bigint AS ms, close, last_trade_id FROM trade.candle "
        "WHERE market_id = $1 AND interval = $2 AND open_time < 'epoch'::timestamptz + $3 * interval '1 millisecond' "
        "AND last_trade_id <= $4 ORDER BY open_time DESC LIMIT $5",
        market_id, interval, before_ms, max_trade_id, limit)
    return [(r["ms"], r["close"], r["last_trade_id"]) for r in reversed(rows)]


async def active_alerts(conn: Any, market_id: int, alert_id: int | None = None) -> list[dict]:
    """The market's active alerts (or just `alert_id` if it is active), in id order."""
    rows = await conn.fetch(
        f"SELECT {ALERT_COLUMNS} FROM trade.price_alert a WHERE a.market_id = $1 AND a.status = 'active' "
        "AND ($2::bigint IS NULL OR a.id = $2) ORDER BY a.id", market_id, alert_id)
    return [row_dict(r) for r in rows]


async def adopt(conn: Any, alert_ids: list[int]) -> None:
    """The evaluator has these alerts (evaluated up to its position): a new owner need not backfill them."""
    if alert_ids:
        await conn.execute("UPDATE trade.price_alert SET adopted_at = now() "
                           "WHERE id = ANY($1::bigint[]) AND adopted_at IS NULL", alert_ids)


async def fire(conn: Any, alert_id: int, seq: int, event_ms: int, trade_id: int, price: Decimal,
               value: Decimal | None) -> tuple[Any, int] | None:
    """Record one firing: the alert's conditional update (still active, seq after its last firing,
    out of its cooldown) and its history row. None when the update finds nothing to do (deleted,
    already fired for this crossing, e.g. by a replay or another owner): then nothing is written.
    Returns (the updated alert row with the user's email, the history row id)."""
    row = await conn.fetchrow(
        "UPDATE trade.price_alert a SET fire_count = a.fire_count + 1, last_fired_seq = $2, "
        "last_fired_at = 'epoch'::timestamptz + $3 * interval '1 millisecond', updated_at = now(), "
        "status = CASE WHEN a.repeating THEN 'active' ELSE 'triggered' END "
        "FROM auth.app_user u WHERE a.id = $1 AND u.id = a.user_id AND a.status = 'active' "
        "AND (a.last_fired_seq IS NULL OR a.last_fired_seq < $2) "
        "AND (a.last_fired_at IS NULL OR a.cooldown_s = 0 OR "
        "     'epoch'::timestamptz + $3 * interval '1 millisecond' >= a.last_fired_at + a.cooldown_s * interval '1 second') "
        f"RETURNING {ALERT_COLUMNS}, u.email", alert_id, seq, event_ms)
    if row is None:
        return None
    event_id = await conn.fetchval(
        "INSERT INTO trade.price_alert_event (alert_id, user_id, market_id, seq, trade_id, price, value, event_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, 'epoch'::timestamptz + $8 * interval '1 millisecond') RETURNING id",
        alert_id, row["user_id"], row["market_id"], seq, trade_id, price, value, event_ms)
    return row, event_id
