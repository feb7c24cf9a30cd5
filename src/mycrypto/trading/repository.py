"""Trade persistence: markets, the engine's group-commit write, rebuild queries and history reads.

Every function receives a connection (or pool) and never commits. In the group commit, amounts
travel as integers (ticks, lots, minor units) written as strings inside one JSON document per row set
and are scaled in SQL by exact NUMERIC factors: cheap to encode, exact, unbounded. `execute_batch` is the group
commit's single call (trade.commit_batch): fence the epoch, apply the ledger, write orders, trades and candles.
"""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from ..common.markets import PPM, MarketSpec
from ..db.database import Queryable
from ..db.sql import epoch_ms, ms_to_ts, time_bound
from ..wallet.errors import InsufficientFunds
from ..wallet.ledger import translate_ledger_error
from .domain.settlement import OPEN_STATUSES, OrderState

ENGINE_LOCK_CLASS = 7415  # pg_advisory_lock(7415, market_id) = "this process owns the market's engine"

SIDE_NAME = ("buy", "sell")
TYPE_NAME = ("limit", "market")
TIF_NAME = ("GTC", "IOC", "FOK")
STP_NAME = ("expire_maker", "expire_taker", "expire_both", "none")


class NotOwner(Exception):
    """The epoch fence refused the batch: another engine took the market over."""


class SequenceGap(Exception):
    """A pipelined batch reached the database after its predecessor failed; nothing was written."""


# How `execute_batch` refusals are sorted: these the data explains (a withdrawal raced the engine's
# optimistic balance read; a client order id used concurrently on another market; a deadlock or
# serialization failure), so nothing was written and the batch can be replayed on fresh reads. A lost
# connection is `db.database.DB_DOWN` (outcome unknown); a lost epoch fence is `NotOwner`.
RETRYABLE = (InsufficientFunds, asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError,
             asyncpg.SerializationError)


# ---------------------------------------------------------------------------- markets
async def load_markets(conn: Queryable) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT m.id, m.symbol, m.base_asset, m.quote_asset, m.tick_size, m.lot_size, m.min_qty, m.max_qty, "
        "m.min_notional, m.maker_fee, m.taker_fee, m.status::text AS status, "
        "b.decimals AS base_decimals, q.decimals AS quote_decimals "
        "FROM trade.market m JOIN wallet.asset b ON b.code = m.base_asset "
        "JOIN wallet.asset q ON q.code = m.quote_asset ORDER BY m.id")


def spec_from_row(row: Any) -> MarketSpec:
    return MarketSpec.build(
        id=row["id"], symbol=row["symbol"], base=row["base_asset"], quote=row["quote_asset"],
        base_decimals=row["base_decimals"], quote_decimals=row["quote_decimals"], tick_size=row["tick_size"],
        lot_size=row["lot_size"], min_qty=row["min_qty"], max_qty=row["max_qty"],
        min_notional=row["min_notional"], maker_fee=row["maker_fee"], taker_fee=row["taker_fee"],
        status=row["status"])


async def market_statuses(conn: Queryable) -> dict[int, str]:
    rows = await conn.fetch("SELECT id, status::text AS status FROM trade.market")
    return {r["id"]: r["status"] for r in rows}


async def set_market_status(conn: Queryable, market_id: int, status: str) -> str | None:
    """Set the status; return the previous one (None if the market does not exist)."""
    return await conn.fetchval(
        "WITH old AS (SELECT status::text AS s FROM trade.market WHERE id = $1 FOR UPDATE) "
        "UPDATE trade.market m SET status = $2::trade.market_status, updated_at = now() FROM old "
        "WHERE m.id = $1 RETURNING old.s", market_id, status)


# ---------------------------------------------------------------------------- ownership
async def try_lock_market(conn: asyncpg.Connection, market_id: int) -> bool:
    return await conn.fetchval("SELECT pg_try_advisory_lock($1::int, $2::int)", ENGINE_LOCK_CLASS, market_id)


