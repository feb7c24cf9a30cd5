"""The platform plumbing through HTTP: health, error shape, request ids, security headers, body limit."""
import httpx
import pytest
from asgi_lifespan import LifespanManager

from mycrypto.apps import create_app
from mycrypto.common.http import CONTENT_SECURITY_POLICY
from tests.conftest import make_settings
from tests.support.factories import bearer, create_user


async def test_health_endpoints_report_database_and_unconfigured_dependencies(client):
    for path, service in [("/health", "all"), ("/api/v1/auth/health", "auth"),
                          ("/api/v1/wallet/health", "wallet"), ("/api/v1/trade/health", "trade")]:
        r = await client.get(path)
        assert r.status_code == 200, path
        body = r.json()
        assert body["status"] == "ok" and body["service"] == service and body["version"]
        assert body["checks"] == {"database": "ok", "cache": "not_configured", "queue": "not_configured"}
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    assert (await client.get("/health/ready")).status_code == 200


async def test_health_is_503_when_a_configured_dependency_is_down(db_dsn):
    settings = make_settings(db_dsn, redis_url="redis://127.0.0.1:1/0", amqp_url="amqp://guest:guest@127.0.0.1:1/")
    app = create_app(settings, access_log=False)
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await c.get("/api/v1/wallet/health")
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "ok", "cache": "down", "queue": "down"}


async def test_health_is_degraded_not_down_when_only_redis_is_down(db_dsn):
    """Redis holds only what has a fallback (rate limits use in-process buckets): 200, `degraded`, and why."""
    settings = make_settings(db_dsn, redis_url="redis://127.0.0.1:1/0")
    app = create_app(settings, access_log=False)
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await c.get("/health")
            metrics = (await c.get("/metrics")).text
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "degraded"
    assert body["checks"] == {"database": "ok", "cache": "down", "queue": "not_configured"}
    assert "in-memory" in body["fallbacks"]["cache"]
    assert "mycrypto_redis_up 0.0" in metrics


async def test_health_is_503_when_the_database_is_down(app, client):
    await app.state.container.db.close()  # simulate losing the database
    r = await client.get("/health")
    assert r.status_code == 503 and r.json()["checks"]["database"] == "down"
    assert (await client.get("/health/ready")).status_code == 503
    assert (await client.get("/health/live")).status_code == 200


