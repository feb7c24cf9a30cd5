"""Conditional orders through the real ccxt client against a running MyCrypto (uvicorn): a stop-limit
placed with `create_order(..., {'stopPrice': ...})` (and as STOP_LOSS_LIMIT / TAKE_PROFIT_LIMIT) waits
untriggered with its funds held, triggers when another user's trade crosses its stop and fills; an OCO
through /api/v3/orderList/oco (ccxt's implicit `privatePostOrderListOco`) cancels one leg when the other
fills; the books verify afterwards."""
from __future__ import annotations

import ccxt
import pytest

from tests.e2e.compat.kit import ccxt_config, ledger
from tests.e2e.compat.test_ccxt import SYM, dd, users
from tests.e2e.trading.kit import check_books

D = __import__("decimal").Decimal


async def test_a_stop_limit_placed_through_ccxt_triggers_on_a_crossing_trade_and_fills(live_server, db, settings):
    stopper, maker, taker = await users(live_server.url, db, settings, {"BTC": "1"},
                                        {"BTC": "5", "USDT": "500000"}, {"BTC": "5", "USDT": "500000"})
    s, m, t = (ccxt.binance(ccxt_config(live_server.url, u)) for u in (stopper, maker, taker))
    for ex in (s, m, t):
        ex.load_markets()
    assert {"STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"} <= set(s.markets[SYM]["info"]["orderTypes"])
    m.create_order(SYM, "limit", "sell", 0.01, 50000)
    t.create_order(SYM, "limit", "buy", 0.01, 50000)              # last price 50000

    stop = s.create_order(SYM, "limit", "sell", 0.5, 48900, {"stopPrice": 49000})
    assert stop["info"]["type"] == "STOP_LOSS_LIMIT"
    got = s.fetch_order(stop["id"], SYM)
    assert (got["status"], dd(got["triggerPrice"]), got["info"]["isWorking"], got["info"]["type"]) == (
        "open", D("49000"), False, "STOP_LOSS_LIMIT")
    assert (await ledger(db, stopper.user_id))["BTC"] == (D("0.5"), D("0.5"))    # held from placement
    assert [o["id"] for o in s.fetch_open_orders(SYM)] == [stop["id"]]
    assert s.fetch_order_book(SYM)["asks"] == []                                  # not on the book
    # a take-profit on the other side, cancelled through ccxt: its hold goes back
    tp = s.create_order(SYM, "TAKE_PROFIT_LIMIT", "sell", 0.2, 60000, {"stopPrice": 60000})
    assert s.cancel_order(tp["id"], SYM)["status"] == "canceled"
    assert (await ledger(db, stopper.user_id))["BTC"] == (D("0.5"), D("0.5"))

    # a bid at 48950 waits; another pair trades at 49000: the stop becomes a limit sell and fills on the bid
    m.create_order(SYM, "limit", "buy", 1, 48950)
    m.create_order(SYM, "limit", "sell", 0.01, 49000)
    t.create_order(SYM, "limit", "buy", 0.01, 49000)
    got = s.fetch_order(stop["id"], SYM)
    assert (got["status"], got["filled"], got["info"]["isWorking"]) == ("closed", 0.5, True)
    fills = s.fetch_my_trades(SYM)
    assert [(f["order"], f["price"], f["amount"], f["side"]) for f in fills] == [(stop["id"], 48950, 0.5, "sell")]
    btc = (await ledger(db, stopper.user_id))["BTC"]
    assert btc == (D("0.5"), D("0"))
    await check_books(db)


