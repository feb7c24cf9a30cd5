"""Signed /api/v3 endpoints through HTTP against real PostgreSQL: account, every order type and response
type, idempotent client order ids, queries, cancels, order and trade lists, all checked against the
ledger."""
from __future__ import annotations

from decimal import Decimal as D

from tests.e2e.compat.kit import binance_error, key_user, ledger, sdelete, sget, spost, snapshot
from tests.e2e.trading.kit import check_books

BTC = {"symbol": "BTCUSDT"}


def limit(side: str, price: str, qty: str, tif: str = "GTC", **extra) -> dict:
    return {**BTC, "side": side, "type": "LIMIT", "timeInForce": tif, "price": price, "quantity": qty, **extra}


async def ok(r) -> dict | list:
    assert r.status_code == 200, r.text
    body = r.json()
    assert not (isinstance(body, dict) and "code" in body), body
    return body


async def test_account_balances_come_from_the_ledger(client, db, settings):
    u = await key_user(client, db, settings, {"BTC": "1.5", "USDT": "1000"})
    acct = await ok(await sget(client, u, "account"))
    assert acct["accountType"] == "SPOT" and acct["canTrade"] is True and acct["canWithdraw"] is False
    assert acct["uid"] == u.user_id and acct["permissions"] == ["SPOT"]
    assert acct["commissionRates"] == {"maker": "0.00080000", "taker": "0.00100000", "buyer": "0.00000000",
                                       "seller": "0.00000000"}
    assert {b["asset"]: (b["free"], b["locked"]) for b in acct["balances"]} == {
        "BTC": ("1.50000000", "0.00000000"), "ETH": ("0.00000000", "0.00000000"),
        "USDT": ("1000.00000000", "0.00000000")}
    await ok(await spost(client, u, "order", limit("SELL", "60000", "0.5")))
    acct = await ok(await sget(client, u, "account", {"omitZeroBalances": "true"}))
    assert {b["asset"]: (b["free"], b["locked"]) for b in acct["balances"]} == {
        "BTC": ("1.00000000", "0.50000000"), "USDT": ("1000.00000000", "0.00000000")}
    assert await ledger(db, u.user_id) == {"BTC": (D(1), D("0.5")), "USDT": (D(1000), D(0))}
    com = await ok(await sget(client, u, "account/commission", BTC))
    assert com["symbol"] == "BTCUSDT" and com["standardCommission"]["taker"] == "0.00100000"


async def test_limit_orders_response_types_and_crossing(client, db, settings):
    s = await key_user(client, db, settings, {"BTC": "1"})
    b = await key_user(client, db, settings, {"USDT": "100000"})
    ack = await ok(await spost(client, s, "order", limit("SELL", "50000", "0.3", newOrderRespType="ACK")))
    assert set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    assert ack["symbol"] == "BTCUSDT" and ack["orderListId"] == -1 and len(ack["clientOrderId"]) == 22
    res = await ok(await spost(client, s, "order", limit("SELL", "50100", "0.2", newOrderRespType="RESULT")))
    assert res["status"] == "NEW" and "fills" not in res and res["origQty"] == "0.20000000"
    # the buyer crosses both levels: FULL response with one fill per level, fees in USDT
    full = await ok(await spost(client, b, "order", limit("BUY", "50100", "0.4")))
    assert (full["status"], full["executedQty"], full["cummulativeQuoteQty"], full["type"], full["side"]) == (
        "FILLED", "0.40000000", "20010.00000000", "LIMIT", "BUY")
    assert [(f["price"], f["qty"], f["commission"], f["commissionAsset"]) for f in full["fills"]] == [
        ("50000.00000000", "0.30000000", "15.00000000", "USDT"),
        ("50100.00000000", "0.10000000", "5.01000000", "USDT")]
    trade_ids = [f["tradeId"] for f in full["fills"]]
    rows = await db.fetch("SELECT id, price, quantity, buyer_fee, seller_fee FROM trade.trade ORDER BY id")
    assert [r["id"] for r in rows] == trade_ids
    assert [r["buyer_fee"].normalize() for r in rows] == [D(15), D("5.01")]
    assert [r["seller_fee"].normalize() for r in rows] == [D(12), D("4.008")]
    assert await ledger(db, b.user_id) == {"USDT": (D(100000) - D("20010") - D("20.01"), D(0)), "BTC": (D("0.4"), D(0))}
    # seller's first order filled, second partially: GET order by id and by client id
    q = await ok(await sget(client, s, "order", {**BTC, "orderId": ack["orderId"]}))
    assert (q["status"], q["executedQty"], q["cummulativeQuoteQty"], q["isWorking"]) == (
        "FILLED", "0.30000000", "15000.00000000", True)
    q2 = await ok(await sget(client, s, "order", {**BTC, "origClientOrderId": res["clientOrderId"]}))
    assert (q2["orderId"], q2["status"], q2["executedQty"]) == (res["orderId"], "PARTIALLY_FILLED", "0.10000000")
    await check_books(db)


