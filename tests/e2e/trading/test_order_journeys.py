"""Phase 3 journeys through HTTP against real PostgreSQL: order types, fills, fees, holds, STP, cancels."""
from decimal import Decimal as D

from tests.e2e.trading.kit import balances, check_books, fee_balance, make_trader, place, place_ok


async def book(client, symbol="BTC-USDT", depth=20):
    r = await client.get(f"/api/v1/orderbook/{symbol}?depth={depth}")
    assert r.status_code == 200, r.text
    return r.json()


async def test_limit_order_rests_and_locks_its_hold(client, db, settings):
    b = await make_trader(db, settings, {"USDT": "10000"})
    o = await place_ok(client, b, side="buy", type="limit", price="50000", quantity="0.1")
    assert o["status"] == "new" and o["executed_quantity"] == "0" and o["fills"] == []
    # hold = price*qty + worst-case taker fee 0.1%
    assert o["hold_asset"] == "USDT" and o["hold_amount"] == "5005" and o["hold_remaining"] == "5005"
    assert await balances(db, b.user_id) == {"USDT": (D("4995"), D("5005")), "BTC": (D(0), D(0))}
    ob = await book(client)
    assert ob["bids"] == [["50000", "0.1"]] and ob["asks"] == []
    await check_books(db)


async def test_crossing_limit_fills_at_maker_price_and_refunds_price_improvement(client, db, settings):
    s = await make_trader(db, settings, {"BTC": "1"})
    b = await make_trader(db, settings, {"USDT": "100000"})
    await place_ok(client, s, side="sell", type="limit", price="50000", quantity="0.5")
    o = await place_ok(client, b, side="buy", type="limit", price="52000", quantity="0.5")
    assert o["status"] == "filled" and o["executed_quantity"] == "0.5" and o["cumulative_quote"] == "25000"
    assert o["fee_total"] == "25" and o["hold_remaining"] == "0"
    assert [f["price"] for f in o["fills"]] == ["50000"] and o["fills"][0]["commission"] == "25"
    # buyer: paid 25000 + 25 taker fee; the rest of the 52000-based hold came back
    assert await balances(db, b.user_id) == {"USDT": (D("74975"), D(0)), "BTC": (D("0.5"), D(0))}
    # seller (maker 0.08%): 25000 - 20
    assert await balances(db, s.user_id) == {"BTC": (D("0.5"), D(0)), "USDT": (D("24980"), D(0))}
    assert await fee_balance(db, "USDT") == D("45")
    await check_books(db)


async def test_partial_fill_rests_remainder_with_exact_hold(client, db, settings):
    s = await make_trader(db, settings, {"BTC": "1"})
    b = await make_trader(db, settings, {"USDT": "100000"})
    await place_ok(client, s, side="sell", type="limit", price="50000", quantity="0.3")
    o = await place_ok(client, b, side="buy", type="limit", price="50000", quantity="1")
    assert o["status"] == "partially_filled" and o["executed_quantity"] == "0.3"
    # remaining 0.7 @ 50000 needs 35000 + fee; exact fee accounting: ceil(15 + 35) - 15 = 35
    assert o["hold_remaining"] == "35035"
    assert await balances(db, b.user_id) == {"USDT": (D("100000") - D("15015") - D("35035"), D("35035")),
                                             "BTC": (D("0.3"), D(0))}
    ob = await book(client)
    assert ob["bids"] == [["50000", "0.7"]] and ob["asks"] == []
    # the remainder later fills as maker: maker fee 0.08% on 35000 = 28, the unused 7 is released
    s2 = await make_trader(db, settings, {"BTC": "1"})
    t = await place_ok(client, s2, side="sell", type="market", quantity="0.7")
    assert t["status"] == "filled" and t["cumulative_quote"] == "35000" and t["fee_total"] == "35"
    got = await client.get(f"/api/v1/trade/orders/{o['order_id']}", headers=b.headers)
    full = got.json()
    assert full["status"] == "filled" and full["fee_total"] == "43" and full["hold_remaining"] == "0"
    assert [f["is_maker"] for f in full["fills"]] == [False, True]
    assert await balances(db, b.user_id) == {"USDT": (D("100000") - D("50000") - D("43"), D(0)), "BTC": (D("1"), D(0))}
    await check_books(db)