async def unlock_market(conn: asyncpg.Connection, market_id: int) -> None:
    await conn.fetchval("SELECT pg_advisory_unlock($1::int, $2::int)", ENGINE_LOCK_CLASS, market_id)


async def claim_market(conn: Queryable, market_id: int, instance: str, url: str) -> tuple[int, int]:
    """Bump the epoch (fencing out any previous owner) and advertise us; return (epoch, book_update_id)."""
    row = await conn.fetchrow(
        "INSERT INTO trade.market_engine (market_id, owner_instance, owner_url) VALUES ($1, $2, $3) "
        "ON CONFLICT (market_id) DO UPDATE SET epoch = trade.market_engine.epoch + 1, "
        "owner_instance = EXCLUDED.owner_instance, owner_url = EXCLUDED.owner_url, acquired_at = now(), "
        "heartbeat_at = now() RETURNING epoch, book_update_id", market_id, instance, url)
    return row["epoch"], row["book_update_id"]


async def heartbeat(conn: Queryable, instance: str, market_ids: Sequence[int]) -> None:
    await conn.execute("UPDATE trade.market_engine SET heartbeat_at = now() "
                       "WHERE market_id = ANY($1::int[]) AND owner_instance = $2", list(market_ids), instance)


async def release_claim(conn: Queryable, instance: str, market_ids: Sequence[int]) -> None:
    """Mark our rows stale at shutdown so other replicas stop forwarding to us at once."""
    await conn.execute("UPDATE trade.market_engine SET heartbeat_at = 'epoch' "
                       "WHERE market_id = ANY($1::int[]) AND owner_instance = $2", list(market_ids), instance)


async def owners(conn: Queryable) -> dict[int, tuple[str, str, float]]:
    """{market_id: (instance, url, seconds since heartbeat)}."""
    rows = await conn.fetch("SELECT market_id, owner_instance, owner_url, "
                            "extract(epoch FROM now() - heartbeat_at)::float8 AS age FROM trade.market_engine")
    return {r["market_id"]: (r["owner_instance"], r["owner_url"], r["age"]) for r in rows}


# ---------------------------------------------------------------------------- rebuild
async def refence(conn: Queryable, market_id: int, epoch: int) -> tuple[int, int] | None:
    """Bump the market's epoch if it is still `epoch`, and return (new epoch, book update id). The
    UPDATE waits for a commit holding the fence row, and any commit sent under the old epoch that
    arrives later is refused by commit_batch's epoch check: the update id returned is final. None:
    the epoch moved (another replica owns the market)."""
    row = await conn.fetchrow("UPDATE trade.market_engine SET epoch = epoch + 1 WHERE market_id = $1 AND epoch = $2 "
                              "RETURNING epoch, book_update_id", market_id, epoch)
    return (row["epoch"], row["book_update_id"]) if row is not None else None


async def engine_state(conn: Queryable, market_id: int) -> tuple[int, int]:
    """(next trade id, book update id) of a market."""
    row = await conn.fetchrow(
        "SELECT (SELECT coalesce(max(id), 0) + 1 FROM trade.trade WHERE market_id = $1) AS next_trade_id, "
        "(SELECT coalesce(max(book_update_id), 0) FROM trade.market_engine WHERE market_id = $1) AS update_id",
        market_id)
    return row["next_trade_id"], row["update_id"]


