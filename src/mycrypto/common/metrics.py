"""Prometheus metrics for every service: HTTP traffic, the matching engine, the database, the platform.

Everything is registered once, in prometheus_client's default registry (which also carries the
process collector: CPU seconds, resident memory, open fds), and served as text by `render()`:
at `/metrics` on the service's own port, or on a separate METRICS_PORT (the Kubernetes manifests
use 9102 so the public ingress never routes to it; docs/operations.md).

Cost on the hot path matters (the order path does > 2,000 requests/s on two cores), so:
- `MetricsMiddleware` labels by ROUTE TEMPLATE (`/api/v1/trade/orders/{order_id}`), never the raw
  path, so the number of series is bounded by the routes, and caches the labelled children per
  (route, method, status): one counter `inc` and one histogram `observe` per request;
- engine numbers that already exist (batches, commands, seconds per phase) are read at scrape time
  by a collector, costing nothing per order; one hook per committed BATCH counts orders and trades;
- database-backed gauges (outbox lag, withdrawal queue, users, the last integrity run) are
  refreshed by `refresh_platform(container)` at most every PLATFORM_TTL_S, on scrape.

Metrics defined here for other packages to set: `WEBSOCKET_CLIENTS` (the streams package sets it
as clients connect and leave).
"""
from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable
from typing import Any

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram,
                               generate_latest)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ..db.database import observe_transactions

log = logging.getLogger("mycrypto.metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.5, 5.0, 10.0)
KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
UNMATCHED = "<unmatched>"
# Paths the trade service answers in its ASGI fast path (trading/fastpath.py), before any route
# matched: (prefix or exact path, template). Everything else that matched no route is UNMATCHED.
FAST_PATH_TEMPLATES: tuple[tuple[str, bool, str], ...] = (
    ("/api/v1/trade/orders", True, "/api/v1/trade/orders"),
    ("/api/v1/orderbook/", False, "/api/v1/orderbook/{symbol}"),
    ("/api/v1/trade/ping-constant", True, "/api/v1/trade/ping-constant"),
)
ERROR_CODE_KEY = "mycrypto.error_code"   # set in the ASGI scope by common.errors.error_response
PLATFORM_TTL_S = 10.0

# ------------------------------------------------------------------------------------------ HTTP
HTTP_REQUESTS = Counter("mycrypto_http_requests", "HTTP requests answered, by route template and status.",
                        ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram("mycrypto_http_request_duration_seconds",
                         "Time from the request's arrival to the end of its response, by route template.",
                         ["service", "method", "route"], buckets=LATENCY_BUCKETS)
HTTP_ERRORS = Counter("mycrypto_http_errors", "Error responses (4xx/5xx) by the stable error code of their body.",
                      ["service", "status", "code"])
RATE_LIMIT_FALLBACKS = Counter("mycrypto_rate_limit_fallbacks",
                               "Rate-limit decisions taken by in-process buckets because Redis failed or is "
                               "being skipped after a failure (docs/operations.md, Fault drills).")
REDIS_UP = Gauge("mycrypto_redis_up", "1 when Redis (REDIS_URL) answered the last rate-limit hit or health check, "
                 "0 when it failed (the rate limiter then uses in-process buckets).")
RATE_LIMITED = Counter("mycrypto_rate_limit_hits", "Requests refused by a rate limit (HTTP 429), by route.",
                       ["service", "route"])

# ------------------------------------------------------------------------------------------ trade
ORDERS_PLACED = Counter("mycrypto_trade_orders_placed", "Orders accepted and committed.", ["market"])
ORDERS_CANCELLED = Counter("mycrypto_trade_orders_cancelled", "Orders cancelled by their owner (committed).",
                           ["market"])
ORDERS_REFUSED = Counter("mycrypto_trade_commands_refused",
                         "Order commands the engine refused (funds, rules, not found ...).", ["market"])
TRADES = Counter("mycrypto_trade_trades", "Trades (matches) committed.", ["market"])
BATCH_SIZE = Histogram("mycrypto_trade_batch_commands", "Commands per group commit (one transaction).",
                       ["market"], buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000))

# ------------------------------------------------------------------------------------------ others
WEBSOCKET_CLIENTS = Gauge("mycrypto_websocket_clients", "Connected WebSocket clients (set by the streams package).",
                          ["stream"])
DB_TRANSACTION = Histogram("mycrypto_db_transaction_seconds", "Duration of units of work (BEGIN..COMMIT/ROLLBACK).",
                           buckets=LATENCY_BUCKETS)
observe_transactions(DB_TRANSACTION.observe)   # db/database.py reports each unit of work's duration

_last_commit: dict[str, float] = {}   # market symbol -> time.time() of its last committed batch


def last_commit_age(symbol: str) -> float | None:
    """Seconds since `symbol`'s engine last committed a batch in this process (None: never)."""
    at = _last_commit.get(symbol)
    return None if at is None else max(0.0, time.time() - at)


def batch_committed(symbol: str, cmds: list, outcomes: list, trades: int) -> None:
    """Called by the market's sequencer once per acknowledged batch (trading/engine/commit.py)."""
    _last_commit[symbol] = time.time()
    placed = cancelled = refused = 0
    for cmd, outcome in zip(cmds, outcomes):
        kind = type(cmd).__name__
        if isinstance(outcome, BaseException):
            refused += 1
        elif kind == "Place":
            placed += type(outcome).__name__ != "Duplicate"   # a replayed client order id places nothing
        elif kind == "Cancel":
            cancelled += 1
        elif kind == "CancelAll":
            cancelled += len(outcome) if isinstance(outcome, list) else 0
    if placed:
        ORDERS_PLACED.labels(symbol).inc(placed)
    if cancelled:
        ORDERS_CANCELLED.labels(symbol).inc(cancelled)
    if refused:
        ORDERS_REFUSED.labels(symbol).inc(refused)
    if trades:
        TRADES.labels(symbol).inc(trades)
    BATCH_SIZE.labels(symbol).observe(len(cmds))


# ------------------------------------------------------------------------------------------ middleware
def route_template(scope: dict) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)   # without ":int" convertors
    if isinstance(path, str):
        return path
    raw = scope.get("path", "")
    for prefix, exact, template in FAST_PATH_TEMPLATES:
        if (raw == prefix) if exact else raw.startswith(prefix):
            return template
    return UNMATCHED


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
                 422: "validation_error", 429: "rate_limited", 500: "internal_error", 503: "service_unavailable"}


