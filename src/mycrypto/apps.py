"""ASGI apps: one per service (auth, wallet, trade, frontend) and the all-in-one that includes them.

This is the composition root: it imports each service's HTTP layer explicitly (`SERVICE_APPS`: routers,
an optional `lifespan(container)` for background work such as matching engines, the outbox relay or the
deposit watcher, an optional pure-ASGI fast path) and wires them onto one container. Every app gets the
same plumbing: JSON errors, request ids, security headers, body limit, CORS allow-list, health
endpoints, /metrics and the OpenAPI document at /api/openapi.json with its browser view at /api/docs
(common/apidocs.py).
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from . import __version__
from .alerts import api as alerts_api
from .auth import api as auth_api
from .auth.service import AuthService
from .common.apidocs import add_docs_routes, document_errors
from .common.errors import install_error_handlers
from .common.health import ServiceCheck, health_response
from .common.http import PlatformMiddleware
from .common.requestlimits import RequestLimitMiddleware
from .common.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .common.metrics import MetricsMiddleware, refresh_platform, watch_engines
from .common.metrics import render as render_metrics
from .common.probe_server import ProbeServer
from .common.jsonresp import JsonResponse
from .common.routing import IndexedDispatch
from .compat.binance import api as binance_api
from .config import Settings
from .container import Container
from .marketdata import api as marketdata_api
from .notify import relay
from .streams import api as streams_api
from .trading import api as trade_api
from .trading.fastpath import TradeFastPath
from .trading.health import engine_health
from .wallet import api as wallet_api
from .wallet.chain.status import chain_health
from .web import api as web_api


@dataclass(frozen=True)
class ServiceApp:
    """What one service adds to an app: its routers (in this order), an optional lifespan for background
    work, an optional ASGI fast path answering its hottest endpoints in front of FastAPI's router, and an
    optional health check of its own beyond its dependencies ((key in the health body, check); see
    common/health.py) that also decides its readiness."""

    routers: tuple[APIRouter, ...]
    lifespan: Callable[[Container], AbstractAsyncContextManager[None]] | None = None
    fast_path: Callable[[Any], Any] | None = None
    check: tuple[str, ServiceCheck] | None = None


SERVICE_APPS = {
    "auth": ServiceApp((auth_api.router,), auth_api.lifespan),
    "wallet": ServiceApp((wallet_api.router,), wallet_api.lifespan),
    # /api/v3 (docs/binance-api.md) is an adapter over TradeService: served wherever the trade service runs,
    # its routes after the trade routes (its catch-alls answer unknown /api/v3 paths). Price alerts
    # (docs/alerts.md) run beside the engines; their routes and the indicators' are served here too.
    # WebSocket streams (docs/streams.md) run beside the engines too; the listen-key routes come before
    # the /api/v3 catch-alls.
    "trade": ServiceApp((trade_api.router, streams_api.router, binance_api.router, alerts_api.router,
                         marketdata_api.router),
                        partial(trade_api.lifespan, beside=(alerts_api.lifespan, streams_api.lifespan)), TradeFastPath,
                        check=("engine", engine_health)),
    "frontend": ServiceApp((web_api.router,)),
}
ALL_SERVICES = tuple(SERVICE_APPS)
HEALTH_PATHS = {"auth": "/api/v1/auth/health", "wallet": "/api/v1/wallet/health",
                "trade": "/api/v1/trade/health"}


def create_app(settings: Settings, services: Sequence[str] = ALL_SERVICES, *,
               access_log: bool = True) -> FastAPI:
    """Build the ASGI app for `services` (all of them = the all-in-one app)."""
    unknown = set(services) - set(SERVICE_APPS)
    if unknown:
        raise ValueError(f"unknown service(s): {sorted(unknown)}")
    parts = [SERVICE_APPS[name] for name in services]
    name = "all" if len(services) > 1 else services[0]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = Container.create(settings)
        await container.start()
        app.state.container = container
        # every service authenticates its callers (tokens, cookies, signed API-key requests) and honours
        # revoked sessions, whether or not this app serves the auth router
        container.auth = AuthService(settings, container.db, container.rate_limiter,
                                     wake_outbox=partial(relay.wake, container))
        try:
            async with AsyncExitStack() as stack:
                for part in parts:
                    if part.lifespan is not None:
                        await stack.enter_async_context(part.lifespan(container))
                await stack.enter_async_context(observability(container, services))
                app.state.ready = True
                yield
        finally:
            app.state.ready = False
            await container.stop()

    app = FastAPI(title="MyCrypto API", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
                  default_response_class=JsonResponse)
    app.state.ready = False
    app.state.service = name
    install_error_handlers(app)
    for part in parts:
        for router in part.routers:
            app.include_router(router)
    _add_health_routes(app, name, services)
    if not settings.metrics_port:
        _add_metrics_route(app)
    add_docs_routes(app)
    document_errors(app)
    app.router.middleware_stack = IndexedDispatch(app.router)
    # A service may answer its hottest endpoints with a pure-ASGI fast path (an ASGI middleware class)
    # in front of FastAPI's router; it sits inside CORS and PlatformMiddleware, so request ids, security
    # headers and the body limit still apply (see docs/trading.md).
    for part in parts:
        if part.fast_path is not None:
            app.add_middleware(part.fast_path)
    if settings.rate_limits_enabled:   # per route family, around the fast path too, inside CORS (a 429 is readable)
        app.add_middleware(RequestLimitMiddleware, per_client=settings.request_limits,
                           per_ip=settings.request_limits_per_ip, trust_proxy_headers=settings.trust_proxy_headers)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-ID",
                                          "Idempotency-Key", "X-CSRF-Token", "X-MBX-APIKEY"],
                           max_age=600)
    # Outermost, so even CORS preflights and early rejections carry request ids and security headers.
    app.add_middleware(PlatformMiddleware, max_body_bytes=settings.max_body_bytes,
                       trust_proxy_headers=settings.trust_proxy_headers, access_log=access_log)
    app.add_middleware(MetricsMiddleware, service=name)   # counts what PlatformMiddleware answered too
    return app


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document of the all-in-one app (what `mycrypto apidocs` writes to docs/api)."""
    return create_app(settings, access_log=False).openapi()