async def open_orders_for_rebuild(conn: Queryable, spec: MarketSpec) -> list[OrderState]:
    """The market's open orders in id order (= time priority) as engine states."""
    rows = await conn.fetch(
        "SELECT o.id, o.user_id, o.side::text AS side, o.type::text AS type, o.time_in_force::text AS tif, "
        "o.post_only, o.stp::text AS stp, o.price, o.quantity, o.filled_quantity, o.filled_quote, o.fee_total, "
        "o.fee_exact, o.hold_amount, o.hold_remaining, o.status::text AS status, o.client_order_id, "
        f"{epoch_ms('o.created_at')} AS created_ms, "
        "ab.id AS base_acc, aq.id AS quote_acc "
        "FROM trade.spot_order o "
        "LEFT JOIN wallet.account ab ON ab.kind = 'user' AND ab.user_id = o.user_id AND ab.asset = $2 "
        "LEFT JOIN wallet.account aq ON aq.kind = 'user' AND aq.user_id = o.user_id AND aq.asset = $3 "
        "WHERE o.market_id = $1 AND o.status IN ('new', 'partially_filled') "
        # untriggered conditional orders are not on the book (conditional_repository loads them)
        "AND NOT EXISTS (SELECT 1 FROM trade.order_condition c WHERE c.order_id = o.id AND c.triggered_at IS NULL) "
        "ORDER BY o.id",
        spec.id, spec.base, spec.quote)
    out = []
    tick, lot = spec.tick_size, spec.lot_size
    qs, bs = spec.quote_decimals, spec.base_decimals
    for r in rows:
        side = 0 if r["side"] == "buy" else 1
        hold_scale = qs if side == 0 else bs
        price = int(r["price"] / tick)
        o = OrderState(
            r["id"], r["user_id"], side, 0 if r["type"] == "limit" else 1, tif=TIF_NAME.index(r["tif"]),
            post_only=r["post_only"], stp=STP_NAME.index(r["stp"]), price=price,
            qty=int(r["quantity"] / lot), quote_qty=0, base_acc=r["base_acc"], quote_acc=r["quote_acc"],
            coid=r["client_order_id"], created_ms=r["created_ms"], filled=int(r["filled_quantity"] / lot),
            filled_quote=int(r["filled_quote"].scaleb(qs)), fee=int(r["fee_total"].scaleb(qs)),
            fee_exact=int(r["fee_exact"].scaleb(qs) * PPM), hold_amount=int(r["hold_amount"].scaleb(hold_scale)),
            hold_rem=int(r["hold_remaining"].scaleb(hold_scale)), status=r["status"], is_new=False)
        out.append(o)
    return out


# ---------------------------------------------------------------------------- batch reads
async def allocate_order_ids(conn: Queryable, n: int) -> list[int]:
    rows = await conn.fetch("SELECT nextval(pg_get_serial_sequence('trade.spot_order', 'id')) AS id "
                            "FROM generate_series(1, $1)", n)
    return [r["id"] for r in rows]


async def available_units(conn: Queryable, account_ids: Sequence[int], decimals: dict[int, int]) -> dict[int, int]:
    """{account id: available balance in minor units} (floored, though balances are always exact)."""
    rows = await conn.fetch("SELECT id, available FROM wallet.account WHERE id = ANY($1::bigint[])",
                            list(account_ids))
    return {r["id"]: int(r["available"].scaleb(decimals[r["id"]])) for r in rows}


async def find_client_order_ids(conn: Queryable, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], int]:
    rows = await conn.fetch(
        "SELECT o.user_id, o.client_order_id, o.id FROM trade.spot_order o "
        "JOIN unnest($1::bigint[], $2::text[]) AS k(u, c) ON o.user_id = k.u AND o.client_order_id = k.c",
        [p[0] for p in pairs], [p[1] for p in pairs])
    return {(r["user_id"], r["client_order_id"]): r["id"] for r in rows}


# ---------------------------------------------------------------------------- the group commit
# Each row set travels as ONE json parameter (an array of arrays, amounts as strings of integers:
# exact and unbounded) instead of one array parameter per column: asyncpg then encodes 4 values per
# batch instead of ~40 per order, which was the largest client-side cost of the commit.
_COMMIT_BATCH = ("SELECT trade.commit_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::jsonb, "
                 "$12::text::jsonb, $13::text::jsonb, $14::text::jsonb, $15::bigint[], $16::text[]::numeric[], "
                 "$17::text[]::numeric[], $18::text[], $19::text[], $20::text[], $21::text[], $22::int[], "
                 "$23::bigint[], $24::text[], $25::text[], $26::text[]::numeric[])")


