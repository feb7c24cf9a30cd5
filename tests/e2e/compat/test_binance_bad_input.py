"""Bad input on /api/v3: every refusal is a Binance-shaped 4xx with Binance's code, and nothing changes
(orders, trades, postings and balances are compared before and after)."""
from __future__ import annotations

import asyncio
import time

from tests.e2e.compat.kit import KeyUser, binance_error, key_headers, key_user, sdelete, sget, signed, spost, snapshot

BTC = {"symbol": "BTCUSDT"}
ORDER = {**BTC, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "price": "50000", "quantity": "0.01"}


async def test_authentication_refusals(client, db, settings):
    u = await key_user(client, db, settings, {"USDT": "10000"})
    reader = await key_user(client, db, settings, {"USDT": "10000"}, permissions=("read",))
    before = await snapshot(db)
    path = "/api/v3/order"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    # no key at all / a malformed key / an unknown key
    binance_error(await client.post(path, content=signed(u, ORDER), headers=form), -2014, 401)
    binance_error(await client.post(path, content=signed(u, ORDER), headers={**form, "X-MBX-APIKEY": "short"}),
                  -2014, 401)
    binance_error(await client.post(path, content=signed(u, ORDER), headers={**form, "X-MBX-APIKEY": "A" * 64}),
                  -2015, 401)
    # unsigned, mis-signed (wrong secret, tampered parameters), two signatures
    unsigned = "&".join(f"{k}={v}" for k, v in {**ORDER, "timestamp": int(time.time() * 1000)}.items())
    body = binance_error(await client.post(path, content=unsigned, headers={**form, **key_headers(u)}), -1102, 400)
    assert "'signature'" in body["msg"]
    binance_error(await spost(client, u, "order", ORDER, secret="not-the-secret"), -1022, 400)
    tampered = signed(u, ORDER).replace("quantity=0.01", "quantity=0.02")
    body = binance_error(await client.post(path, content=tampered, headers={**form, **key_headers(u)}), -1022, 400)
    assert body["msg"] == "Signature for this request is not valid."
    twice = signed(u, ORDER) + "&signature=" + "0" * 64
    binance_error(await client.post(path, content=twice, headers={**form, **key_headers(u)}), -1022, 400)
    # timestamps: missing, garbage, stale, too far ahead; recvWindow out of range
    r = await client.post(path, content="symbol=BTCUSDT&signature=" + "0" * 64, headers={**form, **key_headers(u)})
    assert "'timestamp'" in binance_error(r, -1102, 400)["msg"]
    binance_error(await spost(client, u, "order", {**ORDER, "timestamp": "soon"}), -1100, 400)
    now = int(time.time() * 1000)
    body = binance_error(await spost(client, u, "order", ORDER, timestamp_ms=now - 6000), -1021, 400)
    assert body["msg"] == "Timestamp for this request is outside of the recvWindow."
    binance_error(await spost(client, u, "order", ORDER, timestamp_ms=now + 5000), -1021, 400)
    binance_error(await spost(client, u, "order", {**ORDER, "recvWindow": 60001}), -1131, 400)
    # a captured request replayed after its window
    replay = signed(u, {**ORDER, "recvWindow": 500})
    await asyncio.sleep(0.7)
    binance_error(await client.post(path, content=replay, headers={**form, **key_headers(u)}), -1021, 400)
    # a read-only key may read but not trade
    assert (await sget(client, reader, "account")).status_code == 200
    binance_error(await spost(client, reader, "order", ORDER), -2015, 401)
    binance_error(await sdelete(client, reader, "openOrders", BTC), -2015, 401)
    # a key bound to another IP address
    r = await client.post("/api/v1/auth/api-keys", json={"label": "office", "permissions": ["read", "trade"],
                                                         "ip_allowlist": ["10.1.2.3"]}, headers=u.headers)
    assert r.status_code == 201, r.text
    elsewhere = KeyUser(u.user_id, r.json()["api_key"], r.json()["secret"], u.headers)
    binance_error(await sget(client, elsewhere, "account"), -2015, 401)
    binance_error(await spost(client, elsewhere, "order", ORDER), -2015, 401)
    # a revoked key stops working
    key_id = await db.fetchval("SELECT id FROM auth.api_key WHERE api_key = $1", u.api_key)
    assert (await client.delete(f"/api/v1/auth/api-keys/{key_id}", headers=u.headers)).status_code == 200
    binance_error(await sget(client, u, "account"), -2015, 401)
    assert await snapshot(db) == before


