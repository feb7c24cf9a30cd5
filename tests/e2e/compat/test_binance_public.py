"""Public /api/v3 endpoints through HTTP against real PostgreSQL: shapes, parameters, limits, klines for
every interval, routing of unsupported paths, request weights and 429s."""
from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal as D

from asgi_lifespan import LifespanManager
import httpx

from mycrypto.apps import create_app
from tests.conftest import make_settings
from tests.e2e.compat.kit import binance_error, key_user, spost

DAY = 86_400_000


async def trade_twice(client, db, settings):
    """Two trades on BTCUSDT (0.1 @ 50000 then 0.3 @ 51000, buyer taker) and one resting bid at 49000."""
    seller = await key_user(client, db, settings, {"BTC": "2"})
    buyer = await key_user(client, db, settings, {"USDT": "100000"})
    for price, qty in (("50000", "0.1"), ("51000", "0.3")):
        r = await spost(client, seller, "order", {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT",
                                                  "timeInForce": "GTC", "price": price, "quantity": qty})
        assert r.status_code == 200, r.text
        r = await spost(client, buyer, "order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                 "quantity": qty})
        assert r.status_code == 200 and r.json()["status"] == "FILLED", r.text
    r = await spost(client, buyer, "order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                             "timeInForce": "GTC", "price": "49000", "quantity": "0.2"})
    assert r.status_code == 200, r.text
    return seller, buyer


async def test_general_endpoints_and_exchange_info(client):
    r = await client.get("/api/v3/ping")
    assert r.status_code == 200 and r.json() == {} and r.headers["x-mbx-used-weight-1m"] == "1"
    before = int(time.time() * 1000)
    r = await client.get("/api/v3/time")
    assert before - 1000 <= r.json()["serverTime"] <= int(time.time() * 1000) + 1000
    info = (await client.get("/api/v3/exchangeInfo")).json()
    assert info["timezone"] == "UTC" and isinstance(info["serverTime"], int)
    assert {x["rateLimitType"] for x in info["rateLimits"]} == {"REQUEST_WEIGHT", "ORDERS"}
    symbols = {x["symbol"]: x for x in info["symbols"]}
    assert set(symbols) == {"BTCUSDT", "ETHUSDT", "ETHBTC"}
    btc = symbols["BTCUSDT"]
    assert (btc["status"], btc["baseAsset"], btc["quoteAsset"], btc["orderTypes"]) == (
        "TRADING", "BTC", "USDT", ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
                                   "TAKE_PROFIT_LIMIT"])
    assert btc["ocoAllowed"] is True
    assert btc["baseAssetPrecision"] == 8 and btc["quoteOrderQtyMarketAllowed"] is True
    assert btc["isSpotTradingAllowed"] is True and btc["permissionSets"] == [["SPOT"]]
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"] == {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000",
                                   "stepSize": "0.00001000"}
    assert filters["MARKET_LOT_SIZE"]["stepSize"] == "0.00001000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    assert symbols["ETHBTC"]["filters"][0]["tickSize"] == "0.00001000"
    one = (await client.get("/api/v3/exchangeInfo?symbol=ETHBTC")).json()
    assert [x["symbol"] for x in one["symbols"]] == ["ETHBTC"]
    some = (await client.get('/api/v3/exchangeInfo?symbols=["ETHUSDT","BTCUSDT"]')).json()
    assert [x["symbol"] for x in some["symbols"]] == ["ETHUSDT", "BTCUSDT"]
    binance_error(await client.get("/api/v3/exchangeInfo?symbol=DOGEUSDT"), -1121, 400)