async def test_multi_level_sweep_reports_each_fill(client, db, settings):
    s = await make_trader(db, settings, {"BTC": "3"})
    b = await make_trader(db, settings, {"USDT": "200000"})
    for price in ("50000", "50100", "50200"):
        await place_ok(client, s, side="sell", type="limit", price=price, quantity="1")
    o = await place_ok(client, b, side="buy", type="limit", price="50200", quantity="2.5")
    assert o["status"] == "filled"
    assert [(f["price"], f["quantity"]) for f in o["fills"]] == [("50000", "1"), ("50100", "1"), ("50200", "0.5")]
    assert o["cumulative_quote"] == "125200"
    # cumulative fee rounding: ceil(0.1% of 125200) = 125.2 (per-fill amounts add up to it exactly)
    assert o["fee_total"] == "125.2" and sum(D(f["commission"]) for f in o["fills"]) == D("125.2")
    assert await balances(db, b.user_id) == {"USDT": (D("200000") - D("125325.2"), D(0)), "BTC": (D("2.5"), D(0))}
    ob = await book(client)
    assert ob["asks"] == [["50200", "0.5"]]
    await check_books(db)


async def test_market_buy_by_quantity_and_by_quote_amount(client, db, settings):
    s = await make_trader(db, settings, {"BTC": "3"})
    b = await make_trader(db, settings, {"USDT": "200000"})
    await place_ok(client, s, side="sell", type="limit", price="50000", quantity="1")
    await place_ok(client, s, side="sell", type="limit", price="51000", quantity="1")
    o = await place_ok(client, b, side="buy", type="market", quantity="1.5")
    assert o["status"] == "filled" and o["price"] is None and o["cumulative_quote"] == "75500"
    assert o["fee_total"] == "75.5" and o["hold_remaining"] == "0"
    # quote amount: spend at most 10200 (fees on top) at 51000 -> 0.2 BTC
    q = await place_ok(client, b, side="buy", type="market", quote_quantity="10200")
    assert q["status"] == "filled" and q["executed_quantity"] == "0.2" and q["cumulative_quote"] == "10200"
    assert q["quote_quantity"] == "10200" and q["fee_total"] == "10.2"
    assert await balances(db, b.user_id) == {"USDT": (D("200000") - D("75575.5") - D("10210.2"), D(0)),
                                             "BTC": (D("1.7"), D(0))}
    await check_books(db)


async def test_market_sell_and_market_remainder_expires(client, db, settings):
    s = await make_trader(db, settings, {"BTC": "2"})
    b = await make_trader(db, settings, {"USDT": "100000"})
    await place_ok(client, b, side="buy", type="limit", price="49000", quantity="0.5")
    o = await place_ok(client, s, side="sell", type="market", quantity="1")
    assert o["status"] == "expired" and o["reason"] == "market_remainder"
    assert o["executed_quantity"] == "0.5" and o["cumulative_quote"] == "24500" and o["fee_total"] == "24.5"
    assert await balances(db, s.user_id) == {"BTC": (D("1.5"), D(0)), "USDT": (D("24475.5"), D(0))}
    await check_books(db)


async def test_market_order_on_empty_book_expires_without_moving_money(client, db, settings):
    b = await make_trader(db, settings, {"USDT": "1000"})
    o = await place_ok(client, b, side="buy", type="market", quantity="0.01")
    assert o["status"] == "expired" and o["reason"] == "no_liquidity" and o["executed_quantity"] == "0"
    o = await place_ok(client, b, side="buy", type="market", quote_quantity="100")
    assert o["status"] == "expired" and o["reason"] == "no_liquidity"
    assert await balances(db, b.user_id) == {"USDT": (D("1000"), D(0)), "BTC": (D(0), D(0))}
    await check_books(db)