class MetricsMiddleware:
    """Outermost ASGI layer: counts every HTTP response and times it, by route template."""

    def __init__(self, app: Any, *, service: str) -> None:
        self.app = app
        self.service = service
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self._observe(scope, status or 500, time.perf_counter() - started)

    def _observe(self, scope: dict, status: int, seconds: float) -> None:
        route = route_template(scope)
        method = scope.get("method", "GET")
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            label_method = method if method in KNOWN_METHODS else "other"
            children = (HTTP_REQUESTS.labels(self.service, label_method, route, str(status)),
                        HTTP_LATENCY.labels(self.service, label_method, route))
            if len(self._children) < 20_000:   # bounded: routes x methods x statuses
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if status >= 400:
            code = scope.get(ERROR_CODE_KEY)
            if not isinstance(code, str):
                code = _STATUS_CODES.get(status, f"http_{status}")
            HTTP_ERRORS.labels(self.service, str(status), code[:64]).inc()
            if status == 429:
                RATE_LIMITED.labels(self.service, route).inc()


def record_error_code(scope: dict | None, code: Any) -> None:
    """Remember the stable error code of the response being sent (counted by MetricsMiddleware)."""
    if scope is not None and code is not None:
        scope[ERROR_CODE_KEY] = str(code)


# ------------------------------------------------------------------------------------------ collectors
class EngineCollector:
    """Reads the matching engines' own counters at scrape time (nothing on the order path).

    `source()` returns the running EngineRegistry or None (no trade service in this process)."""

    def __init__(self) -> None:
        self.sources: list[Callable[[], Any]] = []

    def collect(self) -> Any:
        batches = CounterMetricFamily("mycrypto_trade_batches", "Group commits acknowledged.", labels=["market"])
        commands = CounterMetricFamily("mycrypto_trade_engine_commands", "Commands processed by the engine.",
                                       labels=["market"])
        retries = CounterMetricFamily("mycrypto_trade_batch_retries", "Batches refused by the database and replayed.",
                                      labels=["market"])
        failed = CounterMetricFamily("mycrypto_trade_batch_failures", "Batches given up (clients got 503).",
                                     labels=["market"])
        phase = CounterMetricFamily("mycrypto_trade_engine_seconds",
                                    "Engine time per phase: read (balances), match (matching + encoding), write "
                                    "(commit). match/batches = mean match latency per batch.",
                                    labels=["market", "phase"])
        queued = GaugeMetricFamily("mycrypto_trade_queue_depth", "Commands waiting for the sequencer.", labels=["market"])
        owned = GaugeMetricFamily("mycrypto_trade_markets_owned", "Markets whose engine runs in this process.")
        known = GaugeMetricFamily("mycrypto_trade_markets_known", "Markets this process knows (each needs one owner).")
        alive = GaugeMetricFamily("mycrypto_trade_sequencer_up", "1 while the market's sequencer task runs.",
                                  labels=["market"])
        age = GaugeMetricFamily("mycrypto_trade_last_commit_age_seconds",
                                "Seconds since the market's engine last committed a batch here.", labels=["market"])
        n_owned = n_known = 0
        for source in list(self.sources):
            try:
                registry = source()
            except Exception:
                registry = None
            if registry is None:
                continue
            n_known = max(n_known, len(getattr(registry, "specs", {})))
            for engine in list(getattr(registry, "engines", {}).values()):
                symbol = engine.spec.symbol
                stats, timings = dict(engine.stats), dict(engine.timings)
                n_owned += 1
                batches.add_metric([symbol], stats.get("batches", 0))
                commands.add_metric([symbol], stats.get("commands", 0))
                retries.add_metric([symbol], stats.get("retries", 0))
                failed.add_metric([symbol], stats.get("failed_batches", 0))
                for name, seconds in timings.items():
                    phase.add_metric([symbol, name], seconds)
                queued.add_metric([symbol], len(getattr(engine, "_queue", ())))
                alive.add_metric([symbol], 1 if getattr(engine, "sequencer_alive", False) else 0)
                seconds_since = last_commit_age(symbol)
                if seconds_since is not None:
                    age.add_metric([symbol], seconds_since)
        owned.add_metric([], n_owned)
        known.add_metric([], n_known)
        yield from (batches, commands, retries, failed, phase, queued, owned, known, alive, age)


