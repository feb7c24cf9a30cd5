"""OWASP API1 (broken object level authorization) and API5 (broken function level authorization).

Alice owns one of every resource the API exposes by id: an order (by id and by client order id), a
withdrawal, a deposit, an alert, an API key, a session and deposit addresses. Bob - signed in with a
token, with cookies and with his signed API key - tries to read, change and delete each of them by id,
and every admin route. Every attempt must be refused (404 that does not even confirm the id exists; 403
admin_required for admin routes) and alice's resources must be unchanged afterwards.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

BTC_ADDR = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def signed(user, params: dict[str, str]) -> tuple[str, dict[str, str]]:
    query = urlencode({**params, "timestamp": str(int(time.time() * 1000))})
    sig = hmac.new(user.api_secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={sig}", {"X-MBX-APIKEY": user.api_key}


async def alices_resources(platform) -> dict[str, object]:
    alice = platform.alice
    with platform.client(headers=alice.bearer) as c:
        order = c.post("/api/v1/trade/orders", json={"symbol": "BTC-USDT", "side": "sell", "type": "limit",
                                                     "price": "90000", "quantity": "0.01",
                                                     "client_order_id": "alice-secret-1"})
        assert order.status_code == 201, order.text
        withdrawal = c.post("/api/v1/wallet/withdrawals",
                            json={"asset": "BTC", "address": BTC_ADDR, "amount": "0.01"})
        assert withdrawal.status_code == 201, withdrawal.text
        alert = c.post("/api/v1/trade/alerts", json={"symbol": "BTC-USDT", "condition": {
            "type": "price", "direction": "above", "price": "99000"}})
        assert alert.status_code == 201, alert.text
        addresses = {asset: c.get(f"/api/v1/wallet/deposit-address/{asset}").json()["address"]
                     for asset in ("BTC", "ETH", "USDT")}
    deposit_id = await platform.db.fetchval(
        "INSERT INTO wallet.deposit (user_id, asset, chain, txid, vout, address, amount) "
        "VALUES ($1, 'BTC', 'bitcoin', 'aa11', 0, $2, 0.5) RETURNING id", alice.id, addresses["BTC"])
    return {"order": order.json()["order_id"] if "order_id" in order.json() else order.json()["id"],
            "client_order_id": "alice-secret-1", "withdrawal": withdrawal.json()["id"],
            "alert": alert.json()["alert_id"], "deposit": deposit_id, "addresses": addresses}


def bob_attempts(platform, r: dict[str, object]) -> list[tuple[str, str, dict]]:
    """(method, path, request kwargs) of every by-id operation, aimed at alice's resources."""
    alice = platform.alice
    return [
        ("GET", f"/api/v1/trade/orders/{r['order']}", {}),
        ("DELETE", f"/api/v1/trade/orders/{r['order']}", {}),
        ("PATCH", f"/api/v1/trade/orders/{r['order']}", {"json": {"quantity": "0.005"}}),
        ("GET", f"/api/v1/trade/orders/client/{r['client_order_id']}", {}),
        ("DELETE", f"/api/v1/trade/orders/client/{r['client_order_id']}", {}),
        ("GET", f"/api/v1/wallet/withdrawals/{r['withdrawal']}", {}),
        ("POST", f"/api/v1/wallet/withdrawals/{r['withdrawal']}/cancel", {}),
        ("GET", f"/api/v1/wallet/deposits/{r['deposit']}", {}),
        ("GET", f"/api/v1/trade/alerts/{r['alert']}", {}),
        ("DELETE", f"/api/v1/trade/alerts/{r['alert']}", {}),
        ("DELETE", f"/api/v1/auth/api-keys/{alice.api_key_id}", {}),
        ("DELETE", f"/api/v1/auth/sessions/{alice.session_id}", {}),
    ]


ADMIN_ROUTES = [
    ("GET", "/api/v1/wallet/admin/withdrawals", {}),
    ("POST", "/api/v1/wallet/admin/withdrawals/{withdrawal}/approve", {}),
    ("POST", "/api/v1/wallet/admin/withdrawals/{withdrawal}/reject", {"json": {"reason": "bola"}}),
    ("GET", "/api/v1/wallet/admin/users/{alice}/balances", {}),
    ("GET", "/api/v1/wallet/admin/users/{alice}/history", {}),
    ("POST", "/api/v1/trade/admin/markets/BTC-USDT/halt", {"json": {"reason": "bola"}}),
    ("POST", "/api/v1/trade/admin/markets/BTC-USDT/resume", {}),
    ("GET", "/api/v1/trade/admin/engines", {}),
]