async def test_unverified_account_cannot_trade(client, db, settings, app):
    u = await key_user(client, db, settings, {"USDT": "10000"})
    await db.execute("UPDATE auth.app_user SET email_verified_at = NULL WHERE id = $1", u.user_id)
    app.state.container.auth.status_cache.invalidate(u.user_id)
    before = await snapshot(db)
    body = binance_error(await spost(client, u, "order", ORDER), -2010, 400)
    assert body["msg"] == "This action is disabled on this account."
    acct = (await sget(client, u, "account")).json()
    assert acct["canTrade"] is False
    assert await snapshot(db) == before


async def test_halted_market_refuses_orders_but_allows_cancels(client, db, settings, app):
    u = await key_user(client, db, settings, {"USDT": "10000"})
    resting = (await spost(client, u, "order", ORDER)).json()
    service = app.state.container.trade
    await service.set_market_status("BTC-USDT", True)
    before = await snapshot(db)
    assert binance_error(await spost(client, u, "order", ORDER), -2010, 400)["msg"] == "Market is closed."
    info = (await client.get("/api/v3/exchangeInfo?symbol=BTCUSDT")).json()
    assert info["symbols"][0]["status"] == "HALT"
    assert await snapshot(db) == before
    canceled = await sdelete(client, u, "order", {**BTC, "orderId": resting["orderId"]})
    assert canceled.status_code == 200 and canceled.json()["status"] == "CANCELED"
    await service.set_market_status("BTC-USDT", False)
    assert (await spost(client, u, "order", ORDER)).json()["status"] == "NEW"


