"""The few reads Binance's endpoints need that the trade service has no call for: lists in ascending
id order from a given id or time (allOrders/myTrades with orderId/fromId/startTime, aggTrades and
historicalTrades with fromId/startTime/endTime). Read-only; rows are turned into the trade service's
own result types (`result_from_row`, `user_trades_from_row`, `PublicTrade`), so nothing is
computed twice. Every function receives a connection or pool and never writes.
"""
from __future__ import annotations

from typing import Any

import asyncpg

from ...common.markets import MarketSpec
from ...marketdata.views import PublicTrade
from ...trading.repository import ORDER_COLUMNS, TRADE_COLUMNS

_MS = "'epoch'::timestamptz + {} * interval '1 millisecond'"


async def public_trades(conn: Any, spec: MarketSpec, *, from_id: int | None, start_ms: int | None,
                        end_ms: int | None, limit: int, newest: bool = False) -> list[PublicTrade]:
    """A market's trades, oldest first: the first `limit` from `from_id`/`start_ms`, or (newest=True)
    the last `limit` up to `end_ms`."""
    order = "DESC" if newest else "ASC"
    rows = await conn.fetch(
        "SELECT id, price, quantity, quote_quantity, is_buyer_maker, "
        "(extract(epoch FROM created_at) * 1000)::bigint AS ms FROM trade.trade WHERE market_id = $1 "
        "AND ($2::bigint IS NULL OR id >= $2) "
        f"AND ($3::bigint IS NULL OR created_at >= {_MS.format('$3')}) "
        f"AND ($4::bigint IS NULL OR created_at <= {_MS.format('$4')}) "
        f"ORDER BY id {order} LIMIT $5", spec.id, from_id, start_ms, end_ms, limit)
    trades = [PublicTrade(r["id"], r["price"], r["quantity"], r["quote_quantity"], r["ms"], r["is_buyer_maker"])
              for r in rows]
    if newest:
        trades.reverse()
    return trades


async def orders_ascending(conn: Any, user_id: int, market_id: int, *, from_id: int | None, start_ms: int | None,
                           end_ms: int | None, limit: int) -> list[asyncpg.Record]:
    """A user's orders in one market, oldest first, from an order id and/or a creation time."""
    return await conn.fetch(
        f"SELECT {ORDER_COLUMNS} FROM trade.spot_order o WHERE o.user_id = $1 AND o.market_id = $2 "
        "AND ($3::bigint IS NULL OR o.id >= $3) "
        f"AND ($4::bigint IS NULL OR o.created_at >= {_MS.format('$4')}) "
        f"AND ($5::bigint IS NULL OR o.created_at <= {_MS.format('$5')}) "
        "ORDER BY o.id LIMIT $6", user_id, market_id, from_id, start_ms, end_ms, limit)


async def user_trades_ascending(conn: Any, user_id: int, market_id: int, *, from_id: int | None,
                                order_id: int | None, start_ms: int | None, end_ms: int | None,
                                limit: int) -> list[asyncpg.Record]:
    """A user's trades (either side) in one market, oldest first, from a trade id or for one order."""
    return await conn.fetch(
        f"SELECT {TRADE_COLUMNS} FROM trade.trade t WHERE t.market_id = $2 "
        "AND (t.buyer_user_id = $1 OR t.seller_user_id = $1) "
        "AND ($3::bigint IS NULL OR t.id >= $3) "
        "AND ($4::bigint IS NULL OR t.taker_order_id = $4 OR t.maker_order_id = $4) "
        f"AND ($5::bigint IS NULL OR t.created_at >= {_MS.format('$5')}) "
        f"AND ($6::bigint IS NULL OR t.created_at <= {_MS.format('$6')}) "
        "ORDER BY t.id LIMIT $7", user_id, market_id, from_id, order_id, start_ms, end_ms, limit)
