"""JSON routes take JSON only (issue 11): a body sent as text/plain, a form, multipart, XML or with no
content type is answered 415 unsupported_media_type on every native route family, before any handler
runs (nothing is created); /api/v3 keeps Binance's form encoding; bodiless requests are not concerned."""
from __future__ import annotations

import json

import pytest

from tests.e2e.trading.kit import counts, make_trader

ORDER = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "50000", "quantity": "0.01"}
ROUTES = [   # (method, path, JSON body): one per route family
    ("POST", "/api/v1/trade/orders", ORDER),                     # the ASGI fast path
    ("PATCH", "/api/v1/trade/orders/1", {"quantity": "0.001"}),
    ("POST", "/api/v1/wallet/withdrawals", {"asset": "BTC", "address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                                            "amount": "0.1"}),
    ("POST", "/api/v1/wallet/faucet", {"asset": "BTC", "amount": "1"}),
    ("POST", "/api/v1/auth/login", {"email": "a@example.com", "password": "a long passphrase of mine"}),
    ("POST", "/api/v1/auth/api-keys", {"label": "bot", "permissions": ["read"]}),
    ("POST", "/api/v1/trade/alerts", {"symbol": "BTC-USDT", "condition": {"type": "price", "direction": "above",
                                                                    "price": "60000"}}),
    ("POST", "/web/qr", {"text": "otpauth://totp/x?secret=AAAA"}),
]


def _variants(body: dict) -> list[tuple[str, dict, bytes]]:
    raw = json.dumps(body).encode()
    boundary = "b0undary"
    multipart = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"json\"\r\n\r\n{raw.decode()}\r\n"
                 f"--{boundary}--\r\n").encode()
    return [
        ("text/plain", {"content-type": "text/plain"}, raw),
        ("form", {"content-type": "application/x-www-form-urlencoded"}, b"symbol=BTC-USDT&side=buy"),
        ("multipart", {"content-type": f"multipart/form-data; boundary={boundary}"}, multipart),
        ("xml", {"content-type": "application/xml"}, b"<order><side>buy</side></order>"),
        ("none", {}, raw),
        ("json-lookalike", {"content-type": "application/jsonp"}, raw),
    ]


@pytest.mark.parametrize("method, path, body", ROUTES, ids=[p for _, p, _ in ROUTES])
async def test_non_json_bodies_are_415_on_every_json_route(client, db, settings, method, path, body):
    trader = await make_trader(db, settings, {"USDT": "100000", "BTC": "1"})
    before = await counts(db)
    for name, headers, content in _variants(body):
        r = await client.request(method, path, content=content, headers={**trader.headers, **headers})
        assert r.status_code == 415, (name, r.status_code, r.text)
        err = r.json()["error"]
        assert err["code"] == "unsupported_media_type" and err["message"] and err["request_id"], name
        assert r.headers["x-content-type-options"] == "nosniff"
    assert await counts(db) == before
    assert await db.fetchval("SELECT count(*) FROM wallet.withdrawal") == 0


async def test_json_with_parameters_passes_and_bodiless_requests_are_not_concerned(client, db, settings):
    trader = await make_trader(db, settings, {"USDT": "100000"})
    r = await client.post("/api/v1/trade/orders", content=json.dumps(ORDER).encode(),
                          headers={**trader.headers, "content-type": "Application/JSON; charset=utf-8"})
    assert r.status_code == 201, r.text
    order_id = r.json()["order_id"]
    r = await client.delete(f"/api/v1/trade/orders/{order_id}", headers=trader.headers)   # no body, no type
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    r = await client.post("/api/v1/auth/logout", headers=trader.headers)
    assert r.status_code != 415


async def test_binance_api_keeps_its_form_encoding(client, db, settings):
    from tests.e2e.compat.kit import key_user, spost

    u = await key_user(client, db, settings, {"USDT": "1000"})
    r = await spost(client, u, "order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                         "price": "50000", "quantity": "0.01"})
    assert r.status_code == 200, r.text
