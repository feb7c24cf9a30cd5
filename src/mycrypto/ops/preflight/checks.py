"""The go/no-go checks of `mycrypto preflight`, each an async function of the context returning lines.

A check never raises for what it finds: an unreachable service, a missing header or a failed
verification is a NO-GO line with the reason; what it could not look at is a NOT_RUN line.
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from .. import loadgen, loadstats
from .result import CheckResult, go, no_go, not_run

# service -> health path (the same paths apps.py serves; the frontend has none, its page is checked)
SERVICE_HEALTH = {"auth": "/api/v1/auth/health", "wallet": "/api/v1/wallet/health",
                  "trade": "/api/v1/trade/health"}
REQUIRED_HEADERS = {
    "x-frame-options": lambda v: v.upper() in ("DENY", "SAMEORIGIN"),
    "x-content-type-options": lambda v: v.lower() == "nosniff",
    "referrer-policy": lambda v: bool(v),
    "permissions-policy": lambda v: bool(v),
    "content-security-policy": lambda v: "unsafe-inline" not in _directive(v, "script-src")
    and "frame-ancestors" in v,
}
PROBE_ORIGIN = "https://preflight-probe.invalid"   # an origin no deployment allows
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class PreflightOptions:
    database: bool = True                  # migrations and verify need DATABASE_URL (or the embedded one)
    expect_registration: str | None = None  # "open" | "closed" | None (report the state only)
    allowed_origin: str | None = None       # a browser origin the deployment must allow (CORS)
    load_seconds: float = 5.0
    load_rps: float = 1000.0
    load_conns: int = 32
    sla_p95_ms: float = 200.0
    book_p50_ms: float = 50.0
    book_p95_ms: float = 100.0
    max_error_rate: float = 0.0
    timeout_s: float = 5.0
    smoke_accounts: tuple[tuple[str, str], tuple[str, str]] | None = None  # from `mycrypto smoke provision`
    alert_rules: str | None = None          # default: deploy/monitoring/alerts.yml of this checkout


@dataclass
class PreflightContext:
    base_url: str
    options: PreflightOptions
    settings: Any = None                   # Settings with a usable database_url, when options.database
    http: httpx.AsyncClient | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        assert self.http is not None
        return await self.http.get(path, **kw)


def _directive(csp: str, name: str) -> str:
    for part in csp.split(";"):
        if part.strip().startswith(name + " ") or part.strip() == name:
            return part
    return _directive(csp, "default-src") if name != "default-src" else ""


def _unreachable(exc: Exception) -> str:
    if isinstance(exc, httpx.ConnectError | ConnectionRefusedError):
        return "unreachable: nothing accepts connections there (stopped, or wrong host/port)"
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "unreachable: no answer in time"
    return f"unreachable: {(str(exc) or type(exc).__name__)[:160]}"


# --------------------------------------------------------------------------------------------- database
async def _with_db(ctx: PreflightContext, fn: Any) -> Any:
    from ...db.database import connect_once

    conn = await connect_once(ctx.settings.database_url)
    try:
        return await fn(conn)
    finally:
        await conn.close()


def _db_missing(ctx: PreflightContext, check: str, item: str) -> CheckResult | None:
    if not ctx.options.database or ctx.settings is None or not ctx.settings.database_url:
        return not_run(check, item, "no database access (set DATABASE_URL, or drop --no-database)")
    return None


async def check_migrations(ctx: PreflightContext) -> list[CheckResult]:
    from ...db.migrate import status

    missing = _db_missing(ctx, "migrations", "schema at head")
    if missing:
        return [missing]
    try:
        states = await _with_db(ctx, status)
    except Exception as exc:  # any failure to look is the reason, not a traceback
        return [no_go("migrations", "schema at head", f"cannot read migrations: {exc}")]
    bad = {s.status: [x.version for x in states if x.status == s.status] for s in states if s.status != "applied"}
    head = max((s.version for s in states if s.migration is not None), default="?")
    if bad:
        return [no_go("migrations", "schema at head",
                      "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(bad.items())), head=head)]
    return [go("migrations", "schema at head", f"{len(states)} applied, none pending (head {head})", head=head)]


async def check_verify(ctx: PreflightContext) -> list[CheckResult]:
    from ..verify import verify_books

    missing = _db_missing(ctx, "verify", "books balance (mycrypto verify)")
    if missing:
        return [missing]
    try:
        report = await _with_db(ctx, verify_books)
    except Exception as exc:
        return [no_go("verify", "books balance (mycrypto verify)", f"verify could not run: {exc}")]
    if report.ok:
        return [go("verify", "books balance (mycrypto verify)", f"{len(report.checks)} invariants hold")]
    failed = ", ".join(f"{c.name} ({c.problem_count})" for c in report.failures)
    return [no_go("verify", "books balance (mycrypto verify)", f"discrepancies: {failed}")]


async def check_query_budget(ctx: PreflightContext) -> list[CheckResult]:
    """Statements since the statistics were last reset: mean < 5 ms and p95 (bound) < 20 ms."""
    from .. import querytiming

    item = "SQL statements mean < 5 ms, p95 < 20 ms"
    missing = _db_missing(ctx, "db_queries", item)
    if missing:
        return [missing]
    try:
        status, statements = await _with_db(ctx, lambda c: querytiming.collect(c, min_calls=10))
    except Exception as exc:
        return [no_go("db_queries", item, f"cannot read statement statistics: {exc}")]
    if status != "ok":
        return [not_run("db_queries", item, f"pg_stat_statements {status}")]
    rep = querytiming.report(status, statements)
    worst = rep["slowest"][0] if rep["slowest"] else None
    tail = f"; slowest mean {worst['mean_ms']} ms: {worst['query'][:60]}" if worst else ""
    text = f"{rep['statements']} statements (>= 10 calls): {rep['over_budget']} over, {rep['unknown']} unproven{tail}"
    if rep["over_budget"]:
        return [no_go("db_queries", item, text)]
    if rep["unknown"]:
        return [not_run("db_queries", item, text + " (p95 bound over budget: measure with bench/load)")]
    return [go("db_queries", item, text)]


# --------------------------------------------------------------------------------------------- HTTP
async def check_health(ctx: PreflightContext) -> list[CheckResult]:
    """Readiness, each service's health (with its database / cache / queue) and the web app page."""
    out: list[CheckResult] = []
    try:
        r = await ctx.get("/health/ready")
        ok = r.status_code == 200
        out.append((go if ok else no_go)("health", "ready (/health/ready)",
                                         "ready" if ok else f"HTTP {r.status_code}: {r.text[:100]}"))
    except httpx.HTTPError as exc:
        # nothing answers: every service line would say the same
        reason = _unreachable(exc)
        return [no_go("health", name, reason) for name in ("ready (/health/ready)", *SERVICE_HEALTH, "frontend")]
    for service, path in SERVICE_HEALTH.items():
        try:
            r = await ctx.get(path)
        except httpx.HTTPError as exc:
            out.append(no_go("health", service, _unreachable(exc)))
            continue
        body = _json(r)
        checks = body.get("checks", {}) if isinstance(body, dict) else {}
        down = [k for k, v in checks.items() if v not in ("ok", "not_configured")]
        shown = ", ".join(f"{k} {v}" for k, v in checks.items())
        if r.status_code == 200 and body.get("status") == "ok":
            out.append(go("health", service, f"ok ({shown})", checks=checks))
        elif r.status_code == 404:
            out.append(no_go("health", service, f"{path} answered 404: the {service} service is not deployed here"))
        else:
            out.append(no_go("health", service, f"HTTP {r.status_code}" + (f", down: {', '.join(down)}" if down else "")
                             + (f" ({shown})" if shown else ""), checks=checks))
    try:
        r = await ctx.get("/", headers={"Accept": "text/html"})
        is_page = r.status_code == 200 and "text/html" in r.headers.get("content-type", "")
        out.append((go if is_page else no_go)("health", "frontend", "web app page served" if is_page else
                                              f"GET / answered HTTP {r.status_code} {r.headers.get('content-type')}"))
        ctx.cache["page"] = r
    except httpx.HTTPError as exc:
        out.append(no_go("health", "frontend", _unreachable(exc)))
    return out


