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

    # order history: every order of each user, and its executed totals add up to the trades
    for user, side_fee in ((bob, "buyer_fee"), (alice, "seller_fee")):
        hist = (await client.get("/api/v1/trade/orders?symbol=BTC-USDT", headers=user.headers)).json()
        assert hist["next_cursor"] is None and len(hist["items"]) == 3
        assert sum(D(o["executed_quantity"]) for o in hist["items"]) == bought
        assert sum(D(o["cumulative_quote"]) for o in hist["items"]) == sum(quote)
        assert sum(D(o["fee_total"]) for o in hist["items"]) == sum(t[side_fee] for t in trades)
    filled = (await client.get("/api/v1/trade/orders?status=filled", headers=bob.headers)).json()["items"]
    assert sorted(o["order_id"] for o in filled) == sorted([t1["order_id"], t2["order_id"], bid["order_id"]])

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
    older = (await client.get("/api/v1/trade/trades/BTC-USDT?from_id=2&limit=2")).json()   # ascending from an id
    assert [(p["id"], p["price"], p["quantity"]) for p in older] == [(2, "50010.5", "0.1"), (3, "50010.5", "0.1")]
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


async def test_history_and_my_trades_time_filters(client, db, settings):
    """start_time is inclusive, end_time exclusive (epoch ms of created_at / the trade's time)."""
    import asyncio

    s = await make_trader(db, settings, {"BTC": "1"})
    b = await make_trader(db, settings, {"USDT": "100000"})
    orders = []
    for i in range(5):
        await asyncio.sleep(0.005)   # distinct milliseconds
        orders.append(await place_ok(client, s, side="sell", type="limit", price=str(50000 + i), quantity="0.01"))
    times = [o["created_at"] for o in orders]
    assert times == sorted(set(times))
    ids = [o["order_id"] for o in orders]

    async def history(query):
        page = (await client.get(f"/api/v1/trade/orders?{query}", headers=s.headers)).json()
        return [o["order_id"] for o in page["items"]]

    assert await history(f"start_time={times[1]}&end_time={times[3]}") == [ids[2], ids[1]]
    assert await history(f"start_time={times[3]}") == [ids[4], ids[3]]
    assert await history(f"end_time={times[1]}") == [ids[0]]
    assert await history(f"end_time={times[0]}") == []
    r = await client.get("/api/v1/trade/orders?start_time=soon", headers=s.headers)
    assert r.status_code == 422 and "error" in r.json()

    trades = []
    for _ in range(3):
        await asyncio.sleep(0.005)
        o = await place_ok(client, b, side="buy", type="market", quantity="0.01")
        trades.append((o["fills"][0]["trade_id"], o["fills"][0]["time"]))
    assert [t for t, _ in trades] == [1, 2, 3] and [ms for _, ms in trades] == sorted({ms for _, ms in trades})

    async def mine(trader, query):
        page = (await client.get(f"/api/v1/trade/my-trades?{query}", headers=trader.headers)).json()
        return [t["trade_id"] for t in page["items"]]

    first, second, third = (ms for _, ms in trades)
    assert await mine(b, f"start_time={second}") == [3, 2]
    assert await mine(b, f"start_time={first}&end_time={third}") == [2, 1]
    assert await mine(s, f"end_time={second}") == [1]
    assert await mine(s, f"start_time={third + 1}") == []
    await check_books(db)


async def test_order_book_ticker_and_trades_are_served_from_memory(app, client, db, settings, monkeypatch):
    """On the owning replica the public reads never query the database per request; a replica that
    owns nothing answers from a TTL cache (one query per market and view per TTL)."""
    import asyncio

    import httpx
    from asgi_lifespan import LifespanManager

    from mycrypto.apps import create_app
    from mycrypto.marketdata import repository as mdrepo

    s = await make_trader(db, settings, {"BTC": "1"})
    b = await make_trader(db, settings, {"USDT": "100000"})
    await place_ok(client, s, side="sell", type="limit", price="50000", quantity="0.2")
    await place_ok(client, s, side="sell", type="limit", price="50100", quantity="0.3")
    await place_ok(client, b, side="buy", type="limit", price="49000", quantity="0.1")
    await place_ok(client, b, side="buy", type="market", quantity="0.1")

    calls: list[str] = []
    for name in ("depth_from_orders", "recent_trade_tuples", "minute_rows_24h"):
        real = getattr(mdrepo, name)

        def counted(*args, _name=name, _real=real, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(mdrepo, name, counted)

    for _ in range(10):
        ob = (await client.get("/api/v1/orderbook/BTC-USDT?depth=5")).json()
        assert ob["bids"] == [["49000", "0.1"]] and ob["asks"] == [["50000", "0.1"], ["50100", "0.3"]]
        ob = (await client.get("/api/v1/orderbook/BTC-USDT?limit=5&depth=5")).json()   # the general handler
        assert ob["asks"][0] == ["50000", "0.1"]
        t = (await client.get("/api/v1/trade/ticker/BTC-USDT")).json()
        assert t["last"] == "50000" and t["volume"] == "0.1" and t["best_bid"] == "49000"
        assert [x["symbol"] for x in (await client.get("/api/v1/trade/ticker")).json()] == [
            "BTC-USDT", "ETH-USDT", "ETH-BTC"]
        pub = (await client.get("/api/v1/trade/trades/BTC-USDT?limit=5")).json()
        assert [(p["id"], p["price"], p["quantity"]) for p in pub] == [(1, "50000", "0.1")]
    assert calls == [], f"market data read from the database per request: {calls}"

    # a replica that owns no market: the first read of each view queries, the rest hit the cache
    replica = create_app(settings.model_copy(update={"trade_engines": False, "trade_read_cache_ms": 60000}),
                         access_log=False)
    async with LifespanManager(replica, startup_timeout=60, shutdown_timeout=60):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=replica), base_url="http://r") as c:
            await asyncio.sleep(0)
            for _ in range(10):
                ob = (await c.get("/api/v1/orderbook/BTC-USDT?depth=5")).json()
                assert ob["bids"] == [["49000", "0.1"]] and ob["asks"] == [["50000", "0.1"], ["50100", "0.3"]]
                t = (await c.get("/api/v1/trade/ticker/BTC-USDT")).json()
                assert t["last"] == "50000" and t["best_ask"] == "50000"
                pub = (await c.get("/api/v1/trade/trades/BTC-USDT?limit=5")).json()
                assert [p["id"] for p in pub] == [1]
    assert sorted(set(calls)) == ["depth_from_orders", "minute_rows_24h", "recent_trade_tuples"]
    assert len(calls) == 3, calls