_COMMIT_BATCH_CONDITIONAL = (_COMMIT_BATCH.replace("trade.commit_batch(", "trade.commit_batch_conditional(")
                             .replace("$26::text[]::numeric[])",
                                      "$26::text[]::numeric[], $27::text::jsonb, $28::text::jsonb)"))


def _scales(spec: MarketSpec) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
    q = Decimal(1).scaleb(-spec.quote_decimals)
    return spec.tick_size, spec.lot_size, q, Decimal(1).scaleb(-spec.base_decimals), q / PPM


def _dumps(rows: list) -> str:
    return orjson.dumps(rows).decode()


def encode_batch(spec: MarketSpec, epoch: int, update_id: int, new_orders: Sequence[OrderState],
                 changed: Sequence[OrderState], trades: Sequence[tuple], candles: Sequence[tuple],
                 ledger: Sequence[list]) -> tuple:
    """The arguments of trade.commit_batch, built NOW (the engine keeps mutating its order states while
    this batch is in flight). `ledger` = wallet.ledger.ledger_arguments(postings, holds), postings
    in trade order."""
    tick, lot, qunit, bunit, feeunit = _scales(spec)
    s = str
    new_rows = [(o.id, o.user_id, o.coid, SIDE_NAME[o.side], TYPE_NAME[o.kind], TIF_NAME[o.tif], o.post_only,
                 STP_NAME[o.stp], None if o.kind == 1 else s(o.price), s(o.qty) if o.qty else None,
                 s(o.quote_qty) if o.quote_qty else None, s(o.filled), s(o.filled_quote), s(o.fee), s(o.fee_exact),
                 s(o.hold_amount), s(o.hold_rem), o.status, o.reason, o.created_ms, o.updated_ms)
                for o in new_orders]
    changed_rows = [(o.id, s(o.qty), s(o.filled), s(o.filled_quote), s(o.fee), s(o.fee_exact), s(o.hold_rem),
                     o.status, o.reason, o.updated_ms) for o in changed]
    trade_rows = [(t[0], t[1], t[2], SIDE_NAME[t[3]], s(t[4]), s(t[5]), s(t[6]), t[7], t[8], s(t[9]), s(t[10]), t[11])
                  for t in trades]
    candle_rows = [(iv, open_ms, s(o), s(h), s(lo), s(c), s(v), s(qv), n, first, last)
                   for iv, open_ms, o, h, lo, c, v, qv, n, first, last in candles]
    return (spec.id, epoch, update_id, tick, lot, qunit, bunit, feeunit, spec.quote, spec.base, _dumps(new_rows),
            _dumps(changed_rows), _dumps(trade_rows), _dumps(candle_rows), *ledger)


async def execute_batch(conn: Queryable, spec: MarketSpec, args: tuple) -> None:
    """Commit one encoded batch with ONE call to trade.commit_batch (migration 014/015), which is its own
    transaction: the connection must not be inside an explicit one. Raises NotOwner if fenced,
    SequenceGap if the previous batch did not commit, the ledger's domain errors if refused."""
    try:
        # 28 arguments: the batch places or triggers conditional orders (conditional_repository.py)
        status = await conn.fetchval(_COMMIT_BATCH if len(args) == 26 else _COMMIT_BATCH_CONDITIONAL, *args)
    except (asyncpg.CheckViolationError, asyncpg.ForeignKeyViolationError) as exc:
        raise translate_ledger_error(exc) from None
    if status == 2:
        raise SequenceGap(f"market {spec.symbol}: batch {args[2]} follows a batch that did not commit")
    if status != 1:
        raise NotOwner(f"market {spec.symbol}: epoch {args[1]} was superseded")


