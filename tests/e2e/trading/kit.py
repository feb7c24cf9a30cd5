"""Helpers for the trade tests: funded traders, order placement over HTTP, balances and the books' invariants."""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from decimal import Decimal

from tests.support.factories import bearer, create_user, fund

D = Decimal


@dataclass
class Trader:
    user_id: int
    headers: dict[str, str]


async def make_trader(db, settings, funds: dict[str, str] | None = None, *, verified: bool = True,
                      role: str = "user") -> Trader:
    user_id = await create_user(db, verified=verified, role=role)
    for asset, amount in (funds or {}).items():
        await fund(db, user_id, asset, amount)
    return Trader(user_id, bearer(settings, user_id, role=role))


async def place(client, trader: Trader, **body):
    body.setdefault("symbol", "BTC-USDT")
    return await client.post("/api/v1/trade/orders", json=body, headers=trader.headers)


async def place_ok(client, trader: Trader, **body) -> dict:
    r = await place(client, trader, **body)
    assert r.status_code in (200, 201), r.text
    return r.json()


async def balances(db, user_id: int) -> dict[str, tuple[Decimal, Decimal]]:
    rows = await db.fetch("SELECT asset, available, locked FROM wallet.account WHERE kind = 'user' AND user_id = $1",
                          user_id)
    return {r["asset"]: (r["available"].normalize(), r["locked"].normalize()) for r in rows}


async def fee_balance(db, asset: str) -> Decimal:
    return (await db.fetchval("SELECT available FROM wallet.account WHERE kind = 'fees' AND asset = $1", asset)).normalize()


async def counts(db) -> tuple[int, int, int]:
    row = await db.fetchrow("SELECT (SELECT count(*) FROM trade.spot_order) AS o, (SELECT count(*) FROM trade.trade) AS t, "
                            "(SELECT count(*) FROM wallet.posting WHERE kind = 'trade') AS p")
    return row["o"], row["t"], row["p"]


async def check_books(db) -> None:
    """`mycrypto verify` (the wallet team's `mycrypto.ops.verify.verify_books`), plus trade-specific
    invariants: closed orders hold nothing, every trade has its posting, filled quantities add up."""
    if importlib.util.find_spec("mycrypto.ops.verify") is not None:
        verify = importlib.import_module("mycrypto.ops.verify")
        async with db.acquire() as conn:
            report = await verify.verify_books(conn)
        assert report.ok, f"mycrypto verify failed: {[c.as_dict() for c in report.failures]}"
    else:   # the same invariants in SQL, until the wallet team's module lands
        bad = await db.fetch(
            "SELECT a.id FROM wallet.account a LEFT JOIN wallet.posting_leg l ON l.account_id = a.id GROUP BY a.id "
            "HAVING a.available + a.locked <> coalesce(sum(l.amount), 0)")
        assert not bad, f"balances differ from the sum of their legs: {bad}"
        bad = await db.fetch("SELECT asset FROM wallet.account GROUP BY asset HAVING sum(available + locked) <> 0")
        assert not bad, f"an asset does not sum to zero: {bad}"
        bad = await db.fetch(
            "SELECT a.id FROM wallet.account a "
            "LEFT JOIN (SELECT user_id, hold_asset, sum(hold_remaining) AS held FROM trade.spot_order "
            "           WHERE status IN ('new', 'partially_filled') GROUP BY user_id, hold_asset) o "
            "       ON o.user_id = a.user_id AND o.hold_asset = a.asset "
            "LEFT JOIN (SELECT user_id, asset, sum(amount + fee) AS pending FROM wallet.withdrawal "
            "           WHERE status IN ('requested', 'approved') GROUP BY user_id, asset) w "
            "       ON w.user_id = a.user_id AND w.asset = a.asset "
            "WHERE a.kind = 'user' AND a.locked <> coalesce(o.held, 0) + coalesce(w.pending, 0)")
        assert not bad, f"locked != open orders' holds + pending withdrawals: {bad}"
        bad = await db.fetch("SELECT id FROM wallet.account WHERE kind = 'user' AND (available < 0 OR locked < 0)")
        assert not bad, f"negative user balances: {bad}"
    bad = await db.fetch("SELECT id FROM trade.spot_order WHERE status NOT IN ('new', 'partially_filled') "
                         "AND hold_remaining <> 0")
    assert not bad, f"closed orders still holding funds: {bad}"
    bad = await db.fetch(
        "SELECT t.market_id, t.id FROM trade.trade t LEFT JOIN wallet.posting p ON p.id = t.posting_id "
        "WHERE p.id IS NULL OR p.ref_id <> t.market_id || ':' || t.id")
    assert not bad, f"trades without their posting: {bad}"
    bad = await db.fetch(
        "SELECT o.id FROM trade.spot_order o LEFT JOIN (SELECT taker_order_id AS id, quantity FROM trade.trade "
        "UNION ALL SELECT maker_order_id, quantity FROM trade.trade) f ON f.id = o.id GROUP BY o.id "
        "HAVING o.filled_quantity <> coalesce(sum(f.quantity), 0)")
    assert not bad, f"orders whose filled quantity differs from their trades: {bad}"