ENGINES = EngineCollector()
REGISTRY.register(ENGINES)


def watch_engines(source: Callable[[], Any]) -> Callable[[], None]:
    """Report the engines of `source()` (the trade service calls this at start); returns the undo."""
    ENGINES.sources.append(source)
    return lambda: ENGINES.sources.remove(source) if source in ENGINES.sources else None


# ------------------------------------------------------------------------------------------ platform
DB_UP = Gauge("mycrypto_db_up", "1 when this process's database pool answers SELECT 1.")
DB_PING = Gauge("mycrypto_db_ping_seconds", "Round trip of SELECT 1 on the pool (seconds).")
DB_POOL = Gauge("mycrypto_db_pool_connections", "Database pool connections by state (in_use, idle, max).",
                ["state"])
OUTBOX_PENDING = Gauge("mycrypto_outbox_pending", "Outbox rows not yet relayed.")
OUTBOX_LAG = Gauge("mycrypto_outbox_lag_seconds", "Age of the oldest outbox row not yet relayed (0 when empty).")
WITHDRAWALS = Gauge("mycrypto_withdrawals_open", "Withdrawals waiting, by status.", ["status"])
WITHDRAWAL_AGE = Gauge("mycrypto_withdrawal_oldest_age_seconds",
                       "Age of the oldest withdrawal in each waiting status (0 when none).", ["status"])