async def test_ioc_fills_what_it_can_and_expires_the_rest(client, db, settings):
    s = await make_trader(db, settings, {"BTC": "1"})
    b = await make_trader(db, settings, {"USDT": "100000"})
    await place_ok(client, s, side="sell", type="limit", price="50000", quantity="0.2")
    await place_ok(client, s, side="sell", type="limit", price="50500", quantity="0.2")
    o = await place_ok(client, b, side="buy", type="limit", time_in_force="IOC", price="50000", quantity="0.5")
    assert o["status"] == "expired" and o["reason"] == "ioc_remainder" and o["executed_quantity"] == "0.2"
    assert o["hold_remaining"] == "0"
    assert (await book(client))["bids"] == []
    assert await balances(db, b.user_id) == {"USDT": (D("100000") - D("10010"), D(0)), "BTC": (D("0.2"), D(0))}
    await check_books(db)


async def test_fok_is_all_or_nothing(client, db, settings):
    s = await make_trader(db, settings, {"BTC": "1"})
    b = await make_trader(db, settings, {"USDT": "100000"})
    await place_ok(client, s, side="sell", type="limit", price="50000", quantity="0.2")
    await place_ok(client, s, side="sell", type="limit", price="50500", quantity="0.2")
    o = await place_ok(client, b, side="buy", type="limit", time_in_force="FOK", price="50500", quantity="0.5")
    assert o["status"] == "expired" and o["reason"] == "fok_not_fillable" and o["executed_quantity"] == "0"
    assert await balances(db, b.user_id) == {"USDT": (D("100000"), D(0)), "BTC": (D(0), D(0))}
    o = await place_ok(client, b, side="buy", type="limit", time_in_force="FOK", price="50500", quantity="0.4")
    assert o["status"] == "filled" and o["executed_quantity"] == "0.4" and len(o["fills"]) == 2
    await check_books(db)


async def test_post_only_rests_or_is_refused_without_trace(client, db, settings):
    s = await make_trader(db, settings, {"BTC": "1"})
    b = await make_trader(db, settings, {"USDT": "100000"})
    await place_ok(client, s, side="sell", type="limit", price="50000", quantity="0.2")
    r = await place(client, b, side="buy", type="limit", price="50000", quantity="0.1", post_only=True)
    assert r.status_code == 400 and r.json()["error"]["code"] == "post_only_would_take"
    assert await balances(db, b.user_id) == {"USDT": (D("100000"), D(0)), "BTC": (D(0), D(0))}
    o = await place_ok(client, b, side="buy", type="limit", price="49999.99", quantity="0.1", post_only=True)
    assert o["status"] == "new" and o["post_only"] is True
    await check_books(db)


async def test_self_trade_prevention_modes(client, db, settings):
    u = await make_trader(db, settings, {"BTC": "5", "USDT": "500000"})
    other = await make_trader(db, settings, {"BTC": "5"})
    # default expire_maker: my resting ask is expired, matching continues with the next maker
    mine = await place_ok(client, u, side="sell", type="limit", price="50000", quantity="0.1")
    await place_ok(client, other, side="sell", type="limit", price="50000", quantity="0.1")
    o = await place_ok(client, u, side="buy", type="limit", price="50000", quantity="0.1")
    assert o["stp"] == "expire_maker" and o["status"] == "filled"
    got = (await client.get(f"/api/v1/trade/orders/{mine['order_id']}", headers=u.headers)).json()
    assert got["status"] == "expired" and got["reason"] == "self_trade_prevention" and got["hold_remaining"] == "0"
    # expire_taker: the taker goes, my maker stays
    maker = await place_ok(client, u, side="sell", type="limit", price="50000", quantity="0.1")
    o = await place_ok(client, u, side="buy", type="limit", price="50000", quantity="0.1", stp="expire_taker")
    assert o["status"] == "expired" and o["reason"] == "self_trade_prevention" and o["executed_quantity"] == "0"
    got = (await client.get(f"/api/v1/trade/orders/{maker['order_id']}", headers=u.headers)).json()
    assert got["status"] == "new"
    # expire_both
    o = await place_ok(client, u, side="buy", type="limit", price="50000", quantity="0.1", stp="expire_both")
    assert o["status"] == "expired"
    got = (await client.get(f"/api/v1/trade/orders/{maker['order_id']}", headers=u.headers)).json()
    assert got["status"] == "expired"
    # none: the self-trade happens and both sides pay their fee
    await place_ok(client, u, side="sell", type="limit", price="50000", quantity="0.1", stp="none")
    before = await fee_balance(db, "USDT")
    o = await place_ok(client, u, side="buy", type="limit", price="50000", quantity="0.1", stp="none")
    assert o["status"] == "filled"
    assert await fee_balance(db, "USDT") - before == D("5") + D("4")
    await check_books(db)


