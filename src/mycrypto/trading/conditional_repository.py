"""Persistence of conditional orders (migration 055): the rows a batch adds to trade.order_condition,
and what a rebuild loads back (untriggered orders into the trigger book, OCO links between open orders).

The orders themselves are ordinary trade.spot_order rows written by trade.commit_batch; a batch that
places or triggers a conditional order commits through trade.commit_batch_conditional instead, which
runs commit_batch and then writes these rows in the same transaction (repository.execute_batch picks
it by the number of arguments).
"""
from __future__ import annotations

from collections.abc import Sequence

import orjson

from ..common.markets import MarketSpec
from ..db.database import Queryable
from ..db.sql import epoch_ms
from .domain.conditional import DIRECTION_NAMES, DIRECTIONS, Condition, ConditionalBook
from .domain.settlement import OrderState
from .repository import STP_NAME, TIF_NAME


def encode_conditions(new_orders: Sequence[OrderState], changed: Sequence[OrderState]) -> tuple[str, str] | None:
    """The two extra arguments of trade.commit_batch_conditional, or None when the batch neither places
    nor triggers a conditional order (the plain commit_batch then)."""
    conds = []
    for o in new_orders:
        c = o.cond
        if c is not None:
            conds.append((o.id, c.kind, DIRECTION_NAMES.get(c.direction), str(c.stop_ticks) if c.direction else None,
                          str(c.exec_limit_ticks) if c.exec_limit_ticks else None, c.oco, c.triggered_ms,
                          c.trigger_trade_id))
            c.persisted = True
            c.fire_pending = False
    fired = []
    for o in changed:
        c = o.cond
        if c is not None and c.fire_pending:
            fired.append((o.id, c.triggered_ms, c.trigger_trade_id))
            c.fire_pending = False
    if not conds and not fired:
        return None
    return orjson.dumps(conds).decode(), orjson.dumps(fired).decode()


async def last_price_ticks(conn: Queryable, spec: MarketSpec) -> int | None:
    price = await conn.fetchval("SELECT price FROM trade.trade WHERE market_id = $1 ORDER BY id DESC LIMIT 1",
                                spec.id)
    return None if price is None else int(price / spec.tick_size)


async def load_conditional_book(conn: Queryable, spec: MarketSpec, orders: dict[int, OrderState]) -> ConditionalBook:
    """The market's untriggered conditional orders (against the last trade price) and the OCO links of
    its open orders; `orders` (the rebuilt book's open orders) get their conditions attached."""
    book = ConditionalBook(await last_price_ticks(conn, spec))
    tick, lot = spec.tick_size, spec.lot_size
    qs, bs = spec.quote_decimals, spec.base_decimals
    rows = await conn.fetch(
        "SELECT o.id, o.user_id, o.side::text AS side, o.type::text AS type, o.time_in_force::text AS tif, "
        "o.post_only, o.stp::text AS stp, o.price, o.quantity, o.hold_amount, o.hold_remaining, "
        "o.status::text AS status, o.client_order_id, "
        f"{epoch_ms('o.created_at')} AS created_ms, {epoch_ms('o.updated_at')} AS updated_ms, "
        "c.kind, c.direction, c.stop_price, c.exec_limit_price, c.oco_order_id, "
        f"{epoch_ms('c.triggered_at')} AS triggered_ms, c.trigger_trade_id, "
        "ab.id AS base_acc, aq.id AS quote_acc "
        "FROM trade.order_condition c JOIN trade.spot_order o ON o.id = c.order_id "
        "LEFT JOIN wallet.account ab ON ab.kind = 'user' AND ab.user_id = o.user_id AND ab.asset = $2 "
        "LEFT JOIN wallet.account aq ON aq.kind = 'user' AND aq.user_id = o.user_id AND aq.asset = $3 "
        "WHERE c.market_id = $1 AND o.status IN ('new', 'partially_filled') "
        "AND (c.triggered_at IS NULL OR c.oco_order_id IS NOT NULL) ORDER BY o.id",
        spec.id, spec.base, spec.quote)
    for r in rows:
        cond = Condition(r["kind"], DIRECTIONS.get(r["direction"]),
                         int(r["stop_price"] / tick) if r["stop_price"] is not None else 0,
                         int(r["exec_limit_price"] / tick) if r["exec_limit_price"] is not None else 0,
                         r["oco_order_id"], r["triggered_ms"], r["trigger_trade_id"], persisted=True)
        if not cond.untriggered:
            o = orders.get(r["id"])
            if o is not None:
                o.cond = cond
            continue
        side = 0 if r["side"] == "buy" else 1
        hold_scale = qs if side == 0 else bs
        kind = 0 if r["type"] == "limit" else 1
        price = int(r["price"] / tick) if r["price"] is not None else 0
        o = OrderState(
            r["id"], r["user_id"], side, kind, tif=TIF_NAME.index(r["tif"]), post_only=r["post_only"],
            stp=STP_NAME.index(r["stp"]), price=price, qty=int(r["quantity"] / lot), quote_qty=0,
            base_acc=r["base_acc"], quote_acc=r["quote_acc"], coid=r["client_order_id"], created_ms=r["created_ms"],
            hold_amount=int(r["hold_amount"].scaleb(hold_scale)), hold_rem=int(r["hold_remaining"].scaleb(hold_scale)),
            status=r["status"], is_new=False, limit_price=price or cond.exec_limit_ticks, updated_ms=r["updated_ms"])
        o.cond = cond
        book.add(o)
    # links only between orders that are both still open (a closed leg's sibling was cancelled with it)
    for oid, o in [*orders.items(), *book.orders.items()]:
        c = o.cond
        if c is not None and c.oco is not None and (c.oco in orders or c.oco in book.orders):
            book.link(oid, c.oco)
    return book

