"""Alerts end to end on real PostgreSQL and a real SMTP server: created over HTTP, fired by real trades
between two users, exactly once per crossing, with a history row, an email and a private-stream outbox row."""
import asyncio
from decimal import Decimal as D

from tests.e2e.alerts.kit import (ALERTS, create, email_of, evaluated_up_to, firings, stream_rows, trade_at,
                                  traders, wait_fired)
from tests.e2e.trading.kit import make_trader
from tests.support.smtp import text_of


async def test_price_alert_fires_exactly_once_by_stream_and_email(app, client, db, settings, smtp_sink):
    seller, buyer = await traders(db, settings)
    watcher = await make_trader(db, settings)
    await trade_at(client, seller, buyer, "50000")                  # the market's last price: 50000
    alert = await create(client, watcher, {"type": "price", "direction": "above", "price": "50500"},
                         note="take profit?")
    assert alert["status"] == "active" and alert["fire_count"] == 0 and alert["repeat"] is False
    assert alert["description"] == "BTC-USDT traded at or above 50500"

    below = await trade_at(client, seller, buyer, "50400")           # not yet
    crossing = await trade_at(client, seller, buyer, "50600")        # crosses 50500
    await trade_at(client, seller, buyer, "50700")                   # still above: nothing
    await trade_at(client, seller, buyer, "50100")                   # back under ...
    last = await trade_at(client, seller, buyer, "50800")            # ... and over again: a one-shot is done
    assert below < crossing < last

    [fired] = await wait_fired(db, alert["alert_id"])
    await evaluated_up_to(app, "BTC-USDT", last)
    assert len(await firings(db, alert["alert_id"])) == 1
    assert (fired["seq"], fired["trade_id"], fired["price"]) == (crossing, crossing, D("50600"))

    got = (await client.get(f"{ALERTS}/{alert['alert_id']}", headers=watcher.headers)).json()
    assert got["status"] == "triggered" and got["fire_count"] == 1 and got["last_triggered_at"] is not None
    history = (await client.get(f"{ALERTS}/history", headers=watcher.headers)).json()
    assert [(h["alert_id"], h["trade_id"], h["price"]) for h in history["items"]] == [
        (alert["alert_id"], crossing, "50600")]
    assert history["next_cursor"] is None

    [row] = await stream_rows(db, watcher.user_id)
    event = row["payload"]["event"]
    assert row["payload"]["user_id"] == watcher.user_id
    assert (event["type"], event["alert_id"], event["trade_id"], event["price"], event["symbol"]) == (
        "alert_triggered", alert["alert_id"], crossing, "50600", "BTC-USDT")
    assert event["history_id"] == history["items"][0]["id"] and event["note"] == "take profit?"

    to = await email_of(db, watcher.user_id)
    msg = await smtp_sink.wait_for(to=to, subject_contains="Price alert")
    body = text_of(msg)
    assert "BTC-USDT traded at or above 50500" in body and "50600 USDT" in body and "take profit?" in body
    await asyncio.sleep(1.0)                                          # nothing else comes
    assert len(smtp_sink.to(to)) == 1
    # the traders (who set no alert) got nothing
    assert await stream_rows(db, buyer.user_id) == [] and await stream_rows(db, seller.user_id) == []


async def test_repeating_alert_fires_once_per_crossing_and_respects_its_cooldown(app, client, db, settings):
    seller, buyer = await traders(db, settings)
    watcher = await make_trader(db, settings)
    await trade_at(client, seller, buyer, "50000")
    alert = await create(client, watcher, {"type": "price", "direction": "below", "price": "49900"}, repeat=True,
                         cooldown_seconds=60, email=False)
    first = await trade_at(client, seller, buyer, "49800")            # crosses down: fires
    await trade_at(client, seller, buyer, "49700")                    # still below
    await trade_at(client, seller, buyer, "50000")                    # re-armed ...
    last = await trade_at(client, seller, buyer, "49850")             # ... crosses again inside the cooldown
    await wait_fired(db, alert["alert_id"])
    await evaluated_up_to(app, "BTC-USDT", last)
    rows = await firings(db, alert["alert_id"])
    assert [r["trade_id"] for r in rows] == [first]
    got = (await client.get(f"{ALERTS}/{alert['alert_id']}", headers=watcher.headers)).json()
    assert got["status"] == "active" and got["fire_count"] == 1 and got["email"] is False
    assert await db.fetchval("SELECT count(*) FROM ops.outbox WHERE topic LIKE 'email.price_alert'") == 0
    assert len(await stream_rows(db, watcher.user_id)) == 1


async def test_change_alert_against_the_price_a_window_ago(app, client, db, settings):
    """A % change alert compares with the close of the last whole minute before the window: arrange that
    minute's candle (an hour ago) in trade.candle, then trade 6 % above it."""
    seller, buyer = await traders(db, settings)
    watcher = await make_trader(db, settings)
    first = await trade_at(client, seller, buyer, "50000")
    market_id = await db.fetchval("SELECT id FROM trade.market WHERE symbol = 'BTC-USDT'")
    await db.execute(
        "INSERT INTO trade.candle (market_id, interval, open_time, open, high, low, close, volume, quote_volume, "
        "trade_count, first_trade_id, last_trade_id) SELECT $1, '1m', date_trunc('minute', now()) - "
        "make_interval(mins => m), 47000, 47000, 47000, 47000, 1, 47000, 1, $2, $2 FROM generate_series(20, 40) m",
        market_id, first)
    alert = await create(client, watcher, {"type": "change", "direction": "up", "percent": "6", "window": "15m"})
    assert alert["condition"] == {"type": "change", "direction": "up", "percent": "6", "window": "15m"}
    await trade_at(client, seller, buyer, "49700")                    # +5.74 % vs 47000: not yet
    crossing = await trade_at(client, seller, buyer, "49900")         # +6.17 %
    [fired] = await wait_fired(db, alert["alert_id"])
    assert fired["trade_id"] == crossing and fired["value"] == D("6.17021277")


async def test_an_alert_created_on_a_busy_market_misses_no_trade(app, client, db, settings):
    """Trades that commit right after the alert (before its owner heard of it) are still evaluated for it."""
    seller, buyer = await traders(db, settings)
    watcher = await make_trader(db, settings)
    await trade_at(client, seller, buyer, "50000")
    alerts = []
    for i in range(5):
        alerts.append(await create(client, watcher, {"type": "price", "direction": "above",
                                                     "price": str(50001 + i)}))
        await trade_at(client, seller, buyer, str(50001 + i))          # crosses the alert just created
        await trade_at(client, seller, buyer, "50000")
    for a in alerts:
        assert len(await wait_fired(db, a["alert_id"])) == 1
