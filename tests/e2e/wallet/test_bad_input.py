"""Every bad withdrawal input gets a clear 4xx with a stable code, and changes nothing at all."""
import pytest

from tests.e2e.wallet.helpers import assert_books_ok, ledger_state
from tests.support.factories import bearer, create_user, fund

BTC_ADDR = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
ETH_ADDR = "0x52908400098527886E0F7030069857D2E4169EE7"
URL = "/api/v1/wallet/withdrawals"


@pytest.fixture
async def funded(wapp, wsettings, db):
    app, client = wapp
    user = await create_user(db)
    await fund(db, user, "BTC", "1")
    await fund(db, user, "USDT", "500")
    return client, bearer(wsettings, user), user


BAD = [
    # (body overrides, status, code)
    ({"amount": "-1"}, 422, "invalid_amount"),
    ({"amount": "0"}, 422, "invalid_amount"),
    ({"amount": "0.0"}, 422, "invalid_amount"),
    ({"amount": "NaN"}, 422, "invalid_amount"),
    ({"amount": "Infinity"}, 422, "invalid_amount"),
    ({"amount": "-Infinity"}, 422, "invalid_amount"),
    ({"amount": "1e-3"}, 422, "invalid_amount"),
    ({"amount": "1E2"}, 422, "invalid_amount"),
    ({"amount": 0.1}, 422, "invalid_amount"),  # a JSON number is never money
    ({"amount": "0.1 "}, 422, "invalid_amount"),
    ({"amount": "0.1\n"}, 422, "invalid_amount"),   # issue 11: `$` matched before a final newline
    ({"amount": 1}, 422, "invalid_amount"),        # one rule for money: an integer JSON number too
    ({"amount": 2**64}, 422, "invalid_amount"),    # issue 11: was a 500 (fingerprint serialiser overflow)
    ({"amount": 10**400}, 422, "invalid_amount"),
    ({"amount": ""}, 422, "invalid_amount"),
    ({"amount": None}, 422, "invalid_amount"),
    ({"amount": "0x10"}, 422, "invalid_amount"),
    ({"amount": "0.000000001"}, 422, "amount_precision"),  # BTC has 8 decimals: never rounded
    ({"amount": "0.123456789"}, 422, "amount_precision"),
    ({"asset": "DOGE"}, 404, "unknown_asset"),
    ({"asset": ""}, 422, "validation_error"),
    ({"asset": "BTC'; DROP TABLE x;--"}, 422, "validation_error"),
    ({"address": ETH_ADDR}, 422, "invalid_address"),
    ({"address": "bc1q"}, 422, "invalid_address"),
    ({"address": " " + BTC_ADDR}, 422, "invalid_address"),
    ({"address": BTC_ADDR + "\n"}, 422, "invalid_address"),
    ({"address": "<script>alert(1)</script>"}, 422, "invalid_address"),
    ({"amount": "0.00009"}, 422, "amount_below_minimum"),
    ({"amount": "1"}, 400, "insufficient_funds"),  # 1 + fee > 1 available
    ({"amount": "6"}, 400, "daily_limit_exceeded"),
    ({"surprise": "field"}, 422, "validation_error"),
]


@pytest.mark.parametrize("override, status, code", BAD, ids=[f"{c}-{i}" for i, (_, _, c) in enumerate(BAD)])
async def test_bad_withdrawal_is_refused_and_nothing_changes(funded, db, override, status, code):
    client, h, _ = funded
    body = {"asset": "BTC", "address": BTC_ADDR, "amount": "0.1", **override}
    before = await ledger_state(db)
    r = await client.post(URL, json=body, headers=h)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"] and err["request_id"]
    assert await ledger_state(db) == before


@pytest.mark.parametrize("asset, address, code", [
    ("USDT", BTC_ADDR, "invalid_address"),
    ("USDT", ETH_ADDR.lower()[:-1], "invalid_address"),
    ("USDT", "5", "invalid_address"),
    ("usdt", ETH_ADDR, None),  # asset codes are case-insensitive
])
async def test_addresses_are_checked_per_asset(funded, db, asset, address, code):
    client, h, _ = funded
    r = await client.post(URL, json={"asset": asset, "address": address, "amount": "20"}, headers=h)
    if code is None:
        assert r.status_code == 201 and r.json()["asset"] == "USDT"
    else:
        assert r.status_code == 422 and r.json()["error"]["code"] == code


