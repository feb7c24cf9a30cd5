"""The ASGI fast path answers like the FastAPI routes: same bodies, same errors, platform headers."""
from tests.e2e.trading.kit import make_trader, place_ok


async def test_fast_path_keeps_platform_headers_and_error_shape(client, db, settings):
    r = await client.get("/api/v1/trade/ping-constant", headers={"X-Request-ID": "abc-1"})
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["x-request-id"] == "abc-1" and r.headers["x-frame-options"] == "DENY"
    assert r.headers["content-type"] == "application/json"
    r = await client.get("/api/v1/orderbook/BTC-USDT?depth=1", headers={"X-Request-ID": "abc-2"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "abc-2" and "content-security-policy" in r.headers
    r = await client.get("/api/v1/orderbook/BTC-USDT?depth=abc", headers={"X-Request-ID": "abc-3"})
    assert r.status_code == 400 and r.json()["error"] == {"code": "invalid_depth", "message": r.json()["error"]["message"],
                                                          "request_id": "abc-3"}
    r = await client.get("/api/v1/orderbook/BTC-USDT/extra")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await client.post("/api/v1/trade/orders", content=b"x" * 70000, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    u = await make_trader(db, settings, {"USDT": "1000"})
    o = await place_ok(client, u, side="buy", type="limit", price="100", quantity="0.1")
    assert o["status"] == "new"
    # the documented FastAPI routes and the fast path give the same book
    ob = (await client.get("/api/v1/orderbook/BTC-USDT?depth=5")).json()
    assert ob["bids"] == [["100", "0.1"]]
    doc = (await client.get("/api/openapi.json")).json()
    assert "/api/v1/trade/orders" in doc["paths"] and "/api/v1/orderbook/{symbol}" in doc["paths"]
