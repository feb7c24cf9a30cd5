"""Bad input, insufficient funds, unverified users, halted markets and idempotent client order ids:
a clear 4xx with a stable code and no order, hold or posting left behind."""
from decimal import Decimal as D

import pytest

from tests.e2e.trading.kit import balances, check_books, counts, make_trader, place, place_ok

LIMIT = {"side": "buy", "type": "limit", "price": "50000", "quantity": "0.01"}

BAD_ORDERS = [
    ({"price": "50000.001"}, 400, "price_tick"),
    ({"quantity": "0.000001"}, 400, "quantity_step"),
    ({"price": "1", "quantity": "0.01"}, 400, "notional_too_small"),
    ({"quantity": "9000.00001"}, 400, "quantity_too_large"),
    ({"price": "-1"}, 422, "invalid_amount"),
    ({"price": "0"}, 422, "invalid_amount"),
    ({"quantity": "0"}, 422, "invalid_amount"),
    ({"price": "NaN"}, 422, "invalid_amount"),
    ({"price": "Infinity"}, 422, "invalid_amount"),
    ({"quantity": "1e-2"}, 422, "invalid_amount"),
    ({"price": 50000.5}, 422, "invalid_amount"),
    ({"price": " 50000"}, 422, "invalid_amount"),
    # issue 11: a regex anchored with `$` matched before a final newline; full-match semantics refuse it
    ({"price": "50000\n"}, 422, "invalid_amount"),
    ({"quantity": "0.01\n"}, 422, "invalid_amount"),
    ({"client_order_id": "abc\n"}, 400, "invalid_client_order_id"),
    # one rule for money: amounts are JSON strings; a JSON number (even an integer) is refused
    ({"price": 50000}, 422, "invalid_amount"),
    ({"quantity": 1}, 422, "invalid_amount"),
    ({"type": "market", "price": None, "quantity": None, "quote_quantity": 100}, 422, "invalid_amount"),
    ({"symbol": "DOGE-USDT"}, 400, "unknown_market"),
    ({"symbol": 5}, 422, "missing_field"),
    ({"side": "hold"}, 400, "invalid_side"),
    ({"type": "stop"}, 400, "invalid_type"),
    ({"time_in_force": "GTD"}, 400, "invalid_time_in_force"),
    ({"stp": "sometimes"}, 400, "invalid_stp"),
    ({"post_only": "yes"}, 400, "invalid_post_only"),
    ({"post_only": True, "time_in_force": "IOC"}, 400, "invalid_post_only"),
    ({"price": None}, 400, "missing_price"),
    ({"quantity": None}, 400, "missing_quantity"),
    ({"quote_quantity": "100"}, 400, "quote_quantity_not_allowed"),
    ({"client_order_id": "x" * 37}, 400, "invalid_client_order_id"),
    ({"client_order_id": "no spaces"}, 400, "invalid_client_order_id"),
    ({"qty": "1"}, 422, "unknown_field"),
    ({"type": "market", "price": "50000"}, 400, "price_not_allowed"),
    ({"type": "market", "price": None, "time_in_force": "FOK"}, 400, "invalid_time_in_force"),
    ({"type": "market", "price": None, "quantity": None, "quote_quantity": "100", "side": "sell"}, 400,
     "quote_quantity_not_allowed"),
    ({"type": "market", "price": None, "quote_quantity": "100"}, 400, "ambiguous_quantity"),
    ({"type": "market", "price": None, "quantity": None, "quote_quantity": "1"}, 400, "notional_too_small"),
    ({"type": "market", "price": None, "quantity": None, "quote_quantity": "10.000000001"}, 400,
     "amount_precision"),
]


