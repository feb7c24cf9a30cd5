"""Conditional orders over the native HTTP API: POST /api/v1/trade/orders with type stop_limit /
stop_market / take_profit_limit and stop_price, POST /api/v1/trade/orders/oco, listing (status
"untriggered"), cancel, amend refusal, bad input (a 4xx with a stable code, nothing held), and the
trigger by a crossing trade."""
from decimal import Decimal as D

import pytest

from tests.e2e.trading.kit import balances, check_books, counts, make_trader, place, place_ok


async def _last_price(client, a, b, price="50000"):
    await place_ok(client, a, side="sell", type="limit", price=price, quantity="0.01")
    await place_ok(client, b, side="buy", type="limit", price=price, quantity="0.01")


STOP = {"side": "sell", "type": "stop_limit", "price": "48900", "stop_price": "49000", "quantity": "0.5"}

BAD = [
    ({"stop_price": None}, 400, "missing_stop_price"),
    ({"stop_price": "49000.001"}, 400, "price_tick"),
    ({"stop_price": "-1"}, 422, "invalid_amount"),
    ({"stop_price": "50500"}, 400, "would_trigger_immediately"),     # a sell stop above the last price
    ({"type": "stop_market"}, 400, "price_not_allowed"),
    ({"post_only": True}, 400, "invalid_post_only"),
    ({"type": "limit"}, 400, "stop_price_not_allowed"),
    ({"type": "take_profit_limit", "stop_price": "49000"}, 400, "would_trigger_immediately"),
    ({"quantity": "5"}, 400, "insufficient_funds"),
]


@pytest.mark.parametrize("change,status,code", BAD)
async def test_bad_conditional_orders_are_refused_with_a_stable_code_and_hold_nothing(client, db, settings,
                                                                                       change, status, code):
    a = await make_trader(db, settings, {"BTC": "1", "USDT": "100000"})
    b = await make_trader(db, settings, {"BTC": "1", "USDT": "100000"})
    s = await make_trader(db, settings, {"BTC": "1"})
    await _last_price(client, a, b)
    before = await counts(db)
    body = {**STOP, **change}
    r = await place(client, s, **{k: v for k, v in body.items() if v is not None})
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    assert await counts(db) == before
    assert (await balances(db, s.user_id))["BTC"] == (D("1"), D("0"))


async def test_place_list_trigger_and_fill_over_http(client, db, settings):
    a = await make_trader(db, settings, {"BTC": "1", "USDT": "100000"})
    b = await make_trader(db, settings, {"BTC": "1", "USDT": "100000"})
    s = await make_trader(db, settings, {"BTC": "1"})
    await _last_price(client, a, b)
    stop = await place_ok(client, s, **STOP)
    assert (stop["type"], stop["status"], stop["stop_price"], stop["triggered_at"]) == (
        "stop_limit", "untriggered", "49000", None)
    assert stop["hold_remaining"] == "0.5"
    r = await client.get("/api/v1/trade/orders/open", headers=s.headers)
    assert [(o["order_id"], o["status"]) for o in r.json()] == [(stop["order_id"], "untriggered")]
    r = await client.get("/api/v1/trade/orders?status=untriggered", headers=s.headers)
    assert [o["order_id"] for o in r.json()["items"]] == [stop["order_id"]]
    r = await client.get("/api/v1/trade/orders?status=untriggered", headers=a.headers)
    assert r.json()["items"] == []
    r = await client.patch(f"/api/v1/trade/orders/{stop['order_id']}", json={"quantity": "0.1"}, headers=s.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "untriggered_not_amendable")
    book = (await client.get("/api/v1/orderbook/BTC-USDT")).json()
    assert book["asks"] == [] and book["bids"] == []
    await place_ok(client, b, side="buy", type="limit", price="48950", quantity="1")
    await _last_price(client, a, b, "49000")
    got = (await client.get(f"/api/v1/trade/orders/{stop['order_id']}", headers=s.headers)).json()
    assert (got["status"], got["executed_quantity"], got["type"]) == ("filled", "0.5", "stop_limit")
    assert (await client.get("/api/v1/trade/orders?status=untriggered", headers=s.headers)).json()["items"] == []
    assert got["triggered_at"] is not None and got["fills"][0]["price"] == "48950"
    await check_books(db)


async def test_oco_over_http_and_cancelling_one_leg_cancels_both(client, db, settings):
    a = await make_trader(db, settings, {"BTC": "1", "USDT": "100000"})
    b = await make_trader(db, settings, {"BTC": "1", "USDT": "100000"})
    s = await make_trader(db, settings, {"BTC": "2"})
    await _last_price(client, a, b)
    r = await client.post("/api/v1/trade/orders/oco", headers=s.headers, json={
        "symbol": "BTC-USDT", "side": "sell", "quantity": "1", "price": "52000", "stop_price": "48000",
        "stop_limit_price": "47900", "limit_client_order_id": "tp-1", "stop_client_order_id": "sl-1"})
    assert r.status_code == 201, r.text
    listed = r.json()
    stop, lim = listed["orders"]
    assert (stop["type"], stop["status"], lim["type"], lim["status"]) == ("stop_limit", "untriggered", "limit", "new")
    assert stop["oco_order_id"] == lim["order_id"] and listed["order_list_id"] == min(stop["order_id"], lim["order_id"])
    assert (await balances(db, s.user_id))["BTC"] == (D("0"), D("2"))
    r = await client.delete(f"/api/v1/trade/orders/{lim['order_id']}", headers=s.headers)
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    got = (await client.get(f"/api/v1/trade/orders/{stop['order_id']}", headers=s.headers)).json()
    assert (got["status"], got["reason"]) == ("canceled", "oco")
    assert (await balances(db, s.user_id))["BTC"] == (D("2"), D("0"))
    # bad OCOs: prices the wrong way round, a limit leg that would take, unknown fields
    for body, code in (({"price": "47000", "stop_price": "48000"}, "invalid_oco_prices"),
                       ({"price": "49000", "stop_price": "48000"}, None),
                       ({"nonsense": 1}, "unknown_field")):
        full = {"symbol": "BTC-USDT", "side": "sell", "quantity": "0.1", "price": "52000", "stop_price": "48000",
                **body}
        if code is None:   # a bid at 49500 makes a 49000 maker-only sell leg cross
            await place_ok(client, b, side="buy", type="limit", price="49500", quantity="0.01")
            code = "post_only_would_take"
        r = await client.post("/api/v1/trade/orders/oco", headers=s.headers, json=full)
        assert r.status_code in (400, 422) and r.json()["error"]["code"] == code, r.text
    assert (await balances(db, s.user_id))["BTC"] == (D("2"), D("0"))
    await check_books(db)