# ---------------------------------------------------------------------------- reads for users
# One query set for every order/trade read (the /api/v1/trade history pages newest first with keyset
# cursors; the Binance adapter's lists oldest first from an id or a time), built once from shared parts.
ORDER_COLUMNS = (
    "o.id, o.user_id, o.market_id, o.client_order_id, o.side::text AS side, o.type::text AS type, "
    "o.time_in_force::text AS time_in_force, o.post_only, o.stp::text AS stp, o.price, o.quantity, "
    "o.quote_quantity, o.filled_quantity, o.filled_quote, o.fee_total, o.hold_asset, o.hold_amount, "
    f"o.hold_remaining, o.status::text AS status, o.reason, {epoch_ms('o.created_at')} AS created_ms, "
    f"{epoch_ms('o.updated_at')} AS updated_ms, "
    # conditional orders (migration 055): NULLs for a plain order
    f"c.kind AS cond_kind, c.stop_price, c.oco_order_id, {epoch_ms('c.triggered_at')} AS triggered_ms")
TRADE_COLUMNS = (
    "t.market_id, t.id, t.taker_order_id, t.maker_order_id, t.taker_side::text AS taker_side, t.price, "
    "t.quantity, t.quote_quantity, t.buyer_user_id, t.seller_user_id, t.buyer_fee, t.seller_fee, t.fee_asset, "
    f"t.posting_id, {epoch_ms('t.created_at')} AS ms")
_ORDERS = (f"SELECT {ORDER_COLUMNS} FROM trade.spot_order o "
           "LEFT JOIN trade.order_condition c ON c.order_id = o.id ")
_TRADES = f"SELECT {TRADE_COLUMNS} FROM trade.trade t "

_ORDER_BY_ID = _ORDERS + "WHERE o.id = $1"
_ORDER_BY_CLIENT_ID = _ORDERS + "WHERE o.user_id = $1 AND o.client_order_id = $2"
_OPEN_ORDERS = (_ORDERS + "WHERE o.user_id = $1 AND o.status IN ('new', 'partially_filled') "
                "AND ($2::int IS NULL OR o.market_id = $2) ORDER BY o.created_at DESC, o.id DESC LIMIT $3")
_ORDER_HISTORY = (
    _ORDERS + "WHERE o.user_id = $1 AND ($2::int IS NULL OR o.market_id = $2) "
    "AND ($3::text[] IS NULL OR o.status::text = ANY($3::text[]) "
    # "untriggered": open stop / take-profit orders still waiting for their trigger (they are also "new")
    "OR ('untriggered' = ANY($3::text[]) AND o.status = 'new' AND c.kind <> 'limit' AND c.triggered_at IS NULL)) "
    f"AND {time_bound('o.created_at', '>=', '$4')} AND {time_bound('o.created_at', '<', '$5')} "
    f"AND ($6::bigint IS NULL OR (o.created_at, o.id) < ({ms_to_ts('$6')}, $7::bigint)) "
    "ORDER BY o.created_at DESC, o.id DESC LIMIT $8")
_ORDERS_ASCENDING = (
    _ORDERS + "WHERE o.user_id = $1 AND o.market_id = $2 AND ($3::bigint IS NULL OR o.id >= $3) "
    f"AND {time_bound('o.created_at', '>=', '$4')} AND {time_bound('o.created_at', '<=', '$5')} "
    "ORDER BY o.id LIMIT $6")
_ORDER_FILLS = _TRADES + "WHERE t.market_id = $1 AND (t.taker_order_id = $2 OR t.maker_order_id = $2) ORDER BY t.id"
_MY_TRADES_WHERE = (
    f"($2::int IS NULL OR t.market_id = $2) AND {time_bound('t.created_at', '>=', '$3')} "
    f"AND {time_bound('t.created_at', '<', '$4')} "
    f"AND ($5::bigint IS NULL OR (t.created_at, t.market_id, t.id) < ({ms_to_ts('$5')}, $6::int, $7::bigint))")
