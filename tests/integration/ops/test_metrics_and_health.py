"""/metrics and the health endpoints on the real app: bounded labels, real counts, readiness that means it."""
from __future__ import annotations

import asyncio
import re

import httpx
from asgi_lifespan import LifespanManager

from mycrypto.apps import create_app
from mycrypto.notify.worker import run_notifier
from tests.conftest import make_settings
from tests.e2e.trading.kit import make_trader, place_ok
from tests.support.services import free_port


def _value(text: str, name: str, **labels: str) -> float:
    """The sample `name{labels...}` (labels in any order, others allowed) or 0."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_metrics_count_requests_by_route_template_errors_by_code_and_trading(app, client, db, settings):
    seller = await make_trader(db, settings, {"BTC": "1"})
    buyer = await make_trader(db, settings, {"USDT": "100000"})
    before = (await client.get("/metrics")).text
    await place_ok(client, seller, side="sell", price="30000", quantity="0.01")
    taker = await place_ok(client, buyer, side="buy", price="30000", quantity="0.01")
    assert taker["status"] == "filled"
    await client.get(f"/api/v1/trade/orders/{taker['order_id']}", headers=buyer.headers)
    await client.get("/api/v1/trade/orders/987654321", headers=buyer.headers)   # 404 order_not_found
    await client.get("/no/such/path/secret-token-123")                          # unmatched
    await client.post("/api/v1/trade/orders", content=b"{nope", headers={**buyer.headers,
                                                                         "content-type": "application/json"})
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text

    def delta(name: str, **labels: str) -> float:   # counters are per process: other tests count too
        return _value(text, name, **labels) - _value(before, name, **labels)

    assert delta("mycrypto_http_requests_total", route="/api/v1/trade/orders", method="POST", status="201") == 2
    assert delta("mycrypto_http_requests_total", route="/api/v1/trade/orders/{order_id}", status="200") == 1
    assert delta("mycrypto_http_requests_total", route="/api/v1/trade/orders/{order_id}", status="404") == 1
    assert delta("mycrypto_http_requests_total", route="<unmatched>", status="404") == 1
    assert "secret-token-123" not in text and "987654321" not in text, "raw paths must never become labels"
    assert delta("mycrypto_http_request_duration_seconds_count", route="/api/v1/trade/orders") == 3
    assert delta("mycrypto_http_errors_total", code="malformed_json", status="422") == 1
    assert delta("mycrypto_http_errors_total", status="404") == 2
    assert delta("mycrypto_trade_orders_placed_total", market="BTC-USDT") == 2
    assert delta("mycrypto_trade_trades_total", market="BTC-USDT") == 1
    assert _value(text, "mycrypto_trade_batches_total", market="BTC-USDT") >= 1
    assert _value(text, "mycrypto_trade_batch_commands_count", market="BTC-USDT") >= 1
    assert _value(text, "mycrypto_trade_markets_owned") == 3 and _value(text, "mycrypto_trade_markets_known") == 3
    assert _value(text, "mycrypto_trade_sequencer_up", market="ETH-BTC") == 1
    assert _value(text, "mycrypto_db_up") == 1 and _value(text, "mycrypto_db_pool_connections", state="max") == 5
    assert _value(text, "mycrypto_users") == 2
    assert _value(text, "mycrypto_ledger_verify_ok") == -1   # no integrity run recorded yet
    assert "mycrypto_websocket_clients" in text and "process_resident_memory_bytes" in text
    labels = set(re.findall(r'route="([^"]*)"', text))
    assert all(label.startswith("/") or label == "<unmatched>" for label in labels)


async def test_trade_health_reports_engines_and_readiness_fails_when_a_sequencer_dies(app, client, db, settings):
    r = await client.get("/api/v1/trade/health")
    assert r.status_code == 200
    engine = r.json()["engine"]
    assert engine["markets_owned"] == ["BTC-USDT", "ETH-BTC", "ETH-USDT"]
    assert engine["markets_without_owner"] == [] and engine["engines_enabled"] is True
    assert all(m["sequencer_alive"] and m["accepting"] for m in engine["markets"].values())
    trader = await make_trader(db, settings, {"USDT": "1000"})
    await place_ok(client, trader, side="buy", price="1000", quantity="0.01")
    after = (await client.get("/api/v1/trade/health")).json()["engine"]["markets"]["BTC-USDT"]
    assert after["last_commit_age_s"] is not None and after["last_commit_age_s"] < 30 and after["open_orders"] == 1
    assert (await client.get("/health/ready")).status_code == 200

    # the ETH-BTC sequencer dies (as if cancelled by a bug): this replica can no longer do its job
    registry = app.state.container.trade_registry
    victim = next(e for e in registry.engines.values() if e.spec.symbol == "ETH-BTC")
    victim._task.cancel()
    await asyncio.sleep(0.05)
    r = await client.get("/api/v1/trade/health")
    assert r.status_code == 503 and r.json()["status"] == "unavailable"
    assert r.json()["engine"]["problems"] == ["ETH-BTC: sequencer stopped"]
    ready = await client.get("/health/ready")
    assert ready.status_code == 503 and ready.json() == {"status": "unavailable", "failing": ["trade"]}
    assert (await client.get("/health/live")).status_code == 200   # alive: the probe restarts nothing yet
    metrics = (await client.get("/metrics")).text
    assert _value(metrics, "mycrypto_trade_sequencer_up", market="ETH-BTC") == 0


async def test_metrics_port_serves_metrics_off_the_public_port(db_dsn):
    port = free_port()
    settings = make_settings(db_dsn, metrics_port=port)
    app = create_app(settings, ("auth",), access_log=False)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as public:
            assert (await public.get("/metrics")).status_code == 404
            await public.get("/api/v1/auth/health")
        async with httpx.AsyncClient() as internal:
            r = await internal.get(f"http://127.0.0.1:{port}/metrics")
            assert r.status_code == 200
            assert 'route="/api/v1/auth/health"' in r.text and 'service="auth"' in r.text
            assert (await internal.get(f"http://127.0.0.1:{port}/health")).status_code == 404
    async with httpx.AsyncClient() as internal:   # stopped with the app
        try:
            await internal.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
            raise AssertionError("the metrics listener outlived the app")
        except httpx.ConnectError:
            pass


async def test_notifier_health_and_metrics(db_dsn, tmp_path):
    port = free_port()
    settings = make_settings(db_dsn, data_dir=tmp_path, notifier_in_process=False)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_notifier(settings, stop=stop, ready=ready, health_port=port))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            assert (await c.get("/health/live")).json() == {"status": "ok"}
            assert (await c.get("/health/ready")).status_code == 200
            body = (await c.get("/health")).json()
            assert body["service"] == "notifier" and body["checks"] == {"database": "ok", "relay": "ok",
                                                                        "queue": "not_configured"}
            metrics = await c.get("/metrics")
            assert metrics.status_code == 200 and "mycrypto_outbox_lag_seconds" in metrics.text
            assert (await c.get("/nope")).status_code == 404
            assert (await c.post("/health")).status_code == 405
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_notifier_is_not_ready_while_rabbitmq_is_unreachable(db_dsn, tmp_path):
    port = free_port()
    settings = make_settings(db_dsn, data_dir=tmp_path, notifier_in_process=False,
                             amqp_url=f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    stop = asyncio.Event()
    task = asyncio.create_task(run_notifier(settings, stop=stop, ready=asyncio.Event(), health_port=port))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            for _ in range(100):
                try:
                    r = await c.get("/health")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
            assert r.status_code == 503 and r.json()["checks"]["queue"] == "down"
            assert (await c.get("/health/ready")).status_code == 503
            assert (await c.get("/health/live")).status_code == 200
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
