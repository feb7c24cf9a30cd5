"""Order/trade history with cursors, and public market data (order book, trades, ticker, candles),
checked against the ledger: two users trade and every number agrees."""
from decimal import Decimal as D

from tests.e2e.trading.kit import balances, check_books, fee_balance, make_trader, place_ok


async def test_order_history_filters_and_cursor_pagination(client, db, settings):
    u = await make_trader(db, settings, {"USDT": "100000"})
    ids = []
    for i in range(7):
        o = await place_ok(client, u, side="buy", type="limit", price=str(40000 + i), quantity="0.01",
                           client_order_id=f"h-{i}")
        ids.append(o["order_id"])
    await client.delete(f"/api/v1/trade/orders/{ids[0]}", headers=u.headers)
    seen, cursor = [], None
    for _ in range(5):
        url = "/api/v1/trade/orders?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url, headers=u.headers)).json()
        seen += [o["order_id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    page = (await client.get("/api/v1/trade/orders?status=canceled", headers=u.headers)).json()
    assert [o["order_id"] for o in page["items"]] == [ids[0]] and page["next_cursor"] is None
    page = (await client.get("/api/v1/trade/orders?status=new,canceled&symbol=ETH-USDT", headers=u.headers)).json()
    assert page["items"] == []
    assert (await client.get("/api/v1/trade/orders?cursor=%%%", headers=u.headers)).status_code == 400
    assert (await client.get("/api/v1/trade/orders?status=done", headers=u.headers)).status_code == 400
    assert (await client.get("/api/v1/trade/orders?limit=0", headers=u.headers)).status_code == 400
    opened = (await client.get("/api/v1/trade/orders/open?symbol=BTC-USDT", headers=u.headers)).json()
    assert sorted(o["order_id"] for o in opened) == sorted(ids[1:])
    got = (await client.get("/api/v1/trade/orders/client/h-3", headers=u.headers)).json()
    assert got["order_id"] == ids[3] and got["price"] == "40003"
    other = await make_trader(db, settings)
    assert (await client.get("/api/v1/trade/orders/client/h-3", headers=other.headers)).status_code == 404
    assert (await client.get("/api/v1/trade/orders", headers=other.headers)).json()["items"] == []


async def test_two_users_trade_and_every_number_agrees_with_the_ledger(client, db, settings):
    alice = await make_trader(db, settings, {"BTC": "2"})
    bob = await make_trader(db, settings, {"USDT": "200000"})
    # alice makes a ladder, bob takes in three steps (one partial), then alice takes bob's bid
    await place_ok(client, alice, side="sell", type="limit", price="50000", quantity="0.4")
    await place_ok(client, alice, side="sell", type="limit", price="50010.5", quantity="0.3")
    t1 = await place_ok(client, bob, side="buy", type="limit", price="50010.5", quantity="0.5")
    t2 = await place_ok(client, bob, side="buy", type="market", quantity="0.1")
    bid = await place_ok(client, bob, side="buy", type="limit", price="49990", quantity="0.25")
    t3 = await place_ok(client, alice, side="sell", type="limit", price="49900", quantity="0.25")
    fills = t1["fills"] + t2["fills"] + t3["fills"]
    assert [(f["price"], f["quantity"]) for f in fills] == [
        ("50000", "0.4"), ("50010.5", "0.1"), ("50010.5", "0.1"), ("49990", "0.25")]

    # trades as recorded
    trades = await db.fetch("SELECT * FROM trade.trade ORDER BY id")
    assert [t["id"] for t in trades] == [1, 2, 3, 4]
    quote = [t["quote_quantity"] for t in trades]
    assert quote == [D("20000"), D("5001.05"), D("5001.05"), D("12497.5")]
    assert all(t["quote_quantity"] == t["price"] * t["quantity"] for t in trades)
    # bob was taker in 1-3 (0.1%) and maker in 4 (0.08%); alice the other way round
    assert [t["buyer_fee"].normalize() for t in trades] == [D("20"), D("5.00105"), D("5.00105"), D("9.998")]
    assert [t["seller_fee"].normalize() for t in trades] == [D("16"), D("4.00084"), D("4.00084"), D("12.4975")]

    # balances = funding + trades, per user, and the fee account holds every fee
    bought = sum(t["quantity"] for t in trades)
    bob_paid = sum(t["quote_quantity"] + t["buyer_fee"] for t in trades)
    alice_got = sum(t["quote_quantity"] - t["seller_fee"] for t in trades)
    assert await balances(db, bob.user_id) == {"USDT": ((D("200000") - bob_paid).normalize(), D(0)),
                                               "BTC": (bought.normalize(), D(0))}
    # 0.1 of alice's 50010.5 ask still rests
    assert await balances(db, alice.user_id) == {"BTC": ((D(2) - bought - D("0.1")).normalize(), D("0.1")),
                                                 "USDT": (alice_got.normalize(), D(0))}
    assert await fee_balance(db, "USDT") == sum(t["buyer_fee"] + t["seller_fee"] for t in trades).normalize()

    # wallet history: each trade is one posting whose legs are exactly these movements
    legs = await db.fetch(
        "SELECT p.ref_id, a.user_id, a.kind::text AS kind, l.asset, l.bucket::text AS bucket, l.amount "
        "FROM wallet.posting p JOIN wallet.posting_leg l ON l.posting_id = p.id JOIN wallet.account a ON a.id = l.account_id "
        "WHERE p.kind = 'trade' ORDER BY p.id, l.id")
    t = trades[0]
    first = [(r["user_id"], r["kind"], r["asset"], r["bucket"], r["amount"].normalize()) for r in legs if r["ref_id"] == "1:1"]
    assert first == [(bob.user_id, "user", "USDT", "locked", D("-20020")),
                     (bob.user_id, "user", "BTC", "available", D("0.4")),
                     (alice.user_id, "user", "BTC", "locked", D("-0.4")),
                     (alice.user_id, "user", "USDT", "available", D("19984")),
                     (None, "fees", "USDT", "available", D("36"))]
    assert t["posting_id"] is not None

    # the orders' own totals agree with their trades
    o1 = (await client.get(f"/api/v1/trade/orders/{t1['order_id']}", headers=bob.headers)).json()
    assert o1["executed_quantity"] == "0.5" and D(o1["cumulative_quote"]) == quote[0] + quote[1]
    assert D(o1["fee_total"]) == trades[0]["buyer_fee"] + trades[1]["buyer_fee"]
    o_bid = (await client.get(f"/api/v1/trade/orders/{bid['order_id']}", headers=bob.headers)).json()
    assert o_bid["status"] == "filled" and o_bid["fills"][0]["is_maker"] is True

    # my trades, both sides, with a cursor
    mine = (await client.get("/api/v1/trade/my-trades?limit=3", headers=bob.headers)).json()
    assert [x["trade_id"] for x in mine["items"]] == [4, 3, 2] and mine["next_cursor"]
    rest = (await client.get(f"/api/v1/trade/my-trades?limit=3&cursor={mine['next_cursor']}", headers=bob.headers)).json()
    assert [x["trade_id"] for x in rest["items"]] == [1] and rest["next_cursor"] is None
    assert mine["items"][0]["side"] == "buy" and mine["items"][0]["is_maker"] is True
    assert mine["items"][0]["commission"] == "9.998" and mine["items"][0]["commission_asset"] == "USDT"
    a_trades = (await client.get("/api/v1/trade/my-trades?symbol=BTC-USDT", headers=alice.headers)).json()["items"]
    assert [x["side"] for x in a_trades] == ["sell"] * 4
    assert sum(D(x["commission"]) for x in a_trades) == sum(t["seller_fee"] for t in trades)

    # public trades, ticker and candles agree with the trades
    pub = (await client.get("/api/v1/trade/trades/BTC-USDT?limit=10")).json()
    assert [p["id"] for p in pub] == [4, 3, 2, 1] and pub[0]["is_buyer_maker"] is True
    ticker = (await client.get("/api/v1/trade/ticker/BTC-USDT")).json()
    assert ticker["open"] == "50000" and ticker["last"] == "49990" and ticker["high"] == "50010.5"
    assert ticker["low"] == "49990" and D(ticker["volume"]) == bought and D(ticker["quote_volume"]) == sum(quote)
    assert ticker["trade_count"] == 4 and ticker["first_trade_id"] == 1 and ticker["last_trade_id"] == 4
    assert ticker["best_bid"] is None and ticker["best_ask"] == "50010.5" and ticker["best_ask_qty"] == "0.1"
    for interval in ("1m", "5m", "15m", "1h", "4h", "1d"):
        rows = await db.fetch("SELECT * FROM trade.candle WHERE interval = $1", interval)
        assert sum(r["trade_count"] for r in rows) == 4, interval
        assert sum(r["volume"] for r in rows) == bought and sum(r["quote_volume"] for r in rows) == sum(quote)
    day = (await client.get("/api/v1/trade/candles/BTC-USDT?interval=1d")).json()
    assert len(day) == 1 and day[0]["open"] == "50000" and day[0]["close"] == "49990"
    assert day[0]["high"] == "50010.5" and day[0]["low"] == "49990" and D(day[0]["volume"]) == bought
    await check_books(db)


async def test_order_book_levels_depth_and_update_ids(client, db, settings):
    u = await make_trader(db, settings, {"USDT": "100000", "BTC": "2"})
    v = await make_trader(db, settings, {"USDT": "100000"})
    first = (await client.get("/api/v1/orderbook/BTC-USDT")).json()
    await place_ok(client, u, side="buy", type="limit", price="40000", quantity="0.1")
    await place_ok(client, v, side="buy", type="limit", price="40000", quantity="0.2")
    await place_ok(client, u, side="buy", type="limit", price="39000", quantity="0.1")
    for p in ("41000", "42000", "43000"):
        await place_ok(client, u, side="sell", type="limit", price=p, quantity="0.5")
    ob = (await client.get("/api/v1/orderbook/BTC-USDT")).json()
    assert ob["bids"] == [["40000", "0.3"], ["39000", "0.1"]]
    assert ob["asks"] == [["41000", "0.5"], ["42000", "0.5"], ["43000", "0.5"]]
    assert ob["symbol"] == "BTC-USDT" and ob["update_id"] > first["update_id"]
    ob2 = (await client.get("/api/v1/orderbook/BTC-USDT?depth=2")).json()
    assert ob2["asks"] == ob["asks"][:2] and ob2["update_id"] == ob["update_id"]
    for bad in ("0", "5001", "x"):
        r = await client.get(f"/api/v1/orderbook/BTC-USDT?depth={bad}")
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_depth"
    r = await client.get("/api/v1/orderbook/NOPE-USDT")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_market"
    t = (await client.get("/api/v1/trade/ticker/BTC-USDT")).json()
    assert t["best_bid"] == "40000" and t["best_bid_qty"] == "0.3" and t["best_ask"] == "41000"
    assert t["trade_count"] == 0 and t["last"] is None


async def test_markets_time_tickers_and_candle_intervals(client, db, settings):
    markets = (await client.get("/api/v1/trade/markets")).json()
    btc = next(m for m in markets if m["symbol"] == "BTC-USDT")
    assert btc["tick_size"] == "0.01" and btc["lot_size"] == "0.00001" and btc["min_notional"] == "5"
    assert btc["taker_fee"] == "0.001" and btc["maker_fee"] == "0.0008" and btc["default_stp"] == "expire_maker"
    assert (await client.get("/api/v1/trade/markets/ETH-BTC")).json()["tick_size"] == "0.00001"
    assert (await client.get("/api/v1/trade/markets/NOPE")).status_code == 404
    assert isinstance((await client.get("/api/v1/trade/time")).json()["server_time"], int)
    all_t = (await client.get("/api/v1/trade/ticker")).json()
    assert [t["symbol"] for t in all_t] == ["BTC-USDT", "ETH-USDT", "ETH-BTC"]
    s = await make_trader(db, settings, {"ETH": "5"})
    b = await make_trader(db, settings, {"USDT": "100000"})
    await place_ok(client, s, symbol="ETH-USDT", side="sell", type="limit", price="2000", quantity="1")
    await place_ok(client, s, symbol="ETH-USDT", side="sell", type="limit", price="2100", quantity="1")
    await place_ok(client, b, symbol="ETH-USDT", side="buy", type="market", quantity="2")
    for interval in ("1m", "3m", "2h", "1d", "1w"):
        rows = (await client.get(f"/api/v1/trade/candles/ETH-USDT?interval={interval}")).json()
        assert len(rows) == 1 and rows[0]["open"] == "2000" and rows[0]["close"] == "2100", interval
        assert rows[0]["volume"] == "2" and rows[0]["trade_count"] == 2
    for bad in ("7x", "0m", "", "1M"):
        r = await client.get(f"/api/v1/trade/candles/ETH-USDT?interval={bad}")
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_interval", bad
    ticker = (await client.get("/api/v1/trade/ticker/ETH-USDT")).json()
    assert ticker["volume"] == "2" and ticker["quote_volume"] == "4100" and ticker["weighted_avg_price"] == "2050"
    assert ticker["change"] == "100" and ticker["change_percent"] == "5"
