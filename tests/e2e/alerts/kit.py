"""Helpers for the alert tests: create alerts over HTTP, trade at a price between two users, wait for firings."""
from __future__ import annotations

from tests.e2e.trading.kit import Trader, make_trader, place_ok
from tests.support.waiting import eventually

ALERTS = "/api/v1/trade/alerts"


async def traders(db, settings):
    """A seller and a buyer with plenty to trade BTC-USDT back and forth."""
    seller = await make_trader(db, settings, {"BTC": "10"})
    buyer = await make_trader(db, settings, {"USDT": "2000000"})
    return seller, buyer


async def trade_at(client, seller: Trader, buyer: Trader, price: str, qty: str = "0.01", symbol: str = "BTC-USDT") -> int:
    """One trade at `price` (the seller rests, the buyer takes): its trade id."""
    await place_ok(client, seller, symbol=symbol, side="sell", type="limit", price=price, quantity=qty)
    o = await place_ok(client, buyer, symbol=symbol, side="buy", type="limit", price=price, quantity=qty)
    assert o["status"] == "filled", o
    return o["fills"][-1]["trade_id"]


async def create(client, trader: Trader, condition: dict, symbol: str = "BTC-USDT", **options) -> dict:
    r = await client.post(ALERTS, json={"symbol": symbol, "condition": condition, **options}, headers=trader.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def email_of(db, user_id: int) -> str:
    return await db.fetchval("SELECT email FROM auth.app_user WHERE id = $1", user_id)


async def firings(db, alert_id: int) -> list:
    return await db.fetch("SELECT seq, trade_id, price, value FROM trade.price_alert_event WHERE alert_id = $1 "
                          "ORDER BY id", alert_id)


async def stream_rows(db, user_id: int) -> list:
    return await db.fetch("SELECT payload FROM ops.outbox WHERE topic = 'stream.user.alert_triggered' "
                          "AND (payload->>'user_id')::bigint = $1 ORDER BY id", user_id)


async def wait_fired(db, alert_id: int, count: int = 1, timeout: float = 15.0) -> list:
    async def enough():
        rows = await firings(db, alert_id)
        return rows if len(rows) >= count else None
    return await eventually(enough, timeout, f"{count} firing(s) of alert {alert_id}")


async def evaluated_up_to(app, symbol: str, trade_id: int, timeout: float = 15.0) -> None:
    """Wait until the market's evaluator has evaluated trade `trade_id` (and written what it fired)."""
    container = app.state.container
    registry = container.trade_registry
    market_id = registry.by_symbol[symbol].id

    async def done():
        evaluator = container.alerts.evaluators.get(market_id)
        return evaluator is not None and evaluator.started and evaluator.settled >= trade_id
    await eventually(done, timeout, f"{symbol} evaluated up to trade {trade_id}")
