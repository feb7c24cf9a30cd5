"""OWASP API8 (security misconfiguration): security headers and CORS on every route.

Every operation of the OpenAPI document, the web app and its static files, the API reference, /metrics,
the health probes, an unknown path, a wrong method and an early rejection (413) all carry the security
headers. CORS: an allow-listed origin gets its own origin back (never `*`), any other origin gets no
Access-Control-Allow-* header at all - on a preflight and on the real request, on every route.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.security.conftest import start_platform

DOC = json.loads((Path(__file__).parents[2] / "docs/api/openapi.json").read_text())
ALLOWED_ORIGIN = "https://app.mycrypto.example"
EVIL_ORIGIN = "https://evil.example"
REQUIRED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
}
EXTRA_ROUTES = [("GET", "/"), ("GET", "/app"), ("GET", "/app/trade/BTC-USDT"), ("GET", "/static/app.css"),
                ("GET", "/favicon.ico"), ("GET", "/api/docs"), ("GET", "/api/docs/init.js"),
                ("GET", "/api/openapi.json"), ("GET", "/metrics"), ("GET", "/health"), ("GET", "/health/live"),
                ("GET", "/health/ready"), ("GET", "/no/such/path"), ("PUT", "/api/v1/wallet/balances"),
                ("GET", "/api/v3/nothing"), ("GET", "/sapi/v1/capital/config/getall")]


@pytest.fixture
async def cors_platform(db, db_dsn):
    p = await start_platform(db, db_dsn, rate_limits_enabled=False, cors_origins=[ALLOWED_ORIGIN])
    try:
        yield p
    finally:
        p.server.stop()


def every_route(platform) -> list[tuple[str, str]]:
    fill = {"symbol": "BTC-USDT", "asset": "BTC", "name": "sma", "user_id": str(platform.alice.id)}
    routes = []
    for path, operations in DOC["paths"].items():
        concrete = re.sub(r"\{(\w+)\}", lambda m: fill.get(m.group(1), "1"), path)
        routes += [(method.upper(), concrete) for method in operations]
    return routes + EXTRA_ROUTES


def check_headers(r, where) -> None:
    for name, value in REQUIRED.items():
        assert r.headers.get(name) == value, (where, r.status_code, name, dict(r.headers))
    csp = r.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, (where, csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, (where, csp)
    assert "permissions-policy" in r.headers and re.fullmatch(r"[0-9a-f]{16}|[A-Za-z0-9._:-]{1,64}",
                                                               r.headers.get("x-request-id", "")), where
    assert "x-powered-by" not in r.headers, where


async def test_security_headers_and_cors_on_every_route(cors_platform) -> None:
    p = cors_platform
    routes = every_route(p)
    assert len(routes) >= 100
    with p.client(headers=p.alice.bearer) as c:
        for method, path in routes:
            for origin in (ALLOWED_ORIGIN, EVIL_ORIGIN):
                r = c.request(method, path, headers={"Origin": origin})
                assert r.status_code < 500, (method, path, r.text[:200])
                check_headers(r, (method, path))
                allow = r.headers.get("access-control-allow-origin")
                if origin == EVIL_ORIGIN:   # (a lone Allow-Credentials without Allow-Origin grants nothing)
                    assert allow is None, (method, path, dict(r.headers))
                else:
                    assert allow == ALLOWED_ORIGIN, (method, path, dict(r.headers))
            for origin in (ALLOWED_ORIGIN, EVIL_ORIGIN):
                pre = c.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                               "Access-Control-Request-Headers": "authorization,content-type"})
                check_headers(pre, ("OPTIONS", path))
                allow = pre.headers.get("access-control-allow-origin")
                if origin == EVIL_ORIGIN:
                    assert allow is None and pre.status_code in (400, 403, 404, 405), (path, pre.status_code,
                                                                                       dict(pre.headers))
                else:
                    assert allow == ALLOWED_ORIGIN and pre.status_code == 200, (path, dict(pre.headers))
        # early rejections (PlatformMiddleware answers before any route) carry them too
        r = c.post("/api/v1/trade/orders", content=b"x" * (70 * 1024), headers={"content-type": "application/json"})
        assert r.status_code == 413
        check_headers(r, "413")


async def test_no_cors_at_all_without_an_allow_list(platform) -> None:
    with platform.client() as c:
        for method, path in every_route(platform)[:40] + EXTRA_ROUTES:
            r = c.request(method, path, headers={"Origin": EVIL_ORIGIN})
            check_headers(r, (method, path))
            assert not any(h.startswith("access-control-") for h in r.headers), (method, path, dict(r.headers))