_MY_TRADES = (
    f"SELECT * FROM (SELECT {TRADE_COLUMNS}, t.created_at FROM trade.trade t WHERE t.buyer_user_id = $1 "
    f"AND {_MY_TRADES_WHERE} UNION SELECT {TRADE_COLUMNS}, t.created_at FROM trade.trade t "
    f"WHERE t.seller_user_id = $1 AND {_MY_TRADES_WHERE}) t "
    "ORDER BY t.created_at DESC, t.market_id DESC, t.id DESC LIMIT $8")
_USER_TRADES_ASCENDING = (
    _TRADES + "WHERE t.market_id = $2 AND (t.buyer_user_id = $1 OR t.seller_user_id = $1) "
    "AND ($3::bigint IS NULL OR t.id >= $3) AND ($4::bigint IS NULL OR t.taker_order_id = $4 OR t.maker_order_id = $4) "
    f"AND {time_bound('t.created_at', '>=', '$5')} AND {time_bound('t.created_at', '<=', '$6')} "
    "ORDER BY t.id LIMIT $7")


async def order_by_id(conn: Queryable, order_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(_ORDER_BY_ID, order_id)


async def order_by_client_id(conn: Queryable, user_id: int, client_order_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(_ORDER_BY_CLIENT_ID, user_id, client_order_id)


async def order_locator(conn: Queryable, order_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT user_id, market_id, status::text AS status FROM trade.spot_order "
                               "WHERE id = $1", order_id)


async def open_orders(conn: Queryable, user_id: int, market_id: int | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(_OPEN_ORDERS, user_id, market_id, limit)


async def order_history(conn: Queryable, user_id: int, *, market_id: int | None, statuses: Sequence[str] | None,
                        start_ms: int | None, end_ms: int | None, before: tuple[int, int] | None,
                        limit: int) -> list[asyncpg.Record]:
    """Newest first; `before` = (created_ms, id) of the last row of the previous page (keyset cursor)."""
    return await conn.fetch(_ORDER_HISTORY, user_id, market_id, list(statuses) if statuses else None, start_ms,
                            end_ms, before[0] if before else None, before[1] if before else None, limit)


async def orders_ascending(conn: Queryable, user_id: int, market_id: int, *, from_id: int | None,
                           start_ms: int | None, end_ms: int | None, limit: int) -> list[asyncpg.Record]:
    """A user's orders in one market, oldest first, from an order id and/or a creation time (inclusive)."""
    return await conn.fetch(_ORDERS_ASCENDING, user_id, market_id, from_id, start_ms, end_ms, limit)


async def order_fills(conn: Queryable, market_id: int, order_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(_ORDER_FILLS, market_id, order_id)


async def my_trades(conn: Queryable, user_id: int, *, market_id: int | None, start_ms: int | None,
                    end_ms: int | None, before: tuple[int, int, int] | None, limit: int) -> list[asyncpg.Record]:
    """A user's trades (as buyer or seller), newest first; cursor = (ms, market_id, id) of the last row."""
    return await conn.fetch(_MY_TRADES, user_id, market_id, start_ms, end_ms, before[0] if before else None,
                            before[1] if before else None, before[2] if before else None, limit)


async def user_trades_ascending(conn: Queryable, user_id: int, market_id: int, *, from_id: int | None,
                                order_id: int | None, start_ms: int | None, end_ms: int | None,
                                limit: int) -> list[asyncpg.Record]:
    """A user's trades (either side) in one market, oldest first, from a trade id or for one order."""
    return await conn.fetch(_USER_TRADES_ASCENDING, user_id, market_id, from_id, order_id, start_ms, end_ms, limit)


def is_open(status: str) -> bool:
    return status in OPEN_STATUSES
