"""GET /api/v1/trade/indicators over real candles in PostgreSQL, checked against pandas formulas computed
here over the same closes; the warm-up makes a value independent of `limit`; bad parameters are 4xx."""
import random
from decimal import Decimal as D

import pandas as pd
import pytest

from tests.support.pandas_indicators import ema_pd, floats, rsi_pd

URL = "/api/v1/trade/indicators"
HOUR = 3_600_000


@pytest.fixture
async def hourly(db):
    """600 hourly BTC-USDT candles ending before the current hour: (open ms, close, volume, quote volume)."""
    market_id = await db.fetchval("SELECT id FROM trade.market WHERE symbol = 'BTC-USDT'")
    now = await db.fetchval("SELECT (extract(epoch FROM date_trunc('hour', now())) * 1000)::bigint")
    rnd = random.Random(42)
    price, rows = D(50000), []
    for i in range(600):
        price += D(rnd.randint(-30000, 30000)) / 100
        volume = D(rnd.randint(1, 10**6)) / 10**5
        rows.append((now - (600 - i) * HOUR, price, volume, (price * volume).quantize(D("0.00000001"))))
    async with db.acquire() as conn:
        await conn.executemany(
            "INSERT INTO trade.candle (market_id, interval, open_time, open, high, low, close, volume, quote_volume, "
            "trade_count, first_trade_id, last_trade_id) VALUES ($1, '1h', 'epoch'::timestamptz + $2 * interval '1 ms', "
            "$3, $3, $3, $3, $4, $5, 1, 1, 1)", [(market_id, ms, c, v, q) for ms, c, v, q in rows])
    return rows


async def values(client, name, field, **params):
    r = await client.get(f"{URL}/{name}", params={"symbol": "BTC-USDT", **params})
    assert r.status_code == 200, r.text
    body = r.json()
    return body, [None if v[field] is None else float(v[field]) for v in body["values"]]


def assert_close(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if pd.isna(b):
            assert a is None
        else:
            assert a == pytest.approx(b, rel=1e-9, abs=1e-7)


async def test_every_indicator_matches_pandas(client, hourly):
    closes = floats([c for _, c, _, _ in hourly])
    body, rsi = await values(client, "rsi", "rsi", interval="1h", period=14, limit=200)
    assert body["params"] == {"period": 14} and body["decimals"] == 8 and len(body["values"]) == 200
    assert [v["open_time"] for v in body["values"]] == [ms for ms, *_ in hourly[-200:]]
    assert all(v["closed"] for v in body["values"])
    assert_close(rsi, rsi_pd(closes, 14).iloc[-200:].tolist())
    _, sma = await values(client, "sma", "sma", interval="1h", period=50, limit=100)
    assert_close(sma, closes.rolling(50).mean().iloc[-100:].tolist())
    _, ema = await values(client, "ema", "ema", interval="1h", period=20, limit=100)
    assert_close(ema, ema_pd(closes, 20).iloc[-100:].tolist())
    line = ema_pd(closes, 12) - ema_pd(closes, 26)
    signal = ema_pd(line, 9)
    body, macd = await values(client, "macd", "macd", interval="1h", limit=100)
    assert_close(macd, line.iloc[-100:].tolist())
    assert_close([float(v["signal"]) for v in body["values"]], signal.iloc[-100:].tolist())
    assert_close([float(v["histogram"]) for v in body["values"]], (line - signal).iloc[-100:].tolist())
    body, upper = await values(client, "bollinger", "upper", interval="1h", period=20, k="2.5", limit=100)
    mid, sd = closes.rolling(20).mean(), closes.rolling(20).std(ddof=0)
    assert_close(upper, (mid + 2.5 * sd).iloc[-100:].tolist())
    assert_close([float(v["lower"]) for v in body["values"]], (mid - 2.5 * sd).iloc[-100:].tolist())
    vol, quote = floats([v for *_, v, _ in hourly]), floats([q for *_, q in hourly])
    _, vwap = await values(client, "vwap", "vwap", interval="1h", period=24, limit=100)
    assert_close(vwap, (quote.rolling(24).sum() / vol.rolling(24).sum()).iloc[-100:].tolist())


async def test_aggregated_intervals_and_limits_do_not_change_values(client, hourly):
    closes = floats([c for _, c, _, _ in hourly])
    starts = [ms for ms, *_ in hourly]
    two_hour = closes.groupby([s - s % (2 * HOUR) for s in starts]).last()   # a 2h close is its later 1h close
    _, rsi2 = await values(client, "rsi", "rsi", interval="2h", period=14, limit=50)
    assert_close(rsi2, rsi_pd(two_hour.reset_index(drop=True), 14).iloc[-50:].tolist())
    _, long = await values(client, "ema", "ema", interval="1h", period=10, limit=300)
    _, short = await values(client, "ema", "ema", interval="1h", period=10, limit=5)
    assert long[-5:] == short
    body, _ = await values(client, "rsi", "rsi", interval="1h", end_time=str(hourly[99][0]), limit=10)
    assert body["values"][-1]["open_time"] == hourly[99][0]


async def test_catalogue(client):
    r = await client.get(URL)
    assert r.status_code == 200
    names = {i["name"]: i for i in r.json()}
    assert set(names) == {"sma", "ema", "rsi", "macd", "bollinger", "vwap"}
    assert names["rsi"]["parameters"]["period"] == {"min": 2, "max": 100, "default": 14}
    assert names["macd"]["fields"] == ["macd", "signal", "histogram"]


BAD = [
    ("/rsi?symbol=BTC-USDT&period=0", 400, "invalid_period"),
    ("/rsi?symbol=BTC-USDT&period=101", 400, "invalid_period"),
    ("/rsi?symbol=BTC-USDT&period=abc", 400, "invalid_period"),
    ("/rsi?symbol=BTC-USDT&period=%C2%B2", 400, "invalid_period"),
    ("/rsi?symbol=BTC-USDT&period=99999999999999999999999", 400, "invalid_period"),
    ("/rsi?symbol=BTC-USDT&limit=0", 400, "invalid_limit"),
    ("/rsi?symbol=BTC-USDT&limit=1001", 400, "invalid_limit"),
    ("/rsi?symbol=BTC-USDT&interval=7x", 400, "invalid_interval"),
    ("/rsi?symbol=BTC-USDT&end_time=-1", 400, "invalid_end_time"),
    ("/rsi?symbol=BTC-USDT&fast=3", 400, "unknown_parameter"),
    ("/macd?symbol=BTC-USDT&fast=26&slow=12", 400, "invalid_fast"),
    ("/bollinger?symbol=BTC-USDT&k=1e3", 400, "invalid_k"),
    ("/bollinger?symbol=BTC-USDT&k=11", 400, "invalid_k"),
    ("/rsi?symbol=NOPE-USDT", 400, "unknown_market"),
    ("/stochastic?symbol=BTC-USDT", 404, "unknown_indicator"),
    ("/rsi?symbol=BTC-USDT&interval=4w&period=100&limit=1000", 400, "too_much_history"),
]


async def test_bad_parameters_are_4xx(client):
    for path, status, code in BAD:
        r = await client.get(URL + path)
        assert r.status_code == status and r.json()["error"]["code"] == code, (path, r.text)


async def test_a_market_without_candles_has_no_values(client):
    r = await client.get(f"{URL}/sma", params={"symbol": "ETH-BTC", "interval": "1d"})
    assert r.status_code == 200 and r.json()["values"] == []
