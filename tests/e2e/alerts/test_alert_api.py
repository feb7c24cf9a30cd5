"""The alerts REST API: per-user authorization (no alert of another user is ever visible or deletable),
the per-user limit, absurd parameters refused with stable codes, listing, deleting and history."""
from tests.e2e.alerts.kit import ALERTS, create, trade_at, traders, wait_fired
from tests.e2e.trading.kit import make_trader

PRICE = {"type": "price", "direction": "above", "price": "60000"}


async def test_alerts_are_private_to_their_owner(client, db, settings):
    alice = await make_trader(db, settings)
    mallory = await make_trader(db, settings)
    a = await create(client, alice, PRICE)
    aid = a["alert_id"]
    for method, path in (("GET", f"{ALERTS}/{aid}"), ("DELETE", f"{ALERTS}/{aid}")):
        r = await client.request(method, path, headers=mallory.headers)
        assert r.status_code == 404 and r.json()["error"]["code"] == "alert_not_found", r.text
    assert (await client.get(ALERTS, headers=mallory.headers)).json()["items"] == []
    assert (await client.get(f"{ALERTS}/history?alert_id={aid}", headers=mallory.headers)).json()["items"] == []
    assert (await client.get(f"{ALERTS}/{aid}", headers=alice.headers)).json()["status"] == "active"
    for method, path in (("GET", ALERTS), ("POST", ALERTS), ("GET", f"{ALERTS}/{aid}"), ("DELETE", f"{ALERTS}/{aid}"),
                         ("GET", f"{ALERTS}/history")):
        r = await client.request(method, path, json={} if method == "POST" else None)
        assert r.status_code == 401, (method, path, r.text)
    assert await db.fetchval("SELECT status FROM trade.price_alert WHERE id = $1", aid) == "active"


