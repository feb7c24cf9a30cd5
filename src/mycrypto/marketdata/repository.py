"""Market-data queries: recent trades, trades from an id or a time, 1m candles of the last 24h, candles for
any interval, and the order book aggregated from open orders (what a replica that does not own a market
serves, cached)."""
from __future__ import annotations

from typing import Any

from ..common.markets import MarketSpec
from ..db.database import Queryable
from ..db.sql import epoch_ms, time_bound
from .views import PublicTrade

SIDE_N = {"buy": 0, "sell": 1}


def _ticks(spec: MarketSpec, price: Any) -> int:
    return int(price / spec.tick_size)


def _lots(spec: MarketSpec, qty: Any) -> int:
    return int(qty / spec.lot_size)


def _qunits(spec: MarketSpec, amount: Any) -> int:
    return int(amount.scaleb(spec.quote_decimals))


_RECENT = (f"SELECT id, price, quantity, quote_quantity, taker_side::text AS side, {epoch_ms('created_at')} AS ms "
           "FROM trade.trade WHERE market_id = $1 ")
_NEWEST_TRADES = _RECENT + "ORDER BY id DESC LIMIT $2"
_TRADES_FROM_ID = _RECENT + "AND id >= $3 ORDER BY id LIMIT $2"
# newest -> query: trades in an id/time window, oldest first or (True) newest first
_TRADES_FROM = {newest: (
    f"SELECT id, price, quantity, quote_quantity, is_buyer_maker, {epoch_ms('created_at')} AS ms FROM trade.trade "
    "WHERE market_id = $1 AND ($2::bigint IS NULL OR id >= $2) "
    f"AND {time_bound('created_at', '>=', '$3')} AND {time_bound('created_at', '<=', '$4')} "
    f"ORDER BY id {'DESC' if newest else 'ASC'} LIMIT $5") for newest in (False, True)}
_CANDLES = (f"SELECT {epoch_ms('open_time')} AS ms, open, high, low, close, volume, quote_volume, "
            "trade_count, first_trade_id, last_trade_id FROM trade.candle WHERE market_id = $1 ")
_CANDLES_24H = _CANDLES + "AND interval = '1m' AND open_time >= now() - interval '24 hours 1 minute' ORDER BY open_time"
_STORED_CANDLES = {newest: (
    _CANDLES + f"AND interval = $2 AND {time_bound('open_time', '>=', '$3')} "
    f"AND {time_bound('open_time', '<=', '$4')} ORDER BY open_time {'DESC' if newest else 'ASC'} LIMIT $5")
    for newest in (False, True)}


async def recent_trade_tuples(conn: Queryable, spec: MarketSpec, limit: int, from_id: int | None = None) -> list[tuple]:
    """(trade_id, price_ticks, qty_lots, cost_units, taker_side, ms) oldest first: the newest `limit`
    trades, or with `from_id` the `limit` trades starting at that id."""
    if from_id is None:
        rows = await conn.fetch(_NEWEST_TRADES, spec.id, limit)
        rows = list(reversed(rows))
    else:
        rows = await conn.fetch(_TRADES_FROM_ID, spec.id, limit, from_id)
    return [(r["id"], _ticks(spec, r["price"]), _lots(spec, r["quantity"]), _qunits(spec, r["quote_quantity"]),
             SIDE_N[r["side"]], r["ms"]) for r in rows]


async def trades_from(conn: Queryable, spec: MarketSpec, *, from_id: int | None, start_ms: int | None,
                      end_ms: int | None, limit: int, newest: bool = False) -> list[PublicTrade]:
    """A market's trades, oldest first: the first `limit` from `from_id`/`start_ms` (both inclusive), or
    (newest=True) the last `limit` up to `end_ms`."""
    rows = await conn.fetch(_TRADES_FROM[newest], spec.id, from_id, start_ms, end_ms, limit)
    trades = [PublicTrade(r["id"], r["price"], r["quantity"], r["quote_quantity"], r["ms"], r["is_buyer_maker"])
              for r in rows]
    if newest:
        trades.reverse()
    return trades


async def minute_rows_24h(conn: Queryable, spec: MarketSpec) -> list[tuple]:
    """1m candles of the last 24h as (minute_ms, o, h, l, c, v_lots, qv_units, n, first, last), in ticks/lots/units."""
    rows = await conn.fetch(_CANDLES_24H, spec.id)
    return [(r["ms"], _ticks(spec, r["open"]), _ticks(spec, r["high"]), _ticks(spec, r["low"]),
             _ticks(spec, r["close"]), _lots(spec, r["volume"]), _qunits(spec, r["quote_volume"]),
             r["trade_count"], r["first_trade_id"], r["last_trade_id"]) for r in rows]


async def stored_candles(conn: Queryable, market_id: int, interval: str, start_ms: int | None, end_ms: int | None,
                         limit: int, newest: bool) -> list[tuple]:
    """Stored candles as (open_ms, o, h, l, c, v, qv, n, first, last) Decimals, oldest first. Without a start,
    the newest `limit` (newest=True); otherwise the first `limit` from start."""
    rows = await conn.fetch(_STORED_CANDLES[newest], market_id, interval, start_ms, end_ms, limit)
    out = [(r["ms"], r["open"], r["high"], r["low"], r["close"], r["volume"], r["quote_volume"], r["trade_count"],
            r["first_trade_id"], r["last_trade_id"]) for r in rows]
    if newest:
        out.reverse()
    return out


async def depth_from_orders(conn: Queryable, spec: MarketSpec, limit: int) -> tuple[int, list, list]:
    """(book update id, bids, asks) aggregated from open orders; levels are (ticks, lots, count) best first.
    Both reads in one repeatable-read snapshot, so the update id is exactly the book's (stream resync)."""
    if getattr(conn, "is_in_transaction", lambda: True)():
        return await _depth_from_orders(conn, spec, limit)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _depth_from_orders(conn, spec, limit)


async def _depth_from_orders(conn: Queryable, spec: MarketSpec, limit: int) -> tuple[int, list, list]:
    rows = await conn.fetch(
        "(SELECT 'buy' AS side, price, sum(quantity - filled_quantity) AS qty, count(*) AS n FROM trade.spot_order "
        " WHERE market_id = $1 AND status IN ('new', 'partially_filled') AND side = 'buy' "
        " AND NOT EXISTS (SELECT 1 FROM trade.order_condition c WHERE c.order_id = spot_order.id AND c.triggered_at IS NULL) "
        " GROUP BY price ORDER BY price DESC LIMIT $2) "
        "UNION ALL "
        "(SELECT 'sell', price, sum(quantity - filled_quantity), count(*) FROM trade.spot_order "
        " WHERE market_id = $1 AND status IN ('new', 'partially_filled') AND side = 'sell' "
        " AND NOT EXISTS (SELECT 1 FROM trade.order_condition c WHERE c.order_id = spot_order.id AND c.triggered_at IS NULL) "
        " GROUP BY price ORDER BY price ASC LIMIT $2)", spec.id, limit)
    update_id = await conn.fetchval("SELECT coalesce(max(book_update_id), 0) FROM trade.market_engine "
                                    "WHERE market_id = $1", spec.id)
    bids = [(_ticks(spec, r["price"]), _lots(spec, r["qty"]), r["n"]) for r in rows if r["side"] == "buy"]
    asks = [(_ticks(spec, r["price"]), _lots(spec, r["qty"]), r["n"]) for r in rows if r["side"] == "sell"]
    return update_id, bids, asks