async def test_tif_limit_maker_and_market_orders(client, db, settings):
    s = await key_user(client, db, settings, {"BTC": "2"})
    b = await key_user(client, db, settings, {"USDT": "200000"})
    await ok(await spost(client, s, "order", limit("SELL", "50000", "0.5")))
    # LIMIT_MAKER that would take -> Binance's -2010 text; nothing placed
    before = await snapshot(db)
    r = await spost(client, b, "order", {**BTC, "side": "BUY", "type": "LIMIT_MAKER", "price": "50000",
                                         "quantity": "0.1"})
    body = binance_error(r, -2010, 400)
    assert body["msg"] == "Order would immediately match and take."
    assert await snapshot(db) == before
    mk = await ok(await spost(client, b, "order", {**BTC, "side": "BUY", "type": "LIMIT_MAKER", "price": "49000",
                                                   "quantity": "0.1"}))
    assert set(mk) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}   # ACK by default
    got = await ok(await sget(client, b, "order", {**BTC, "orderId": mk["orderId"]}))
    assert (got["type"], got["timeInForce"], got["status"]) == ("LIMIT_MAKER", "GTC", "NEW")
    # FOK that cannot fill completely expires untouched; IOC fills what it can
    fok = await ok(await spost(client, b, "order", limit("BUY", "50000", "0.6", "FOK")))
    assert (fok["status"], fok["executedQty"], fok["timeInForce"]) == ("EXPIRED", "0.00000000", "FOK")
    ioc = await ok(await spost(client, b, "order", limit("BUY", "50000", "0.6", "IOC")))
    assert (ioc["status"], ioc["executedQty"], ioc["timeInForce"]) == ("EXPIRED", "0.50000000", "IOC")
    # market orders: by quantity (sell into the bid) and by quote amount (buy)
    await ok(await spost(client, s, "order", limit("SELL", "51000", "1")))
    mb = await ok(await spost(client, b, "order", {**BTC, "side": "BUY", "type": "MARKET", "quoteOrderQty": "5100"}))
    assert (mb["status"], mb["executedQty"], mb["cummulativeQuoteQty"], mb["origQuoteOrderQty"], mb["price"]) == (
        "FILLED", "0.10000000", "5100.00000000", "5100.00000000", "0.00000000")
    assert mb["origQty"] == mb["executedQty"] and mb["fills"][0]["commission"] == "5.10000000"
    ms = await ok(await spost(client, s, "order", {**BTC, "side": "SELL", "type": "MARKET", "quantity": "0.1"}))
    assert (ms["status"], ms["cummulativeQuoteQty"], ms["fills"][0]["price"]) == (
        "FILLED", "4900.00000000", "49000.00000000")
    assert ms["fills"][0]["commission"] == "4.90000000"
    await check_books(db)