async def test_depth_trades_and_agg_trades(client, db, settings):
    await trade_twice(client, db, settings)
    depth = (await client.get("/api/v3/depth?symbol=BTCUSDT&limit=5")).json()
    assert depth["bids"] == [["49000.00000000", "0.20000000"]] and depth["asks"] == []
    assert isinstance(depth["lastUpdateId"], int) and depth["lastUpdateId"] > 0
    assert (await client.get("/api/v3/depth?symbol=BTCUSDT&limit=6000")).status_code == 200   # truncated, as Binance
    assert (await client.get("/api/v3/depth?symbol=BTCUSDT&limit=1000")).headers["x-mbx-used-weight-1m"]
    binance_error(await client.get("/api/v3/depth?symbol=BTCUSDT&limit=0"), -1130, 400)
    binance_error(await client.get("/api/v3/depth?symbol=BTCUSDT&limit=abc"), -1100, 400)
    binance_error(await client.get("/api/v3/depth"), -1102, 400)
    binance_error(await client.get("/api/v3/depth?symbol=BTC-USDT"), -1121, 400)

    trades = (await client.get("/api/v3/trades?symbol=BTCUSDT")).json()
    assert [(t["id"], t["price"], t["qty"], t["quoteQty"], t["isBuyerMaker"]) for t in trades] == [
        (1, "50000.00000000", "0.10000000", "5000.00000000", False),
        (2, "51000.00000000", "0.30000000", "15300.00000000", False)]
    assert [t["id"] for t in (await client.get("/api/v3/trades?symbol=BTCUSDT&limit=1")).json()] == [2]
    binance_error(await client.get("/api/v3/trades?symbol=BTCUSDT&limit=1001"), -1130, 400)
    hist = (await client.get("/api/v3/historicalTrades?symbol=BTCUSDT&fromId=2")).json()
    assert [t["id"] for t in hist] == [2]

    agg = (await client.get("/api/v3/aggTrades?symbol=BTCUSDT")).json()
    assert [(a["a"], a["p"], a["q"], a["f"], a["l"], a["m"], a["M"]) for a in agg] == [
        (1, "50000.00000000", "0.10000000", 1, 1, False, True), (2, "51000.00000000", "0.30000000", 2, 2, False, True)]
    first_time = agg[0]["T"]
    assert [a["a"] for a in (await client.get("/api/v3/aggTrades?symbol=BTCUSDT&fromId=2")).json()] == [2]
    assert [a["a"] for a in (await client.get("/api/v3/aggTrades?symbol=BTCUSDT&fromId=1&limit=1")).json()] == [1]
    window = f"startTime={first_time}&endTime={first_time + 3_600_000}"
    assert [a["a"] for a in (await client.get(f"/api/v3/aggTrades?symbol=BTCUSDT&{window}")).json()] == [1, 2]
    assert (await client.get(f"/api/v3/aggTrades?symbol=BTCUSDT&endTime={first_time - 1}")).json() == []
    assert [a["a"] for a in (await client.get(
        f"/api/v3/aggTrades?symbol=BTCUSDT&endTime={agg[1]['T']}&limit=1")).json()] == [2]
    binance_error(await client.get(f"/api/v3/aggTrades?symbol=BTCUSDT&startTime=10&endTime=5"), -1130, 400)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


async def test_klines_every_interval_and_windows(client, db, settings):
    await trade_twice(client, db, settings)
    now = int(time.time() * 1000)
    for interval in ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"):
        r = await client.get(f"/api/v3/klines?symbol=BTCUSDT&interval={interval}")
        assert r.status_code == 200, (interval, r.text)
        rows = r.json()
        assert rows, interval
        # both trades may straddle a boundary of the smallest intervals; the newest row holds the last one
        assert sum(D(k[5]) for k in rows) == D("0.4"), interval
        k = rows[-1]
        assert len(k) == 12 and isinstance(k[0], int) and isinstance(k[6], int) and isinstance(k[8], int)
        assert k[4] == "51000.00000000" and k[0] <= now and k[6] > k[0]
        opened = _utc(k[0])
        if interval == "1M":
            assert (opened.day, opened.hour, opened.minute) == (1, 0, 0)
            assert _utc(k[6] + 1).day == 1
        elif interval == "1w":
            assert opened.weekday() == 0 and (opened.hour, opened.minute) == (0, 0)
            assert k[6] - k[0] + 1 == 7 * DAY
        elif interval == "3d":
            assert k[0] % (3 * DAY) == 0 and k[6] - k[0] + 1 == 3 * DAY
        else:
            length = {"m": 60_000, "h": 3_600_000, "d": DAY}[interval[-1]] * int(interval[:-1])
            assert k[0] % length == 0 and k[6] - k[0] + 1 == length
    one = (await client.get("/api/v3/klines?symbol=BTCUSDT&interval=1d")).json()[0]
    assert one[1:6] == ["50000.00000000", "51000.00000000", "50000.00000000", "51000.00000000", "0.40000000"]
    assert one[7] == "20300.00000000" and one[8] == 2
    assert (await client.get(f"/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime={now + 120_000}")).json() == []
    assert (await client.get(f"/api/v3/klines?symbol=BTCUSDT&interval=1h&endTime={now - DAY}")).json() == []
    assert len((await client.get("/api/v3/uiKlines?symbol=BTCUSDT&interval=1d&limit=1")).json()) == 1
    binance_error(await client.get("/api/v3/klines?symbol=BTCUSDT&interval=7m"), -1120, 400)
    binance_error(await client.get("/api/v3/klines?symbol=BTCUSDT&interval=1s"), -1120, 400)
    binance_error(await client.get("/api/v3/klines?symbol=BTCUSDT"), -1102, 400)
    binance_error(await client.get("/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1001"), -1130, 400)
    binance_error(await client.get("/api/v3/klines?symbol=NOPE&interval=1m"), -1121, 400)