async def test_stop_market_refusals_map_to_binance_errors(live_server, db, settings):
    stopper, maker, taker = await users(live_server.url, db, settings, {"BTC": "1"},
                                        {"BTC": "5", "USDT": "500000"}, {"BTC": "5", "USDT": "500000"})
    s, m, t = (ccxt.binance(ccxt_config(live_server.url, u)) for u in (stopper, maker, taker))
    for ex in (s, m, t):
        ex.load_markets()
    m.create_order(SYM, "limit", "sell", 0.01, 50000)
    t.create_order(SYM, "limit", "buy", 0.01, 50000)
    with pytest.raises(ccxt.InvalidOrder) as e:    # -2010: a sell stop above the last price triggers at once
        s.create_order(SYM, "STOP_LOSS_LIMIT", "sell", 0.1, 50500, {"stopPrice": 50500})
    assert "trigger immediately" in str(e.value)
    with pytest.raises(ccxt.InsufficientFunds):
        s.create_order(SYM, "STOP_LOSS_LIMIT", "sell", 2, 48000, {"stopPrice": 48000})
    # a stop-market (STOP_LOSS) sell triggers and sells at market
    stop = s.create_order(SYM, "STOP_LOSS", "sell", 0.1, None, {"stopPrice": 49000})
    assert stop["info"]["type"] == "STOP_LOSS"
    m.create_order(SYM, "limit", "buy", 1, 48000)
    m.create_order(SYM, "limit", "sell", 0.01, 49000)
    t.create_order(SYM, "limit", "buy", 0.01, 49000)
    got = s.fetch_order(stop["id"], SYM)
    assert (got["status"], got["filled"], got["average"]) == ("closed", 0.1, 48000)
    await check_books(db)


async def test_an_oco_through_order_list_cancels_the_stop_when_the_limit_maker_fills(live_server, db, settings):
    stopper, maker, taker = await users(live_server.url, db, settings, {"BTC": "2"},
                                        {"BTC": "5", "USDT": "500000"}, {"BTC": "5", "USDT": "500000"})
    s, m, t = (ccxt.binance(ccxt_config(live_server.url, u)) for u in (stopper, maker, taker))
    for ex in (s, m, t):
        ex.load_markets()
    m.create_order(SYM, "limit", "sell", 0.01, 50000)
    t.create_order(SYM, "limit", "buy", 0.01, 50000)
    listed = s.privatePostOrderListOco({
        "symbol": "BTCUSDT", "side": "SELL", "quantity": "1", "aboveType": "LIMIT_MAKER", "abovePrice": "52000",
        "belowType": "STOP_LOSS_LIMIT", "belowStopPrice": "48000", "belowPrice": "47900",
        "belowTimeInForce": "GTC"})
    assert listed["contingencyType"] == "OCO" and len(listed["orders"]) == 2
    reports = {r["type"]: r for r in listed["orderReports"]}
    assert set(reports) == {"LIMIT_MAKER", "STOP_LOSS_LIMIT"}
    assert reports["STOP_LOSS_LIMIT"]["stopPrice"] == "48000.00000000"
    assert {r["orderListId"] for r in listed["orderReports"]} == {listed["orderListId"]}
    assert (await ledger(db, stopper.user_id))["BTC"] == (D("0"), D("2"))
    t.create_order(SYM, "limit", "buy", 0.4, 52000)                 # partly fills the limit maker leg
    stop = s.fetch_order(reports["STOP_LOSS_LIMIT"]["orderId"], SYM)
    assert stop["status"] == "canceled"
    assert (await ledger(db, stopper.user_id))["BTC"] == (D("1"), D("0.6"))
    # a second list: queried and cancelled as a list (GET / DELETE /api/v3/orderList)
    second = s.privatePostOrderListOco({
        "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.5", "aboveType": "LIMIT_MAKER", "abovePrice": "55000",
        "belowType": "STOP_LOSS", "belowStopPrice": "45000"})
    list_id = second["orderListId"]
    status = s.privateGetOrderList({"orderListId": list_id})
    assert (status["listOrderStatus"], len(status["orders"])) == ("EXECUTING", 2)
    assert (await ledger(db, stopper.user_id))["BTC"] == (D("0"), D("1.6"))
    gone = s.privateDeleteOrderList({"symbol": "BTCUSDT", "orderListId": list_id})
    assert gone["listOrderStatus"] == "ALL_DONE"
    assert {r["status"] for r in gone["orderReports"]} == {"CANCELED"}
    assert (await ledger(db, stopper.user_id))["BTC"] == (D("1"), D("0.6"))
    with pytest.raises(ccxt.OrderNotFound):
        s.privateDeleteOrderList({"symbol": "BTCUSDT", "orderListId": list_id})
    with pytest.raises(ccxt.OrderNotFound):
        s.privateGetOrderList({"orderListId": 999999})
    with pytest.raises(ccxt.BadRequest):   # MyCrypto's OCO takes a LIMIT_MAKER and a stop-loss leg
        s.privatePostOrderListOco({"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.1",
                                   "aboveType": "TAKE_PROFIT", "aboveStopPrice": "53000",
                                   "belowType": "STOP_LOSS", "belowStopPrice": "47000"})
    await check_books(db)