async def test_client_order_ids_are_idempotent_per_user(client, db, settings):
    a = await key_user(client, db, settings, {"USDT": "10000"})
    other = await key_user(client, db, settings, {"USDT": "10000"})
    order = limit("BUY", "40000", "0.01", newClientOrderId="my-bot:order/1")
    first = await ok(await spost(client, a, "order", order))
    again = await ok(await spost(client, a, "order", order))
    assert again["orderId"] == first["orderId"] and again["clientOrderId"] == "my-bot:order/1"
    assert await db.fetchval("SELECT count(*) FROM trade.spot_order WHERE user_id = $1", a.user_id) == 1
    assert await ledger(db, a.user_id) == {"USDT": (D("9599.6"), D("400.4")), "BTC": (D(0), D(0))}
    # the same id for a different order is refused; another user may use the same id
    before = await snapshot(db)
    r = await spost(client, a, "order", limit("BUY", "41000", "0.01", newClientOrderId="my-bot:order/1"))
    assert binance_error(r, -2010, 400)["msg"] == "Duplicate order sent."
    assert await snapshot(db) == before
    theirs = await ok(await spost(client, other, "order", order))
    assert theirs["orderId"] != first["orderId"]
    binance_error(await spost(client, a, "order", limit("BUY", "40000", "0.01", newClientOrderId="x" * 37)), -1100)


async def test_order_test_checks_everything_and_places_nothing(client, db, settings):
    u = await key_user(client, db, settings, {"USDT": "100"})
    before = await snapshot(db)
    assert await ok(await spost(client, u, "order/test", limit("BUY", "50000", "0.01"))) == {}
    rates = await ok(await spost(client, u, "order/test", limit("BUY", "50000", "0.01",
                                                                 computeCommissionRates="true")))
    assert rates["standardCommissionForOrder"] == {"maker": "0.00080000", "taker": "0.00100000"}
    assert binance_error(await spost(client, u, "order/test", limit("BUY", "50000.001", "0.01")), -1013)["msg"] == (
        "Filter failure: PRICE_FILTER")
    assert binance_error(await spost(client, u, "order/test", {**BTC, "side": "BUY", "type": "MARKET",
                                                                "quantity": "0.000000001"}), -1111)
    assert binance_error(await spost(client, u, "order/test", {**BTC, "side": "BUY", "type": "MARKET",
                                                                "quantity": "0.000015"}),
                         -1013)["msg"] == "Filter failure: MARKET_LOT_SIZE"
    assert await snapshot(db) == before