async def test_order_parameter_and_filter_refusals_change_nothing(client, db, settings):
    u = await key_user(client, db, settings, {"USDT": "1000", "BTC": "0.001"})
    before = await snapshot(db)
    cases = [
        ({**ORDER, "symbol": "DOGEUSDT"}, -1121, "Invalid symbol."),
        ({**ORDER, "symbol": "BTC-USDT"}, -1121, "Invalid symbol."),
        ({k: v for k, v in ORDER.items() if k != "symbol"}, -1102, None),
        ({**ORDER, "price": "50000.001"}, -1013, "Filter failure: PRICE_FILTER"),
        ({**ORDER, "price": "0"}, -1013, "Filter failure: PRICE_FILTER"),
        ({**ORDER, "quantity": "0.000015"}, -1013, "Filter failure: LOT_SIZE"),
        ({**ORDER, "quantity": "0"}, -1013, "Filter failure: LOT_SIZE"),
        ({**ORDER, "quantity": "10000"}, -1013, "Filter failure: LOT_SIZE"),
        ({**ORDER, "price": "100", "quantity": "0.01"}, -1013, "Filter failure: NOTIONAL"),
        ({**ORDER, "quantity": "0.000000001"}, -1111, None),
        ({**ORDER, "quantity": "1e-2"}, -1100, None),
        ({**ORDER, "price": "-5"}, -1100, None),
        ({**ORDER, "side": "HOLD"}, -1117, "Invalid side."),
        ({**ORDER, "type": "ICEBERG"}, -1116, "Invalid orderType."),
        ({**ORDER, "type": "STOP_LOSS_LIMIT"}, -1102, None),                  # stopPrice is mandatory
        ({**ORDER, "stopPrice": "49000"}, -1106, None),                         # ... and only for stop types
        ({**ORDER, "type": "STOP_LOSS_LIMIT", "stopPrice": "0"}, -1013, "Filter failure: PRICE_FILTER"),
        ({**ORDER, "type": "STOP_LOSS_LIMIT", "stopPrice": "49000.001"}, -1013, "Filter failure: PRICE_FILTER"),
        ({**BTC, "side": "BUY", "type": "STOP_LOSS", "stopPrice": "49000", "quoteOrderQty": "10"}, -1106, None),
        ({**ORDER, "type": "TRAILING_STOP_MARKET"}, -1116, "Invalid orderType."),
        ({**ORDER, "type": "STOP_LOSS_LIMIT", "stopPrice": "49000", "trailingDelta": "100"}, -1106, None),
        ({**ORDER, "timeInForce": "GTX"}, -1115, "Invalid timeInForce."),
        ({k: v for k, v in ORDER.items() if k != "timeInForce"}, -1102, None),
        ({k: v for k, v in ORDER.items() if k != "price"}, -1102, None),
        ({**BTC, "side": "BUY", "type": "MARKET"}, -1102, None),
        ({**BTC, "side": "BUY", "type": "MARKET", "quantity": "0.01", "price": "50000"}, -1106, None),
        ({**BTC, "side": "BUY", "type": "MARKET", "quantity": "0.01", "quoteOrderQty": "10"}, -1106, None),
        ({**BTC, "side": "SELL", "type": "MARKET", "quoteOrderQty": "10"}, -1106, None),
        ({**BTC, "side": "BUY", "type": "MARKET", "quoteOrderQty": "1"}, -1013, "Filter failure: NOTIONAL"),
        ({**ORDER, "icebergQty": "0.001"}, -1106, None),
        ({**ORDER, "newOrderRespType": "ALL"}, -1100, None),
        ({**ORDER, "selfTradePreventionMode": "DECREMENT"}, -1130, None),
        ({**ORDER, "newClientOrderId": "has space"}, -1100, None),
        ({**ORDER, "newClientOrderId": "abc\n"}, -1100, None),    # issue 11: full match, no final newline
        ({**ORDER, "price": "50000\n"}, -1100, None),
        ({**ORDER, "quantity": "0.01\n"}, -1100, None),
        ({**ORDER, "quantity": "1"}, -2010, "Account has insufficient balance for requested action."),
        ({**BTC, "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "price": "50000", "quantity": "0.01"},
         -2010, "Account has insufficient balance for requested action."),
    ]
    for params, code, msg in cases:
        r = await spost(client, u, "order", params)
        body = binance_error(r, code)
        assert r.status_code == 400, (params, r.status_code, body)
        if msg is not None:
            assert body["msg"] == msg, (params, body)
        assert "x-mbx-used-weight-1m" in r.headers
    assert await snapshot(db) == before


async def test_oco_parameter_refusals_change_nothing(client, db, settings):
    u = await key_user(client, db, settings, {"USDT": "100000", "BTC": "1"})
    before = await snapshot(db)
    oco = {**BTC, "side": "SELL", "quantity": "0.01", "aboveType": "LIMIT_MAKER", "abovePrice": "52000",
           "belowType": "STOP_LOSS_LIMIT", "belowStopPrice": "48000", "belowPrice": "47900",
           "belowTimeInForce": "GTC"}
    cases = [
        ({k: v for k, v in oco.items() if k != "quantity"}, -1102, None),
        ({k: v for k, v in oco.items() if k != "aboveType"}, -1102, None),
        ({k: v for k, v in oco.items() if k != "belowStopPrice"}, -1102, None),
        ({k: v for k, v in oco.items() if k != "belowTimeInForce"}, -1102, None),
        ({**oco, "aboveType": "TAKE_PROFIT_LIMIT"}, -1020, None),          # only LIMIT_MAKER + STOP_LOSS(_LIMIT)
        ({**oco, "belowType": "LIMIT_MAKER"}, -1020, None),
        ({**oco, "abovePrice": "47000"}, -1013, "The relationship of the prices for the orders is not correct."),
        ({**oco, "abovePrice": "0"}, -1013, "Filter failure: PRICE_FILTER"),
        ({**oco, "belowTrailingDelta": "10"}, -1106, None),
        ({**oco, "belowType": "STOP_LOSS"}, -1106, None),                  # belowPrice without a limit stop
        ({**oco, "quantity": "5"}, -2010, "Account has insufficient balance for requested action."),
        ({**oco, "side": "HOLD"}, -1117, "Invalid side."),
    ]
    for params, code, msg in cases:
        r = await spost(client, u, "orderList/oco", params)
        body = binance_error(r, code)
        assert r.status_code == 400, (params, r.status_code, body)
        if msg is not None:
            assert body["msg"] == msg, (params, body)
    assert await snapshot(db) == before


async def test_unknown_and_foreign_orders(client, db, settings):
    owner = await key_user(client, db, settings, {"USDT": "10000"})
    intruder = await key_user(client, db, settings, {"USDT": "10000"})
    mine = (await spost(client, owner, "order", {**ORDER, "newClientOrderId": "owner-1"})).json()
    before = await snapshot(db)
    # unknown ids
    assert binance_error(await sget(client, owner, "order", {**BTC, "orderId": 999999}), -2013, 400)["msg"] == (
        "Order does not exist.")
    assert binance_error(await sdelete(client, owner, "order", {**BTC, "orderId": 999999}), -2011, 400)["msg"] == (
        "Unknown order sent.")
    binance_error(await sget(client, owner, "order", {**BTC, "origClientOrderId": "nope"}), -2013, 400)
    binance_error(await sget(client, owner, "order", BTC), -1102, 400)
    binance_error(await sdelete(client, owner, "order", BTC), -1102, 400)
    # the right order in the wrong symbol
    binance_error(await sget(client, owner, "order", {"symbol": "ETHUSDT", "orderId": mine["orderId"]}), -2013)
    binance_error(await sdelete(client, owner, "order", {"symbol": "ETHUSDT", "orderId": mine["orderId"]}), -2011)
    # another user's order: indistinguishable from a missing one, and untouched
    binance_error(await sget(client, intruder, "order", {**BTC, "orderId": mine["orderId"]}), -2013, 400)
    binance_error(await sget(client, intruder, "order", {**BTC, "origClientOrderId": "owner-1"}), -2013, 400)
    binance_error(await sdelete(client, intruder, "order", {**BTC, "orderId": mine["orderId"]}), -2011, 400)
    binance_error(await sdelete(client, intruder, "order", {**BTC, "origClientOrderId": "owner-1"}), -2011, 400)
    binance_error(await sget(client, intruder, "myTrades", {**BTC, "orderId": mine["orderId"]}), -2013, 400)
    binance_error(await sdelete(client, intruder, "openOrders", BTC), -2011, 400)
    assert (await sget(client, intruder, "openOrders", BTC)).json() == []
    assert (await sget(client, intruder, "allOrders", BTC)).json() == []
    assert await snapshot(db) == before
    status = await db.fetchval("SELECT status::text FROM trade.spot_order WHERE id = $1", mine["orderId"])
    assert status == "new"


async def test_order_rate_limit_per_user(db_dsn):
    import httpx
    from asgi_lifespan import LifespanManager

    from mycrypto.apps import create_app
    from mycrypto.db.database import Database
    from tests.conftest import make_settings

    settings = make_settings(db_dsn, binance_orders_per_10s=2)
    app = create_app(settings, access_log=False)
    database = Database(settings.database_url, min_size=1, max_size=2)
    await database.connect()
    try:
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
                u = await key_user(c, database, settings, {"USDT": "10000"})
                for n in (1, 2):
                    r = await spost(c, u, "order", ORDER)
                    assert r.status_code == 200 and r.headers["x-mbx-order-count-10s"] == str(n), r.text
                before = await snapshot(database)
                r = await spost(c, u, "order", ORDER)
                assert "2 orders per 10 SECOND" in binance_error(r, -1015, 429)["msg"]
                assert int(r.headers["retry-after"]) >= 1
                assert await snapshot(database) == before
    finally:
        await database.close()


async def test_out_of_range_ids_and_times_are_refused_not_server_errors(client, db, settings):
    """Ids and cursors are 64-bit, times end at year 9999: a larger value is a -1130, never a 500."""
    owner = await key_user(client, db, settings, {"USDT": "10000"})
    await spost(client, owner, "order", {**ORDER, "newClientOrderId": "keep-me"})
    before = await snapshot(db)
    too_big_id, too_late = str(2**63), str(10**15)
    public = [("aggTrades", {**BTC, "fromId": too_big_id}), ("aggTrades", {**BTC, "startTime": too_late}),
              ("historicalTrades", {**BTC, "fromId": too_big_id}), ("klines", {**BTC, "interval": "1m",
                                                                               "endTime": too_late})]
    for path, params in public:
        binance_error(await client.get(f"/api/v3/{path}", params=params), -1130, 400)
    signed_calls = [(sget, "order", {**BTC, "orderId": too_big_id}),
                    (sdelete, "order", {**BTC, "orderId": too_big_id}),
                    (sget, "allOrders", {**BTC, "orderId": too_big_id}),
                    (sget, "allOrders", {**BTC, "startTime": too_late}),
                    (sget, "myTrades", {**BTC, "fromId": too_big_id}),
                    (sget, "myTrades", {**BTC, "orderId": too_big_id})]
    for call, path, params in signed_calls:
        binance_error(await call(client, owner, path, params), -1130, 400)
    # the largest representable values are legal and simply match nothing
    assert (await sget(client, owner, "allOrders", {**BTC, "orderId": str(2**63 - 1)})).json() == []
    assert await snapshot(db) == before
