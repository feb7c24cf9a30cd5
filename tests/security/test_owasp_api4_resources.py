"""OWASP API4 (unrestricted resource consumption): rate limits on every route family, pagination caps,
the body size limit (declared and streamed), and absurd numbers refused without work.
"""
from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.security.conftest import start_platform

DOC = json.loads((Path(__file__).parents[2] / "docs/api/openapi.json").read_text())
MAX_BODY = 64 * 1024
# Each family's cheapest representative, anonymous and signed in. A family is limited when hammering its
# representative ends in 429 + Retry-After within BUDGET requests (the limits are per minute or per
# second; none allows more than a few hundred requests in a burst).
FAMILIES = [
    ("auth", "POST", "/api/v1/auth/login", False, {"json": {"email": "x@example.com", "password": "wrong"}}),
    ("auth", "GET", "/api/v1/auth/me", True, {}),
    ("wallet", "GET", "/api/v1/wallet/assets", False, {}),
    ("wallet", "GET", "/api/v1/wallet/balances", True, {}),
    ("trade", "GET", "/api/v1/trade/ticker", False, {}),
    ("trade", "GET", "/api/v1/orderbook/BTC-USDT", False, {}),
    ("trade", "GET", "/api/v1/trade/orders/open", True, {}),
    ("trade", "POST", "/api/v1/trade/orders", True, {"json": {"symbol": "BTC-USDT", "side": "buy", "type": "limit",
                                                               "price": "1", "quantity": "0.00000001"}}),
    ("alerts", "GET", "/api/v1/trade/alerts", True, {}),
    ("marketdata", "GET", "/api/v1/trade/indicators", False, {}),
    ("binance", "GET", "/api/v3/exchangeInfo", False, {}),
    ("binance", "GET", "/api/v3/account", True, {}),
    ("web", "GET", "/web/config", False, {}),
    ("site", "GET", "/static/app.css", False, {}),
    ("site", "GET", "/", False, {}),
]
# The suite's platform runs with small limits (the defaults are generous flood guards - common/
# requestlimits.py - and would take thousands of requests per family): 2 per second, burst 30.
SMALL = {family: (2, 30) for family in ("auth", "wallet", "trade", "binance", "web", "site")}
BUDGET = 120


@pytest.fixture
async def limited(db, db_dsn):
    p = await start_platform(db, db_dsn, rate_limits_enabled=True, request_limits=SMALL,
                             request_limits_per_ip=SMALL)
    try:
        yield p
    finally:
        p.server.stop()


async def test_every_route_family_answers_429_over_its_limit(limited) -> None:
    p = limited
    unlimited = []
    with httpx.Client(base_url=p.url, timeout=30, limits=httpx.Limits(max_keepalive_connections=4)) as c:
        for family, method, path, authed, kwargs in FAMILIES:
            headers = p.bob.bearer if authed else {}
            for n in range(BUDGET):
                r = c.request(method, path, headers=headers, **kwargs)
                assert r.status_code < 500, (path, r.text)
                if r.status_code == 429:
                    assert int(r.headers["Retry-After"]) >= 1, (path, r.headers)
                    body = r.json()
                    assert body.get("error", {}).get("code") == "rate_limited" or body.get("code") == -1003, body
                    break
            else:
                unlimited.append(f"{family}: {method} {path}")
    assert not unlimited, f"no 429 within {BUDGET} requests: {unlimited}"


def _limit_params() -> list[tuple[str, str]]:
    found = []
    for path, operations in DOC["paths"].items():
        if path.startswith("/api/v3"):   # Binance's rules: below
            continue
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                if param["in"] == "query" and param["name"] in ("limit", "depth"):
                    found.append((path, param["name"]))
    return found


async def test_pagination_is_capped(platform) -> None:
    paths = _limit_params()
    assert len(paths) >= 12, paths
    fill = {"{symbol}": "BTC-USDT", "{user_id}": str(platform.alice.id), "{name}": "sma"}
    with platform.client(headers=platform.admin.bearer) as c:
        for path, name in paths:
            for key, value in fill.items():
                path = path.replace(key, value)
            extra = {"symbol": "BTC-USDT"} if "indicators" in path else {}
            for absurd in ("100000", "99999999999999999999999", "-1", "0"):
                r = c.get(path, params={name: absurd, **extra})
                assert r.status_code in (400, 422), (path, absurd, r.status_code, r.text[:200])
        # /api/v3 follows Binance: an over-large limit is truncated to the maximum (depth 5000, others 1000)
        # or refused; an absurd one is refused
        for path in ("/api/v3/depth", "/api/v3/trades", "/api/v3/klines", "/api/v3/aggTrades"):
            r = c.get(path, params={"symbol": "BTCUSDT", "interval": "1m", "limit": "100000"})
            assert r.status_code in (200, 400), (path, r.text)
            r = c.get(path, params={"symbol": "BTCUSDT", "interval": "1m", "limit": "99999999999999999999999"})
            assert r.status_code == 400, (path, r.text)


async def test_bodies_over_the_limit_are_refused_before_work(platform) -> None:
    big = json.dumps({"email": "a@example.com", "password": "x" * (MAX_BODY + 10)})
    with platform.client(headers=platform.alice.bearer) as c:
        for path in ("/api/v1/auth/login", "/api/v1/wallet/withdrawals", "/api/v1/trade/orders",
                     "/api/v1/trade/alerts", "/api/v3/order"):
            r = c.post(path, content=big, headers={"content-type": "application/json"})
            assert r.status_code == 413, (path, r.status_code, r.text[:200])
            assert r.json()["error"]["code"] == "payload_too_large"

        def chunks():   # no Content-Length: the limit counts the streamed bytes
            for _ in range(20):
                yield b"x" * 8192

        r = c.post("/api/v1/trade/orders", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413, r.text[:200]
    # the server is fine afterwards
    with platform.client() as c:
        assert c.get("/health/live").status_code == 200


async def test_ids_beyond_bigint_are_refused_not_500(platform) -> None:
    """Found by scripts/fuzz-api: before_id and key_id over 2**63 reached PostgreSQL and answered 500."""
    with platform.client(headers=platform.alice.bearer) as c:
        for method, path in (("GET", "/api/v1/auth/security-events?before_id=245888717215104064115140220780806144"),
                             ("DELETE", "/api/v1/auth/api-keys/22384303194748699541504")):
            r = c.request(method, path)
            assert r.status_code == 422, (path, r.text)