async def test_cancels_open_orders_and_lists(client, db, settings):
    s = await key_user(client, db, settings, {"BTC": "1"})
    b = await key_user(client, db, settings, {"USDT": "100000"})
    o1 = await ok(await spost(client, s, "order", limit("SELL", "50000", "0.2", newClientOrderId="s1")))
    o2 = await ok(await spost(client, s, "order", limit("SELL", "50500", "0.2", newClientOrderId="s2")))
    o3 = await ok(await spost(client, s, "order", limit("SELL", "51000", "0.2", newClientOrderId="s3")))
    eth = await key_user(client, db, settings, {"ETH": "1"})
    await ok(await spost(client, eth, "order", {"symbol": "ETHBTC", "side": "SELL", "type": "LIMIT",
                                                "timeInForce": "GTC", "price": "0.05", "quantity": "0.5"}))
    buy = await ok(await spost(client, b, "order", limit("BUY", "50000", "0.1")))
    open_ = await ok(await sget(client, s, "openOrders", BTC))
    assert [o["orderId"] for o in open_] == [o1["orderId"], o2["orderId"], o3["orderId"]]
    assert open_[0]["status"] == "PARTIALLY_FILLED" and open_[0]["executedQty"] == "0.10000000"
    assert [o["symbol"] for o in await ok(await sget(client, eth, "openOrders"))] == ["ETHBTC"]   # all symbols
    # cancel by client id with a new client id echoed back; the hold comes back
    c = await ok(await sdelete(client, s, "order", {**BTC, "origClientOrderId": "s2", "newClientOrderId": "c2"}))
    assert (c["orderId"], c["status"], c["origClientOrderId"], c["clientOrderId"]) == (o2["orderId"], "CANCELED",
                                                                                        "s2", "c2")
    # cancel by id; the same cancel again is -2011 (not open any more)
    c = await ok(await sdelete(client, s, "order", {**BTC, "orderId": o1["orderId"]}))
    assert (c["status"], c["executedQty"], c["origQty"]) == ("CANCELED", "0.10000000", "0.20000000")
    binance_error(await sdelete(client, s, "order", {**BTC, "orderId": o1["orderId"]}), -2011, 400)
    # cancel all on the symbol; then nothing is left to cancel (-2011, as on Binance)
    rest = await ok(await sdelete(client, s, "openOrders", BTC))
    assert [(x["orderId"], x["status"]) for x in rest] == [(o3["orderId"], "CANCELED")]
    binance_error(await sdelete(client, s, "openOrders", BTC), -2011, 400)
    assert await ok(await sget(client, s, "openOrders", BTC)) == []
    assert await ledger(db, s.user_id) == {"BTC": (D("0.9"), D(0)), "USDT": (D(5000) - D(4), D(0))}

    # allOrders: newest `limit` by default, from an id or a time, always oldest first
    all_ = await ok(await sget(client, s, "allOrders", BTC))
    assert [(o["orderId"], o["status"]) for o in all_] == [
        (o1["orderId"], "CANCELED"), (o2["orderId"], "CANCELED"), (o3["orderId"], "CANCELED")]
    assert [o["orderId"] for o in await ok(await sget(client, s, "allOrders", {**BTC, "limit": 2}))] == [
        o2["orderId"], o3["orderId"]]
    assert [o["orderId"] for o in await ok(await sget(client, s, "allOrders", {**BTC, "orderId": o2["orderId"],
                                                                             "limit": 1}))] == [o2["orderId"]]
    assert [o["orderId"] for o in await ok(await sget(client, s, "allOrders", {**BTC, "startTime": all_[0]["time"]}))
            ] == [o1["orderId"], o2["orderId"], o3["orderId"]]
    # myTrades from both sides of the one trade
    mine = await ok(await sget(client, s, "myTrades", BTC))
    theirs = await ok(await sget(client, b, "myTrades", BTC))
    assert len(mine) == len(theirs) == 1 and mine[0]["id"] == theirs[0]["id"]
    assert (mine[0]["isBuyer"], mine[0]["isMaker"], mine[0]["orderId"], mine[0]["commission"]) == (
        False, True, o1["orderId"], "4.00000000")
    assert (theirs[0]["isBuyer"], theirs[0]["isMaker"], theirs[0]["orderId"], theirs[0]["commission"]) == (
        True, False, buy["orderId"], "5.00000000")
    assert (mine[0]["price"], mine[0]["qty"], mine[0]["quoteQty"], mine[0]["commissionAsset"]) == (
        "50000.00000000", "0.10000000", "5000.00000000", "USDT")
    assert await ok(await sget(client, s, "myTrades", {**BTC, "orderId": o2["orderId"]})) == []
    assert len(await ok(await sget(client, s, "myTrades", {**BTC, "orderId": o1["orderId"]}))) == 1
    assert len(await ok(await sget(client, s, "myTrades", {**BTC, "fromId": mine[0]["id"]}))) == 1
    assert await ok(await sget(client, s, "myTrades", {**BTC, "fromId": mine[0]["id"] + 1})) == []
    binance_error(await sget(client, s, "myTrades", {**BTC, "orderId": o1["orderId"], "fromId": 1}), -1128)
    await check_books(db)