async def test_routes_answer_503_database_unavailable_not_500_when_the_database_is_gone(app, client, db, settings):
    """One mapping (common/errors.py) for the app's routes and the trade fast path; the drill in
    tests/e2e/chaos does the same with a real PostgreSQL restart."""
    user_id = await create_user(db)
    headers = bearer(settings, user_id)
    await app.state.container.db.close()  # simulate losing the database
    answers = [
        await client.get("/api/v1/wallet/balances", headers=headers),
        await client.post("/api/v1/wallet/withdrawals", headers={**headers, "Idempotency-Key": "k-1"},
                          json={"asset": "BTC", "address": "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "amount": "0.01"}),
        await client.post("/api/v1/trade/orders", headers=headers,   # the trade fast path
                          json={"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "100", "quantity": "0.01"}),
        await client.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "whatever it is"}),
    ]
    for r in answers:
        assert r.status_code == 503, (r.request.url, r.text)
        assert r.json()["error"]["code"] == "database_unavailable", r.text
        assert r.headers["retry-after"] == "2"
    # the Binance-compatible API answers in its own dialect: 503 "server busy", not -1000/500
    r = await client.get("/api/v3/account?timestamp=1&signature=00", headers={"X-MBX-APIKEY": "A" * 64})
    assert r.status_code == 503 and r.json()["code"] == -1008, r.text


async def test_unknown_route_is_json_error_with_request_id(client):
    r = await client.get("/api/v1/nope", headers={"X-Request-ID": "abc-123"})
    assert r.status_code == 404
    assert r.headers["x-request-id"] == "abc-123"
    assert r.json() == {"error": {"code": "not_found", "message": "No such endpoint.", "request_id": "abc-123"}}


async def test_invalid_request_id_is_replaced(client):
    r = await client.get("/health/live", headers={"X-Request-ID": "bad id with spaces <script>"})
    assert r.headers["x-request-id"] != "bad id with spaces <script>"
    assert len(r.headers["x-request-id"]) == 16


async def test_security_headers_on_every_response(client):
    for path in ["/health", "/api/v1/nope", "/"]:
        r = await client.get(path)
        h = r.headers
        assert h["x-frame-options"] == "DENY"
        assert h["x-content-type-options"] == "nosniff"
        assert "strict-origin" in h["referrer-policy"]
        assert "camera=()" in h["permissions-policy"]
        assert "unsafe-inline" not in h["content-security-policy"]
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert "strict-transport-security" not in h  # plain HTTP here


async def test_hsts_only_behind_tls(db_dsn):
    settings = make_settings(db_dsn, trust_proxy_headers=True)
    app = create_app(settings, access_log=False)
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await c.get("/health/live", headers={"X-Forwarded-Proto": "https"})
    assert "max-age=" in r.headers["strict-transport-security"]


async def test_oversized_body_is_413_json(client):
    r = await client.post("/api/v1/auth/nothing-here", content=b"x" * (70 * 1024),
                          headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


async def test_openapi_document_and_docs_page(client):
    r = await client.get("/api/openapi.json")
    assert r.status_code == 200 and r.json()["info"]["title"] == "MyCrypto API"
    docs = await client.get("/api/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    assert docs.headers["content-security-policy"] == CONTENT_SECURITY_POLICY   # offline: tests/browser/test_api_docs.py


async def test_cors_allow_list(db_dsn):
    settings = make_settings(db_dsn, cors_origins=["https://app.example.com"])
    app = create_app(settings, access_log=False)
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            ok = await c.options("/health", headers={"Origin": "https://app.example.com",
                                                     "Access-Control-Request-Method": "GET"})
            bad = await c.options("/health", headers={"Origin": "https://evil.example.com",
                                                      "Access-Control-Request-Method": "GET"})
    assert ok.headers.get("access-control-allow-origin") == "https://app.example.com"
    assert "access-control-allow-origin" not in bad.headers
    assert ok.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("service", ["auth", "wallet", "trade", "frontend"])
async def test_each_service_app_starts_alone(db_dsn, service):
    app = create_app(make_settings(db_dsn), (service,), access_log=False)
    async with LifespanManager(app, startup_timeout=60):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await c.get("/health")
    assert r.status_code == 200 and r.json()["service"] == service


async def test_unhandled_error_is_500_json_and_every_log_line_is_json_with_the_request_id(db_dsn):
    """A bug answers the one error shape with the request id and security headers (no traceback to
    the client); the access log and the error log are JSON lines carrying that request id."""
    import io
    import json
    import logging

    from mycrypto.common.logging import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger("mycrypto.access"), logging.getLogger("mycrypto.errors")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    app = create_app(make_settings(db_dsn), access_log=True)

    async def boom() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/api/v1/boom", boom, methods=["GET"])
    try:
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                r = await c.get("/api/v1/boom", headers={"X-Request-ID": "req-500"})
                ok = await c.get("/health/live")
    finally:
        for lg, level in zip(loggers, levels):
            lg.removeHandler(handler)
            lg.setLevel(level)
    assert r.status_code == 500 and r.headers["x-request-id"] == "req-500"
    assert r.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.json() == {"error": {"code": "internal_error", "message": "An unexpected error occurred.",
                                  "request_id": "req-500"}}
    assert "secret internals" not in r.text
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    by_id = [line for line in lines if line.get("request_id") == "req-500"]
    assert {line["msg"] for line in by_id} == {"unhandled error", "request"}
    assert next(line for line in by_id if line["msg"] == "request")["status"] == 500
    assert "RuntimeError: secret internals" in next(line for line in by_id if line["msg"] == "unhandled error")["exc"]
    access = [line for line in lines if line["msg"] == "request" and line["path"] == "/health/live"]
    assert access and access[0]["request_id"] == ok.headers["x-request-id"] and access[0]["level"] == "info"