def _service_checks(services: Sequence[str]) -> dict[str, tuple[str, ServiceCheck]]:
    """service -> (key in the health body, check)."""
    return {service: check for service in services if (check := SERVICE_APPS[service].check) is not None}


@asynccontextmanager
async def observability(container: Container, services: Sequence[str]) -> AsyncIterator[None]:
    """Report this process's matching engines in /metrics and, with METRICS_PORT, serve /metrics on
    its own port (one the public ingress never routes to; docs/operations.md)."""
    undo = None
    if "trade" in services:
        undo = watch_engines(lambda: container.trade_registry)
    server = None
    if container.settings.metrics_port:
        async def scrape() -> tuple[int, str, bytes]:
            await refresh_platform(container)
            return 200, METRICS_CONTENT_TYPE, render_metrics()

        server = ProbeServer(container.settings.host, container.settings.metrics_port, {"/metrics": scrape})
        await server.start()
    try:
        yield
    finally:
        if server is not None:
            await server.stop()
        if undo is not None:
            undo()


def _add_health_routes(app: FastAPI, name: str, services: Sequence[str]) -> None:
    checks = _service_checks(services)

    @app.get("/health", tags=["health"], summary="Aggregate health of this process")
    async def health(request: Request) -> Response:
        return await health_response(request.app.state.container, name, dict(checks.values()), chain_health)

    @app.get("/health/live", tags=["health"], summary="Liveness probe: the process is up")
    async def live() -> Response:
        return JsonResponse({"status": "ok"})

    @app.get("/health/ready", tags=["health"],
             summary="Readiness probe: started, database reachable, the service's own checks pass")
    async def ready(request: Request) -> Response:
        container = getattr(request.app.state, "container", None)
        ok = bool(getattr(request.app.state, "ready", False)) and await container.db.ping()
        failing = [n for n, (_, check) in checks.items() if not check(container)[0]] if ok else []
        body: dict[str, object] = {"status": "ok" if ok and not failing else "unavailable"}
        if failing:
            body["failing"] = failing
        return JsonResponse(body, status_code=200 if ok and not failing else 503)

    for service in services:
        path = HEALTH_PATHS.get(service)
        if path is None:
            continue
        own = dict([checks[service]]) if service in checks else None
        app.add_api_route(path, _service_health(service, own), methods=["GET"], tags=["health"],
                          summary=f"Health of the {service} service")


def _service_health(service: str, own: dict[str, ServiceCheck] | None) -> Any:
    async def service_health(request: Request) -> Response:
        return await health_response(request.app.state.container, service, own, chain_health)
    return service_health


def _add_metrics_route(app: FastAPI) -> None:
    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        await refresh_platform(request.app.state.container)
        return Response(render_metrics(), media_type=METRICS_CONTENT_TYPE)