USERS = Gauge("mycrypto_users", "Registered users.")
INTEGRITY_OK = Gauge("mycrypto_ledger_verify_ok",
                     "1 if the last recorded `mycrypto integrity --record` passed, 0 if it failed, -1 if none.")
INTEGRITY_PROBLEMS = Gauge("mycrypto_ledger_verify_problems", "Discrepancies found by the last recorded integrity run.")
INTEGRITY_AT = Gauge("mycrypto_ledger_verify_timestamp_seconds", "Unix time of the last recorded integrity run.")

_PLATFORM_SQL = """
SELECT (SELECT count(*) FROM auth.app_user) AS users,
       (SELECT count(*) FROM ops.outbox WHERE sent_at IS NULL) AS outbox_pending,
       (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM ops.outbox
         WHERE sent_at IS NULL) AS outbox_lag,
       (SELECT coalesce(jsonb_object_agg(status, jsonb_build_array(n, age)), '{}'::jsonb) FROM (
            SELECT status::text, count(*) AS n,
                   extract(epoch FROM now() - min(coalesce(CASE status WHEN 'approved' THEN approved_at
                                                                        WHEN 'broadcast' THEN broadcast_at END,
                                                               requested_at)))::float8 AS age
              FROM wallet.withdrawal WHERE status IN ('requested', 'approved', 'broadcast') GROUP BY status) w
       ) AS withdrawals,
       (SELECT jsonb_build_array(ok, problems, extract(epoch FROM finished_at)::float8)
          FROM ops.integrity_run ORDER BY id DESC LIMIT 1) AS integrity
"""
# database -> when its gauges were last refreshed (per database: tests run many apps in one process)
_refreshed: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


async def refresh_platform(container: Any, *, force: bool = False) -> None:
    """Update the database-backed gauges (at most every PLATFORM_TTL_S unless forced)."""
    db = container.db
    now = time.monotonic()
    if not force and now - _refreshed.get(db, -1e9) < PLATFORM_TTL_S:
        return
    _refreshed[db] = now
    pool = getattr(db, "pool", None)
    if pool is not None:
        size, idle = pool.get_size(), pool.get_idle_size()
        DB_POOL.labels("in_use").set(size - idle)
        DB_POOL.labels("idle").set(idle)
        DB_POOL.labels("max").set(pool.get_max_size())
    started = time.perf_counter()
    up = await db.ping()
    DB_UP.set(1 if up else 0)
    if not up:
        return
    DB_PING.set(time.perf_counter() - started)
    try:
        row = await db.fetchrow(_PLATFORM_SQL)
    except Exception:  # e.g. an old schema without ops.integrity_run: the other gauges still count
        log.warning("platform metrics query failed", exc_info=True)
        return
    USERS.set(row["users"])
    OUTBOX_PENDING.set(row["outbox_pending"])
    OUTBOX_LAG.set(float(row["outbox_lag"]))
    waiting = row["withdrawals"] or {}
    for status in ("requested", "approved", "broadcast"):
        n, age = waiting.get(status, (0, 0.0))
        WITHDRAWALS.labels(status).set(n)
        WITHDRAWAL_AGE.labels(status).set(age or 0.0)
    integrity = row["integrity"]
    if integrity is None:
        INTEGRITY_OK.set(-1)
    else:
        INTEGRITY_OK.set(1 if integrity[0] else 0)
        INTEGRITY_PROBLEMS.set(integrity[1])
        INTEGRITY_AT.set(integrity[2])


def render() -> bytes:
    """The Prometheus text exposition of everything registered in this process."""
    return generate_latest(REGISTRY)