async def test_tickers_and_average_price(client, db, settings):
    await trade_twice(client, db, settings)
    t = (await client.get("/api/v3/ticker/24hr?symbol=BTCUSDT")).json()
    assert (t["symbol"], t["openPrice"], t["highPrice"], t["lowPrice"], t["lastPrice"], t["lastQty"]) == (
        "BTCUSDT", "50000.00000000", "51000.00000000", "50000.00000000", "51000.00000000", "0.30000000")
    assert (t["volume"], t["quoteVolume"], t["count"], t["firstId"], t["lastId"]) == (
        "0.40000000", "20300.00000000", 2, 1, 2)
    assert (t["priceChange"], t["priceChangePercent"], t["weightedAvgPrice"]) == (
        "1000.00000000", "2.000", "50750.00000000")
    assert (t["bidPrice"], t["bidQty"], t["askPrice"], t["askQty"]) == (
        "49000.00000000", "0.20000000", "0.00000000", "0.00000000")
    everything = (await client.get("/api/v3/ticker/24hr")).json()
    assert [x["symbol"] for x in everything] == ["BTCUSDT", "ETHUSDT", "ETHBTC"]
    quiet = everything[1]
    assert (quiet["count"], quiet["firstId"], quiet["lastId"], quiet["lastPrice"]) == (0, -1, -1, "0.00000000")
    two = (await client.get('/api/v3/ticker/24hr?symbols=["ETHBTC","BTCUSDT"]&type=MINI')).json()
    assert [x["symbol"] for x in two] == ["ETHBTC", "BTCUSDT"] and "bidPrice" not in two[0]
    binance_error(await client.get('/api/v3/ticker/24hr?symbols=["BTCUSDT","NOPE"]'), -1121, 400)
    binance_error(await client.get('/api/v3/ticker/24hr?symbol=BTCUSDT&symbols=["BTCUSDT"]'), -1128, 400)

    assert (await client.get("/api/v3/ticker/price?symbol=BTCUSDT")).json() == {"symbol": "BTCUSDT",
                                                                                "price": "51000.00000000"}
    prices = (await client.get("/api/v3/ticker/price")).json()
    assert {p["symbol"]: p["price"] for p in prices}["ETHUSDT"] == "0.00000000"
    book = (await client.get("/api/v3/ticker/bookTicker?symbol=BTCUSDT")).json()
    assert book == {"symbol": "BTCUSDT", "bidPrice": "49000.00000000", "bidQty": "0.20000000",
                    "askPrice": "0.00000000", "askQty": "0.00000000"}
    assert len((await client.get('/api/v3/ticker/bookTicker?symbols=["BTCUSDT","ETHBTC"]')).json()) == 2

    avg = (await client.get("/api/v3/avgPrice?symbol=BTCUSDT")).json()
    assert avg["mins"] == 5 and avg["price"] == "50750.00000000" and isinstance(avg["closeTime"], int)
    assert (await client.get("/api/v3/avgPrice?symbol=ETHUSDT")).json()["price"] == "0.00000000"


async def test_unsupported_paths_answer_json_not_html(client):
    r = await client.get("/api/v3/nope")
    body = binance_error(r, -1020, 404)
    assert "docs/binance-api.md" in body["msg"]
    r = await client.put("/api/v3/order")
    binance_error(r, -1020, 405)
    assert set(r.headers["allow"].split(", ")) == {"GET", "POST", "DELETE"}
    # user data streams are supported since the streams work (issue 13): a listen key needs an API key
    binance_error(await client.post("/api/v3/userDataStream"), -2015, 401)
    binance_error(await client.post("/api/v3/order/oco"), -1020, 404)
    binance_error(await client.get("/api/v3"), -1020, 404)
    for path in ("/sapi/v1/capital/config/getall", "/sapi/v1/margin/allPairs", "/fapi/v1/exchangeInfo",
                 "/dapi/v1/exchangeInfo", "/eapi/v1/exchangeInfo", "/papi/v1/um/order",
                 "/futures/data/openInterestHist",
                 "/sapi/v3/asset/getUserAsset", "/fapi/v2/account", "/sapi"):
        body = binance_error(await client.get(path), -1020, 404)
        assert "spot" in body["msg"]
    binance_error(await client.post("/sapi/v1/margin/order"), -1020, 404)


async def test_weight_limit_answers_429_with_retry_after(db_dsn):
    settings = make_settings(db_dsn, binance_weight_per_minute=45)
    app = create_app(settings, access_log=False)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await c.get("/api/v3/exchangeInfo")
            assert r.status_code == 200 and r.headers["x-mbx-used-weight-1m"] == "20"
            r = await c.get("/api/v3/exchangeInfo")
            assert r.status_code == 200 and r.headers["x-mbx-used-weight-1m"] == "40"
            r = await c.get("/api/v3/exchangeInfo")
            body = binance_error(r, -1003, 429)
            assert "45 request weight per 1 MINUTE" in body["msg"]
            assert int(r.headers["retry-after"]) >= 1 and r.headers["x-mbx-used-weight-1m"] == "40"
            r = await c.get("/api/v3/ping")   # weight 1 still fits
            assert r.status_code == 200 and r.headers["x-mbx-used-weight-1m"] == "41"