async def test_cancel_releases_hold_and_never_reveals_other_orders(client, db, settings):
    b = await make_trader(db, settings, {"USDT": "10000"})
    mallory = await make_trader(db, settings, {"USDT": "10000"})
    o = await place_ok(client, b, side="buy", type="limit", price="40000", quantity="0.1", client_order_id="c-1")
    r = await client.delete(f"/api/v1/trade/orders/{o['order_id']}", headers=mallory.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "order_not_found"
    r = await client.get(f"/api/v1/trade/orders/{o['order_id']}", headers=mallory.headers)
    assert r.status_code == 404
    r = await client.delete(f"/api/v1/trade/orders/{o['order_id']}", headers=b.headers)
    assert r.status_code == 200 and r.json()["status"] == "canceled" and r.json()["hold_remaining"] == "0"
    assert await balances(db, b.user_id) == {"USDT": (D("10000"), D(0)), "BTC": (D(0), D(0))}
    r = await client.delete(f"/api/v1/trade/orders/{o['order_id']}", headers=b.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "order_not_open"
    r = await client.delete("/api/v1/trade/orders/999999", headers=b.headers)
    assert r.status_code == 404
    # by client order id
    o2 = await place_ok(client, b, side="buy", type="limit", price="40000", quantity="0.1", client_order_id="c-2")
    r = await client.delete("/api/v1/trade/orders/client/c-2", headers=b.headers)
    assert r.status_code == 200 and r.json()["order_id"] == o2["order_id"] and r.json()["status"] == "canceled"
    r = await client.delete("/api/v1/trade/orders/client/c-2", headers=mallory.headers)
    assert r.status_code == 404
    await check_books(db)


async def test_cancel_all_per_market_and_everywhere(client, db, settings):
    u = await make_trader(db, settings, {"USDT": "100000", "BTC": "1"})
    for p in ("40000", "41000"):
        await place_ok(client, u, side="buy", type="limit", price=p, quantity="0.1")
    await place_ok(client, u, symbol="ETH-USDT", side="buy", type="limit", price="2000", quantity="1")
    await place_ok(client, u, symbol="ETH-BTC", side="buy", type="limit", price="0.05", quantity="1")
    r = await client.delete("/api/v1/trade/orders?symbol=BTC-USDT", headers=u.headers)
    assert r.status_code == 200 and len(r.json()) == 2 and {o["status"] for o in r.json()} == {"canceled"}
    assert len((await client.get("/api/v1/trade/orders/open", headers=u.headers)).json()) == 2
    r = await client.delete("/api/v1/trade/orders", headers=u.headers)
    assert r.status_code == 200 and {o["symbol"] for o in r.json()} == {"ETH-USDT", "ETH-BTC"}
    assert (await client.get("/api/v1/trade/orders/open", headers=u.headers)).json() == []
    assert await balances(db, u.user_id) == {"USDT": (D("100000"), D(0)), "BTC": (D("1"), D(0)), "ETH": (D(0), D(0))}
    await check_books(db)


async def test_amend_down_keeps_priority_and_releases_hold(client, db, settings):
    a = await make_trader(db, settings, {"BTC": "1"})
    c = await make_trader(db, settings, {"BTC": "1"})
    b = await make_trader(db, settings, {"USDT": "100000"})
    first = await place_ok(client, a, side="sell", type="limit", price="50000", quantity="0.5")
    await place_ok(client, c, side="sell", type="limit", price="50000", quantity="0.5")
    r = await client.patch(f"/api/v1/trade/orders/{first['order_id']}", json={"quantity": "0.2"}, headers=a.headers)
    assert r.status_code == 200 and r.json()["quantity"] == "0.2" and r.json()["hold_remaining"] == "0.2"
    assert await balances(db, a.user_id) == {"BTC": (D("0.8"), D("0.2")), "USDT": (D(0), D(0))}
    for bad in ("0.3", "0.9", "0.123456"):
        r = await client.patch(f"/api/v1/trade/orders/{first['order_id']}", json={"quantity": bad}, headers=a.headers)
        assert r.status_code == 400, bad
    r = await client.patch(f"/api/v1/trade/orders/{first['order_id']}", json={"quantity": "0.1"}, headers=c.headers)
    assert r.status_code == 404
    # still first in the queue at 50000
    o = await place_ok(client, b, side="buy", type="limit", price="50000", quantity="0.2")
    assert o["fills"][0]["quantity"] == "0.2"
    got = (await client.get(f"/api/v1/trade/orders/{first['order_id']}", headers=a.headers)).json()
    assert got["status"] == "filled"
    await check_books(db)


async def test_a_retried_amend_is_answered_not_refused(client, db, settings):
    """An amend whose answer was lost, sent again with the same quantity, answers 200 with the order as it
    is (nothing changes twice) instead of 400 invalid_amend_quantity, which would tell the client its amend
    failed although it took effect. Found by the seeded simulation (docs/simulation.md)."""
    a = await make_trader(db, settings, {"BTC": "1"})
    b = await make_trader(db, settings, {"USDT": "100000"})
    first = await place_ok(client, a, side="sell", type="limit", price="50000", quantity="0.5")
    url = f"/api/v1/trade/orders/{first['order_id']}"
    once = await client.patch(url, json={"quantity": "0.2"}, headers=a.headers)
    again = await client.patch(url, json={"quantity": "0.2"}, headers=a.headers)
    assert once.status_code == again.status_code == 200, again.json()
    assert again.json()["quantity"] == "0.2" and again.json()["hold_remaining"] == "0.2"
    assert await balances(db, a.user_id) == {"BTC": (D("0.8"), D("0.2")), "USDT": (D(0), D(0))}
    # after a partial fill the same total quantity is still a no-op; a larger one is still refused
    await place_ok(client, b, side="buy", type="limit", price="50000", quantity="0.05")
    r = await client.patch(url, json={"quantity": "0.2"}, headers=a.headers)
    assert r.status_code == 200 and r.json()["status"] == "partially_filled" and r.json()["hold_remaining"] == "0.15"
    assert (await client.patch(url, json={"quantity": "0.25"}, headers=a.headers)).status_code == 400
    await check_books(db)


async def test_eth_btc_market_charges_fees_in_btc(client, db, settings):
    s = await make_trader(db, settings, {"ETH": "10"})
    b = await make_trader(db, settings, {"BTC": "1"})
    await place_ok(client, s, symbol="ETH-BTC", side="sell", type="limit", price="0.05", quantity="2")
    o = await place_ok(client, b, symbol="ETH-BTC", side="buy", type="limit", price="0.05", quantity="2")
    assert o["status"] == "filled" and o["cumulative_quote"] == "0.1" and o["fee_asset"] == "BTC"
    assert o["fee_total"] == "0.0001"
    assert await balances(db, b.user_id) == {"BTC": (D("0.8999"), D(0)), "ETH": (D("2"), D(0))}
    assert await balances(db, s.user_id) == {"ETH": (D("8"), D(0)), "BTC": (D("0.09992"), D(0))}
    assert await fee_balance(db, "BTC") == D("0.00018")
    await check_books(db)