async def test_malformed_json_and_missing_fields(funded, db):
    client, h, _ = funded
    before = await ledger_state(db)
    r = await client.post(URL, content=b"{not json", headers={**h, "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "malformed_json"
    r = await client.post(URL, json={"asset": "BTC"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = await client.post(URL, json=[1, 2], headers=h)
    assert r.status_code == 422
    assert await ledger_state(db) == before


@pytest.mark.parametrize("key", ["", "x" * 65, "has space", "é".encode(), "a/b"])
async def test_bad_idempotency_keys_are_refused(funded, db, key):
    client, h, _ = funded
    before = await ledger_state(db)
    r = await client.post(URL, json={"asset": "BTC", "address": BTC_ADDR, "amount": "0.1"},
                          headers={**h, "Idempotency-Key": key})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_idempotency_key"
    assert await ledger_state(db) == before


async def test_double_submit_with_a_key_moves_money_once(funded, db):
    client, h, user = funded
    body = {"asset": "BTC", "address": BTC_ADDR, "amount": "0.1"}
    first = await client.post(URL, json=body, headers={**h, "Idempotency-Key": "order-7"})
    after_first = await ledger_state(db)
    second = await client.post(URL, json=body, headers={**h, "Idempotency-Key": "order-7"})
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() and second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await ledger_state(db) == after_first
    other = await client.post(URL, json={**body, "amount": "0.2"}, headers={**h, "Idempotency-Key": "order-7"})
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert await ledger_state(db) == after_first
    await assert_books_ok(db)


@pytest.mark.parametrize("path", ["/api/v1/wallet/withdrawals/0", "/api/v1/wallet/withdrawals/abc",
                                  "/api/v1/wallet/withdrawals/99999999999999999999",
                                  "/api/v1/wallet/deposits/-1"])
async def test_bad_ids_are_422_not_500(funded, path):
    client, h, _ = funded
    r = await client.get(path, headers=h)
    assert r.status_code == 422


@pytest.mark.parametrize("query, code", [("type=bogus", "invalid_filter"), ("limit=0", "validation_error"),
                                         ("limit=501", "validation_error"), ("cursor=zzz", "invalid_cursor"),
                                         ("start=yesterday", "invalid_filter"), ("asset=DOGE", "unknown_asset"),
                                         ("start=2024-02-01&end=2024-01-01", "invalid_filter")])
async def test_bad_history_queries(funded, query, code):
    client, h, _ = funded
    r = await client.get(f"/api/v1/wallet/history?{query}", headers=h)
    assert 400 <= r.status_code < 500 and r.json()["error"]["code"] == code


async def test_a_deposit_address_for_an_unknown_asset(funded):
    client, h, _ = funded
    r = await client.get("/api/v1/wallet/deposit-address/NOPE", headers=h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_asset"
    r = await client.get("/api/v1/wallet/balances/NOPE", headers=h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_asset"


@pytest.mark.parametrize("amount", [2**64, 2**64 + 1, 10**30])
async def test_huge_integer_amount_with_idempotency_key_is_a_4xx_on_a_kept_connection(live_server, settings, db, amount):
    """Issue 11: a JSON integer >= 2**64 with an Idempotency-Key answered 500 (the request fingerprint's
    serialiser overflowed) and the connection was dropped. Now: 422 invalid_amount, and the same
    keep-alive connection answers the next request."""
    import asyncio
    import http.client
    import json

    user = await create_user(db)
    await fund(db, user, "BTC", "1")
    before = await ledger_state(db)
    headers = {**bearer(settings, user), "content-type": "application/json",
               "Idempotency-Key": "huge-1"}
    body = '{"asset": "BTC", "address": "%s", "amount": %d}' % (BTC_ADDR, amount)

    def exchange() -> list[tuple[int, dict, str | None]]:
        conn = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=30)
        out = []
        for _ in range(2):   # the second request travels on the same socket
            conn.request("POST", URL, body=body, headers=headers)
            r = conn.getresponse()
            out.append((r.status, json.loads(r.read()), r.getheader("connection")))
        sock_still_open = conn.sock is not None
        conn.close()
        assert sock_still_open
        return out

    answers = await asyncio.to_thread(exchange)
    for status, data, connection in answers:
        assert status == 422 and data["error"]["code"] == "invalid_amount", (status, data)
        assert connection != "close"
    assert await ledger_state(db) == before