def _json(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return {}


async def check_security_headers(ctx: PreflightContext) -> list[CheckResult]:
    https = urlsplit(ctx.base_url).scheme == "https"
    out = []
    for item, path in (("API (/api/v1/trade/markets)", "/api/v1/trade/markets"), ("web app (/)", "/")):
        try:
            r = await ctx.get(path)
        except httpx.HTTPError as exc:
            out.append(no_go("security_headers", item, _unreachable(exc)))
            continue
        problems = [name for name, ok in REQUIRED_HEADERS.items() if not ok(r.headers.get(name, ""))]
        if https and "max-age=" not in r.headers.get("strict-transport-security", ""):
            problems.append("strict-transport-security")
        if problems:
            out.append(no_go("security_headers", item, "missing or weak: " + ", ".join(problems)))
        else:
            note = "" if https else " (HSTS only applies over https: not checked on http)"
            out.append(go("security_headers", item, "CSP without unsafe-inline scripts, frame, sniffing, "
                                                    "referrer and permissions policies set" + note))
    return out


async def check_cors(ctx: PreflightContext) -> list[CheckResult]:
    """A foreign origin gets no CORS grant; the expected web origin (--allowed-origin) does."""
    out = []

    async def preflight(origin: str) -> httpx.Response:
        return await ctx.http.options("/api/v1/trade/orders", headers={  # type: ignore[union-attr]
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})

    try:
        r = await preflight(PROBE_ORIGIN)
    except httpx.HTTPError as exc:
        return [no_go("cors", "foreign origin refused", _unreachable(exc))]
    granted = r.headers.get("access-control-allow-origin")
    if granted in ("*", PROBE_ORIGIN):
        out.append(no_go("cors", "foreign origin refused",
                         f"{PROBE_ORIGIN} was granted Access-Control-Allow-Origin: {granted}"))
    else:
        out.append(go("cors", "foreign origin refused", f"no CORS grant for {PROBE_ORIGIN} (HTTP {r.status_code})"))
    if ctx.options.allowed_origin:
        origin = ctx.options.allowed_origin
        r = await preflight(origin)
        ok = r.headers.get("access-control-allow-origin") == origin
        out.append((go if ok else no_go)("cors", f"{origin} allowed", "granted" if ok else
                                         f"not granted (HTTP {r.status_code}); set CORS_ORIGINS"))
    return out


async def check_registration(ctx: PreflightContext) -> list[CheckResult]:
    item = "registration toggle"
    try:
        r = await ctx.get("/web/config")
    except httpx.HTTPError as exc:
        return [no_go("registration", item, _unreachable(exc))]
    body = _json(r)
    if r.status_code != 200 or "registration_enabled" not in body:
        return [not_run("registration", item, f"/web/config answered HTTP {r.status_code}: cannot tell")]
    state = "open" if body["registration_enabled"] else "closed"
    expected = ctx.options.expect_registration
    if expected is None:
        return [go("registration", item, f"sign-up is {state} (REGISTRATION_ENABLED); pass "
                                         "--expect-registration to require a state", state=state)]
    if state == expected:
        return [go("registration", item, f"sign-up is {state}, as expected", state=state)]
    return [no_go("registration", item, f"sign-up is {state}, expected {expected} (REGISTRATION_ENABLED)",
                  state=state)]


# --------------------------------------------------------------------------------------------- load
LOAD_MIX = (  # public read paths every visitor hits (no account needed); label, path, weight
    ("order book", "/api/v1/orderbook/BTC-USDT?depth=50", 4),
    ("tickers", "/api/v1/trade/ticker", 2),
    ("candles", "/api/v1/trade/candles/BTC-USDT?interval=1m&limit=100", 1),
    ("recent trades", "/api/v1/trade/trades/BTC-USDT", 1),
    ("markets", "/api/v1/trade/markets", 1),
    ("constant (baseline)", "/api/v1/trade/ping-constant", 1),
)


async def check_load(ctx: PreflightContext) -> list[CheckResult]:
    """A short open-loop run at the SLA rate over public read paths: p95, order book p50/p95, errors."""
    o = ctx.options
    item = f"{o.load_rps:g} req/s for {o.load_seconds:g} s"
    parts = urlsplit(ctx.base_url)
    if parts.hostname not in LOOPBACK or parts.scheme != "http":
        return [not_run("load", item, "load runs target this machine only (http://127.0.0.1): run preflight "
                                      "on the host, or --skip load and use bench/load")]
    port = parts.port or 80
    hostport = f"{parts.hostname}:{port}"
    source = loadgen.mix([(label, loadgen.build_request("GET", path, hostport), w) for label, path, w in LOAD_MIX])
    try:
        res = await loadgen.open_loop("preflight", "127.0.0.1" if parts.hostname == "localhost" else parts.hostname,
                                      port, source, o.load_rps, o.load_seconds, n_conns=o.load_conns,
                                      warmup=min(1.0, o.load_seconds / 4), timeout=10)
    except OSError as exc:
        return [no_go("load", item, _unreachable(exc))]
    s = loadstats.summarize(res.samples(), res.duration)
    book = s["endpoints"].get("order book", {})
    p95 = s["latency"]["p95_ms"]
    text = (f"p95 {p95} ms (target < {o.sla_p95_ms:g}), order book p50 {book.get('p50_ms')} / p95 "
            f"{book.get('p95_ms')} ms (< {o.book_p50_ms:g} / {o.book_p95_ms:g}), errors {s['errors']} of "
            f"{s['requests']} ({s['error_rate']:.2%})")
    ok = (p95 is not None and p95 < o.sla_p95_ms and s["error_rate"] <= o.max_error_rate
          and (book.get("p50_ms") or 1e9) < o.book_p50_ms and (book.get("p95_ms") or 1e9) < o.book_p95_ms)
    return [(go if ok else no_go)("load", item, text, summary={k: v for k, v in s.items() if k != "timeline"})]


def _short(exc: BaseException) -> str:
    return re.sub(r"\s+", " ", str(exc))[:160]


async def guarded(check: str, fn: Any, ctx: PreflightContext) -> list[CheckResult]:
    """Run one check; a bug in it becomes its NO-GO line instead of ending the report."""
    try:
        return await asyncio.wait_for(fn(ctx), timeout=max(120.0, ctx.options.load_seconds * 4 + 60))
    except TimeoutError:
        return [no_go(check, check, "the check did not finish in time")]
    except Exception as exc:
        return [no_go(check, check, f"the check failed: {type(exc).__name__}: {_short(exc)}")]
