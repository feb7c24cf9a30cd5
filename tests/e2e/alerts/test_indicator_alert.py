"""An indicator alert evaluated as candles close: the close of the current 1m candle crosses above its
SMA(5), and the alert fires when that candle closes - here on the evaluator's timer, since no later
trade comes - with the candle's open time as its position. Waits for a real minute boundary (<= ~70 s)."""
import asyncio
import time
from decimal import Decimal as D

import pytest

from mycrypto.marketdata import indicators as ind
from tests.e2e.alerts.kit import create, stream_rows, trade_at, traders, wait_fired
from tests.e2e.trading.kit import make_trader

MINUTE = 60_000


@pytest.mark.slow
async def test_sma_cross_alert_fires_when_the_candle_closes(app, client, db, settings):
    if time.time() % 60 > 45:                    # keep the set-up inside one minute
        await asyncio.sleep(61 - time.time() % 60)
    seller, buyer = await traders(db, settings)
    user = await make_trader(db, settings)
    market_id = await db.fetchval("SELECT id FROM trade.market WHERE symbol = 'BTC-USDT'")
    now_minute = int(time.time() * 1000) // MINUTE * MINUTE
    history = [D(50300) - 10 * i for i in range(30)]           # falling: every close below its SMA(5)
    async with db.acquire() as conn:
        await conn.executemany(
            "INSERT INTO trade.candle (market_id, interval, open_time, open, high, low, close, volume, quote_volume, "
            "trade_count, first_trade_id, last_trade_id) VALUES ($1, '1m', 'epoch'::timestamptz + $2 * interval '1 ms', "
            "$3, $3, $3, $3, 1, $3, 1, 0, 0)",
            [(market_id, now_minute - (30 - i) * MINUTE, c) for i, c in enumerate(history)])
    await trade_at(client, seller, buyer, "50000")
    alert = await create(client, user, {"type": "sma_cross", "direction": "above", "period": 5, "interval": "1m"})
    crossing = await trade_at(client, seller, buyer, "51000")   # this minute closes at 51000, above the SMA
    assert int(time.time() * 1000) // MINUTE * MINUTE == now_minute, "the set-up crossed a minute boundary"
    [fired] = await wait_fired(db, alert["alert_id"], timeout=80)
    sma = ind.rounded(ind.sma(history[-4:] + [D(51000)], 5)[-1])
    assert fired["seq"] == now_minute and fired["trade_id"] == crossing
    assert fired["price"] == D(51000) and fired["value"] == D(51000) - sma
    [row] = await stream_rows(db, user.user_id)
    assert row["payload"]["event"]["time"] == now_minute + MINUTE