@pytest.mark.parametrize("change,status,code", BAD_ORDERS, ids=[c for _, _, c in BAD_ORDERS])
async def test_bad_orders_are_refused_without_trace(client, db, settings, change, status, code):
    b = await make_trader(db, settings, {"USDT": "100000", "BTC": "1"})
    body = {**LIMIT, **change}
    body = {k: v for k, v in body.items() if v is not None}
    before = (await counts(db), await balances(db, b.user_id))
    r = await place(client, b, **body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"] and err["request_id"]
    assert (await counts(db), await balances(db, b.user_id)) == before


async def test_malformed_json_and_missing_auth(client, db, settings):
    b = await make_trader(db, settings, {"USDT": "100"})
    as_json = {**b.headers, "content-type": "application/json"}
    r = await client.post("/api/v1/trade/orders", content=b"{nope", headers=as_json)
    assert r.status_code == 422 and r.json()["error"]["code"] == "malformed_json"
    r = await client.post("/api/v1/trade/orders", content=b"[1,2]", headers=as_json)
    assert r.status_code == 422
    r = await client.post("/api/v1/trade/orders", content=b"{nope", headers=b.headers)   # no content type
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
    r = await client.post("/api/v1/trade/orders", json=LIMIT)
    assert r.status_code == 401
    r = await client.post("/api/v1/trade/orders", json=LIMIT, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert await counts(db) == (0, 0, 0)


async def test_insufficient_funds_leaves_nothing(client, db, settings):
    b = await make_trader(db, settings, {"USDT": "500"})
    r = await place(client, b, side="buy", type="limit", price="50000", quantity="0.01")   # needs 500.5
    assert r.status_code == 400 and r.json()["error"]["code"] == "insufficient_funds"
    assert r.json()["error"]["details"] == {"asset": "USDT"}
    s = await make_trader(db, settings)   # no BTC account at all
    r = await place(client, s, side="sell", type="limit", price="50000", quantity="0.01")
    assert r.status_code == 400 and r.json()["error"]["code"] == "insufficient_funds"
    assert await counts(db) == (0, 0, 0)
    assert await balances(db, b.user_id) == {"USDT": (500, 0), "BTC": (0, 0)}
    # the hold is exact: 499.5005 + 0.4995005 fee = 500.0000005 > 500, one tick less fits
    r = await place(client, b, side="buy", type="limit", price="49950.05", quantity="0.01")
    assert r.status_code == 400 and r.json()["error"]["code"] == "insufficient_funds"
    o = await place_ok(client, b, side="buy", type="limit", price="49950.04", quantity="0.01")
    assert o["hold_amount"] == "499.9999004"
    await check_books(db)


async def test_unverified_user_cannot_trade(client, db, settings):
    u = await make_trader(db, settings, {"USDT": "100000"}, verified=False)
    r = await place(client, u, **LIMIT)
    assert r.status_code == 403 and r.json()["error"]["code"] == "email_not_verified"
    assert await counts(db) == (0, 0, 0)


async def test_api_key_without_trade_permission_is_refused(app, db, settings):
    from mycrypto.auth.principal import Principal
    from mycrypto.trading.schemas import PlaceOrderRequest

    u = await make_trader(db, settings, {"USDT": "100000"})
    service = app.state.container.trade
    read_only = Principal(user_id=u.user_id, role="user", email="x@example.com", email_verified=True,
                          totp_enabled=False, api_key_id=1, permissions=frozenset({"read"}))
    with pytest.raises(Exception) as info:
        await service.place_order(read_only, PlaceOrderRequest("BTC-USDT", "buy", "limit", "0.01", "50000"))
    assert getattr(info.value, "code", None) == "permission_denied" and info.value.http_status == 403
    assert await counts(db) == (0, 0, 0)


async def test_client_order_id_is_idempotent(client, db, settings):
    b = await make_trader(db, settings, {"USDT": "100000"})
    body = {**LIMIT, "client_order_id": "my-order-1"}
    first = await place(client, b, **body)
    assert first.status_code == 201
    again = await place(client, b, **body)
    assert again.status_code == 200
    assert again.json()["order_id"] == first.json()["order_id"] and again.json()["status"] == "new"
    assert await counts(db) == (1, 0, 0)
    assert await balances(db, b.user_id) == {"USDT": (D("99499.5"), D("500.5")), "BTC": (0, 0)}
    # same id, different order: refused, nothing new
    r = await place(client, b, **{**body, "price": "49000"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_client_order_id"
    # the id is per user: someone else may use it
    other = await make_trader(db, settings, {"USDT": "100000"})
    assert (await place(client, other, **body)).status_code == 201
    # after a cancel the id still names the (cancelled) order
    await client.delete(f"/api/v1/trade/orders/{first.json()['order_id']}", headers=b.headers)
    again = await place(client, b, **body)
    assert again.status_code == 200 and again.json()["status"] == "canceled"
    got = await client.get("/api/v1/trade/orders/client/my-order-1", headers=b.headers)
    assert got.json()["order_id"] == first.json()["order_id"]
    await check_books(db)


async def test_concurrent_duplicates_create_one_order(client, db, settings):
    import asyncio

    b = await make_trader(db, settings, {"USDT": "100000"})
    body = {**LIMIT, "client_order_id": "burst"}
    rs = await asyncio.gather(*[place(client, b, **body) for _ in range(10)])
    assert sorted(r.status_code for r in rs) == [200] * 9 + [201]
    assert len({r.json()["order_id"] for r in rs}) == 1
    assert await counts(db) == (1, 0, 0)
    await check_books(db)


async def test_halted_market_refuses_orders_but_allows_cancels(client, db, settings):
    admin = await make_trader(db, settings, role="admin")
    u = await make_trader(db, settings, {"USDT": "100000"})
    o = await place_ok(client, u, **LIMIT)
    o2 = await place_ok(client, u, **{**LIMIT, "price": "49000"})
    r = await client.post("/api/v1/trade/admin/markets/BTC-USDT/halt", json={"reason": "maintenance"}, headers=u.headers)
    assert r.status_code == 403
    r = await client.post("/api/v1/trade/admin/markets/BTC-USDT/halt", json={"reason": "maintenance"},
                          headers=admin.headers)
    assert r.status_code == 200 and r.json()["status"] == "halted"
    before = (await counts(db), await balances(db, u.user_id))
    for body in (LIMIT, {**LIMIT, "client_order_id": "halted-1"}, {"side": "sell", "type": "market", "quantity": "0.01"}):
        r = await place(client, u, **body)
        assert r.status_code == 409 and r.json()["error"]["code"] == "market_halted"
    assert (await counts(db), await balances(db, u.user_id)) == before   # no order, hold or posting
    assert (await client.get("/api/v1/trade/orders/client/halted-1", headers=u.headers)).status_code == 404
    markets = {m["symbol"]: m for m in (await client.get("/api/v1/trade/markets")).json()}
    assert markets["BTC-USDT"]["status"] == "halted" and markets["ETH-USDT"]["status"] == "trading"
    r = await client.delete(f"/api/v1/trade/orders/{o['order_id']}", headers=u.headers)
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    r = await client.delete("/api/v1/trade/orders?symbol=BTC-USDT", headers=u.headers)   # cancel-all too
    assert r.status_code == 200 and [(x["order_id"], x["status"]) for x in r.json()] == [(o2["order_id"], "canceled")]
    assert await balances(db, u.user_id) == {"USDT": (D("100000"), D(0)), "BTC": (D(0), D(0))}
    r = await client.post("/api/v1/trade/admin/markets/BTC-USDT/resume", headers=admin.headers)
    assert r.status_code == 200 and r.json()["status"] == "trading"
    await place_ok(client, u, **LIMIT)
    audit = await db.fetch("SELECT event, actor_user_id, details FROM auth.audit_log ORDER BY id")
    assert [a["event"] for a in audit] == ["market_halted", "market_resumed"]
    assert audit[0]["actor_user_id"] == admin.user_id and audit[0]["details"]["reason"] == "maintenance"
    r = await client.post("/api/v1/trade/admin/markets/NOPE-USDT/halt", headers=admin.headers)
    assert r.status_code == 404
    await check_books(db)


BIG = 10**20   # beyond BIGINT: must be a clear 4xx, never a database error
OUT_OF_RANGE = [
    ("GET", f"/api/v1/trade/orders/{BIG}", 404, "order_not_found"),
    ("DELETE", f"/api/v1/trade/orders/{BIG}", 404, "order_not_found"),
    ("PATCH", f"/api/v1/trade/orders/{BIG}", 404, "order_not_found"),
    ("GET", f"/api/v1/trade/orders?start_time={BIG}", 400, "invalid_start_time"),
    ("GET", "/api/v1/trade/orders?end_time=-1", 400, "invalid_end_time"),
    ("GET", f"/api/v1/trade/orders?start_time={10**15}", 400, "invalid_start_time"),
    ("GET", f"/api/v1/trade/my-trades?start_time={BIG}", 400, "invalid_start_time"),
    ("GET", f"/api/v1/trade/my-trades?end_time={10**17}", 400, "invalid_end_time"),
    ("GET", f"/api/v1/trade/trades/BTC-USDT?from_id={BIG}", 400, "invalid_from_id"),
    ("GET", f"/api/v1/trade/candles/BTC-USDT?start_time={BIG}", 400, "invalid_start_time"),
    ("GET", f"/api/v1/trade/candles/BTC-USDT?end_time={10**16}", 400, "invalid_end_time"),
    ("GET", "/api/v1/trade/orders?cursor=MTAwMDAwMDAwMDAwMDAwMDAwMDAwOjE", 400, "invalid_cursor"),   # "1e20:1"
    ("GET", "/api/v1/trade/my-trades?cursor=MTAwMDAwMDAwMDAwMDAwMDAwMDAwOjE6MQ", 400, "invalid_cursor"),
    ("GET", "/api/v1/trade/my-trades?cursor=MToxOjEwMDAwMDAwMDAwMDAwMDAwMDAwMA", 400, "invalid_cursor"),  # "1:1:1e20"
]


@pytest.mark.parametrize("method,path,status,code", OUT_OF_RANGE, ids=[f"{m} {p}" for m, p, _, _ in OUT_OF_RANGE])
async def test_out_of_range_ids_times_and_cursors_are_refused_cleanly(client, db, settings, method, path, status, code):
    u = await make_trader(db, settings, {"USDT": "1000"})
    o = await place_ok(client, u, **LIMIT)
    before = (await counts(db), await balances(db, u.user_id))
    r = await client.request(method, path, headers=u.headers, json={"quantity": "0.005"} if method == "PATCH" else None)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert (await counts(db), await balances(db, u.user_id)) == before
    # the largest representable values are fine (and find nothing)
    edge = (await client.get("/api/v1/trade/orders?start_time=0&end_time=253402300799999", headers=u.headers)).json()
    assert [x["order_id"] for x in edge["items"]] == [o["order_id"]]
    assert (await client.get(f"/api/v1/trade/orders/{2**63 - 1}", headers=u.headers)).status_code == 404