def test_admin_routes_in_the_document_are_all_tried() -> None:
    import json
    from pathlib import Path

    doc = json.loads((Path(__file__).parents[2] / "docs/api/openapi.json").read_text())
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops if "/admin/" in p}
    tried = {(m, p.replace("{withdrawal}", "{withdrawal_id}").replace("{alice}", "{user_id}")
              .replace("BTC-USDT", "{symbol}")) for m, p, _ in ADMIN_ROUTES}
    assert documented == tried


async def test_bob_cannot_touch_alices_resources_by_id(platform) -> None:
    r = await alices_resources(platform)
    alice, bob = platform.alice, platform.bob
    state = "SELECT (SELECT status::text FROM trade.spot_order WHERE id = $1), " \
            "(SELECT status::text FROM wallet.withdrawal WHERE id = $2), (SELECT count(*) FROM trade.price_alert)"
    before = await platform.db.fetchrow(state, r["order"], r["withdrawal"])
    ledger = await platform.db.fetchval("SELECT count(*) FROM wallet.posting")

    bearer = platform.client(headers=bob.bearer)
    cookies = platform.client(cookies=bob.cookies, headers={"X-CSRF-Token": bob.csrf})
    for label, client in (("bearer", bearer), ("cookie", cookies)):
        for method, path, kwargs in bob_attempts(platform, r):
            answer = client.request(method, path, **kwargs)
            assert answer.status_code == 404, (label, method, path, answer.text)
            assert "alice" not in answer.text, (label, method, path, answer.text)
        for method, template, kwargs in ADMIN_ROUTES:
            path = template.format(withdrawal=r["withdrawal"], alice=alice.id)
            answer = client.request(method, path, **kwargs)
            assert answer.status_code == 403 and answer.json()["error"]["code"] == "admin_required", \
                (label, method, path, answer.text)
    # signed API-key requests on /api/v1 behave the same
    for method, path, kwargs in bob_attempts(platform, r)[:10]:
        query, headers = signed(bob, {})
        answer = platform.client().request(method, f"{path}?{query}", headers=headers, **kwargs)
        assert answer.status_code in (403, 404), (method, path, answer.text)   # 403: API keys manage no keys
    # the Binance-compatible API: bob's key, alice's order id and client order id
    for method in ("GET", "DELETE"):
        for params in ({"orderId": str(r["order"])}, {"origClientOrderId": r["client_order_id"]}):
            query, headers = signed(bob, {"symbol": "BTCUSDT", **params})
            answer = bearer.request(method, f"/api/v3/order?{query}", headers=headers)
            assert answer.status_code == 400 and answer.json()["code"] in (-2013, -2011), answer.text
    for path in ("/api/v3/openOrders", "/api/v3/allOrders", "/api/v3/myTrades"):
        query, headers = signed(bob, {"symbol": "BTCUSDT"})
        answer = bearer.get(f"{path}?{query}", headers=headers)
        assert answer.status_code == 200 and "alice-secret-1" not in answer.text, answer.text

    # bob's lists never show alice's things
    for path in ("/api/v1/trade/orders", "/api/v1/trade/orders/open", "/api/v1/wallet/withdrawals",
                 "/api/v1/wallet/deposits", "/api/v1/trade/alerts", "/api/v1/auth/api-keys",
                 "/api/v1/auth/sessions", "/api/v1/auth/security-events", "/api/v1/wallet/history"):
        answer = bearer.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert "alice" not in answer.text and alice.session_id not in answer.text, (path, answer.text)
    # deposit addresses are per user: bob never gets alice's
    for asset, address in r["addresses"].items():
        assert bearer.get(f"/api/v1/wallet/deposit-address/{asset}").json()["address"] != address

    # nothing changed for alice
    assert await platform.db.fetchrow(state, r["order"], r["withdrawal"]) == before
    assert await platform.db.fetchval("SELECT count(*) FROM wallet.posting") == ledger
    with platform.client(headers=alice.bearer) as c:
        assert c.get(f"/api/v1/trade/orders/{r['order']}").json()["status"] in ("new", "open")
        assert c.get(f"/api/v1/trade/alerts/{r['alert']}").status_code == 200
        assert c.get("/api/v1/auth/me").status_code == 200             # her session is alive
    query, headers = signed(alice, {})
    assert bearer.get(f"/api/v3/account?{query}", headers=headers).status_code == 200   # her key too
    bearer.close()
    cookies.close()