async def test_unverified_users_cannot_create_alerts(client, db, settings):
    unverified = await make_trader(db, settings, verified=False)
    r = await client.post(ALERTS, json={"symbol": "BTC-USDT", "condition": PRICE}, headers=unverified.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "email_not_verified"


async def test_list_get_delete_and_the_limit_per_user(client, db, settings):
    user = await make_trader(db, settings)
    made = [await create(client, user, {**PRICE, "price": str(60000 + i)}) for i in range(5)]   # limit: 5
    r = await client.post(ALERTS, json={"symbol": "BTC-USDT", "condition": PRICE}, headers=user.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "alert_limit_reached", r.text
    page = (await client.get(f"{ALERTS}?limit=3", headers=user.headers)).json()
    assert [a["alert_id"] for a in page["items"]] == [m["alert_id"] for m in made[::-1][:3]]
    rest = (await client.get(f"{ALERTS}?limit=3&cursor={page['next_cursor']}", headers=user.headers)).json()
    assert [a["alert_id"] for a in rest["items"]] == [m["alert_id"] for m in made[::-1][3:]]
    assert rest["next_cursor"] is None
    r = await client.delete(f"{ALERTS}/{made[0]['alert_id']}", headers=user.headers)
    assert r.status_code == 200 and r.json()["status"] == "deleted"
    assert (await client.get(f"{ALERTS}/{made[0]['alert_id']}", headers=user.headers)).status_code == 404
    assert (await client.delete(f"{ALERTS}/{made[0]['alert_id']}", headers=user.headers)).status_code == 404
    assert len((await client.get(ALERTS, headers=user.headers)).json()["items"]) == 4
    await create(client, user, PRICE)                         # a deleted alert frees its place
    r = await client.get(f"{ALERTS}?symbol=ETH-USDT&status=active", headers=user.headers)
    assert r.status_code == 200 and r.json()["items"] == []


async def test_a_deleted_alert_never_fires_and_history_survives_deletion(app, client, db, settings):
    seller, buyer = await traders(db, settings)
    user = await make_trader(db, settings)
    await trade_at(client, seller, buyer, "50000")
    kept = await create(client, user, {"type": "price", "direction": "above", "price": "50100"}, repeat=True)
    gone = await create(client, user, {"type": "price", "direction": "above", "price": "50100"})
    await client.delete(f"{ALERTS}/{gone['alert_id']}", headers=user.headers)
    crossing = await trade_at(client, seller, buyer, "50200")
    await wait_fired(db, kept["alert_id"])
    await client.delete(f"{ALERTS}/{kept['alert_id']}", headers=user.headers)
    history = (await client.get(f"{ALERTS}/history", headers=user.headers)).json()["items"]
    assert [(h["alert_id"], h["trade_id"]) for h in history] == [(kept["alert_id"], crossing)]
    assert await db.fetchval("SELECT count(*) FROM trade.price_alert_event WHERE alert_id = $1", gone["alert_id"]) == 0


ABSURD = [
    ({"symbol": "BTC-USDT"}, 422, "missing_field"),
    ({"condition": PRICE}, 422, "missing_field"),
    ({"symbol": "DOGE-USDT", "condition": PRICE}, 400, "unknown_market"),
    ({"symbol": "BTC-USDT", "condition": PRICE, "colour": "red"}, 422, "unknown_field"),
    ({"symbol": "BTC-USDT", "condition": {**PRICE, "price": "1e6"}}, 400, "invalid_level"),
    ({"symbol": "BTC-USDT", "condition": {**PRICE, "price": 60000.5}}, 400, "invalid_level"),
    ({"symbol": "BTC-USDT", "condition": {**PRICE, "price": 60000}}, 400, "invalid_level"),   # issue 11: a number
    ({"symbol": "BTC-USDT", "condition": {**PRICE, "price": "60000\n"}}, 400, "invalid_level"),
    ({"symbol": "BTC-USDT", "condition": {**PRICE, "price": "99999999999999999"}}, 400, "alert_price_out_of_range"),
    ({"symbol": "BTC-USDT", "condition": {"type": "rsi", "direction": "above", "level": "70", "period": 10**12,
                                          "interval": "1h"}}, 400, "invalid_period"),
    ({"symbol": "BTC-USDT", "condition": {"type": "rsi", "direction": "above", "level": "150", "interval": "1h"}},
     400, "invalid_level"),
    ({"symbol": "BTC-USDT", "condition": {"type": "change", "direction": "down", "percent": "100", "window": "1h"}},
     400, "invalid_level"),
    ({"symbol": "BTC-USDT", "condition": {"type": "sma_cross", "direction": "above", "interval": "7x"}},
     400, "invalid_interval"),
    ({"symbol": "BTC-USDT", "condition": PRICE, "repeat": True, "cooldown_seconds": 1}, 400, "invalid_cooldown"),
    ({"symbol": "BTC-USDT", "condition": PRICE, "note": "x" * 5000}, 400, "invalid_note"),
]


async def test_absurd_parameters_are_refused_and_change_nothing(client, db, settings):
    user = await make_trader(db, settings)
    for body, status, code in ABSURD:
        r = await client.post(ALERTS, json=body, headers=user.headers)
        assert r.status_code == status and r.json()["error"]["code"] == code, (body, r.text)
    assert await db.fetchval("SELECT count(*) FROM trade.price_alert") == 0


async def test_price_band_uses_the_last_trade(client, db, settings):
    seller, buyer = await traders(db, settings)
    user = await make_trader(db, settings)
    await trade_at(client, seller, buyer, "50000")
    r = await client.post(ALERTS, json={"symbol": "BTC-USDT", "condition": {**PRICE, "price": "400"}},
                          headers=user.headers)
    assert r.status_code == 400 and r.json()["error"]["code"] == "alert_price_out_of_range"
    await create(client, user, {**PRICE, "price": "600"})


async def test_bad_list_parameters(client, db, settings):
    user = await make_trader(db, settings)
    for query, code in (("?limit=0", "invalid_limit"), ("?limit=100000", "invalid_limit"),
                        ("?status=deleted", "invalid_status"), ("?cursor=abc", "invalid_cursor"),
                        ("?cursor=99999999999999999999999", "invalid_cursor"), ("?symbol=NOPE", "unknown_market"),
                        ("/history?alert_id=0", "alert_not_found"), ("/history?cursor=-1", "invalid_cursor")):
        r = await client.get(ALERTS + query, headers=user.headers)
        assert r.status_code in (400, 404) and r.json()["error"]["code"] == code, (query, r.text)


async def test_malformed_bodies_and_ids(client, db, settings):
    user = await make_trader(db, settings)
    r = await client.post(ALERTS, content=b"{not json", headers={**user.headers, "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "malformed_json"
    r = await client.post(ALERTS, json=[1, 2], headers=user.headers)
    assert r.status_code == 422
    assert (await client.get(f"{ALERTS}/99999999999999999999", headers=user.headers)).status_code in (404, 422)
    assert (await client.get(f"{ALERTS}/0", headers=user.headers)).status_code == 404
