"""ASGI apps: one per service (auth, wallet, trade, frontend) and the all-in-one that includes them.

Each service package exposes `api.router` and, optionally, `api.lifespan(container)` for background
work (matching engines, outbox relay, deposit watcher). Every app gets the same plumbing: JSON
errors, request ids, security headers, body limit, CORS allow-list, health endpoints and the
OpenAPI document at /api/openapi.json with its browser view at /api/docs (common/apidocs.py).
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from importlib import import_module
from typing import Any

from fastapi import FastAPI, Request
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from . import __version__
from .common.apidocs import add_docs_routes
from .common.errors import install_error_handlers
from .common.health import ServiceCheck, health_response
from .common.http import PlatformMiddleware
from .common.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .common.metrics import MetricsMiddleware, refresh_platform, watch_engines
from .common.metrics import render as render_metrics
from .common.probe_server import ProbeServer
from .common.jsonresp import JsonResponse
from .common.routing import IndexedDispatch
from .config import Settings
from .container import Container

SERVICE_MODULES = {
    "auth": "mycrypto.auth.api",
    "wallet": "mycrypto.wallet.api",
    "trade": "mycrypto.trading.api",
    "frontend": "mycrypto.web.api",
}
ALL_SERVICES = tuple(SERVICE_MODULES)
HEALTH_PATHS = {"auth": "/api/v1/auth/health", "wallet": "/api/v1/wallet/health",
                "trade": "/api/v1/trade/health"}
# A service's own health check beyond its dependencies (see common/health.py, trading/health.py)
SERVICE_CHECKS = {"trade": ("engine", "mycrypto.trading.health", "engine_health")}


def create_app(settings: Settings, services: Sequence[str] = ALL_SERVICES, *,
               access_log: bool = True) -> FastAPI:
    """Build the ASGI app for `services` (all of them = the all-in-one app)."""
    unknown = set(services) - set(SERVICE_MODULES)
    if unknown:
        raise ValueError(f"unknown service(s): {sorted(unknown)}")
    modules = [import_module(SERVICE_MODULES[name]) for name in services]
    name = "all" if len(services) > 1 else services[0]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = Container.create(settings)
        await container.start()
        app.state.container = container
        try:
            async with AsyncExitStack() as stack:
                for module in modules:
                    start = getattr(module, "lifespan", None)
                    if start is not None:
                        await stack.enter_async_context(start(container))
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
    for module in modules:
        app.include_router(module.router)
    _add_health_routes(app, name, services)
    if not settings.metrics_port:
        _add_metrics_route(app)
    add_docs_routes(app)
    app.router.middleware_stack = IndexedDispatch(app.router)
    # A service may answer its hottest endpoints with a pure-ASGI fast path (api.asgi_fast_path, an
    # ASGI middleware class) in front of FastAPI's router; it sits inside CORS and PlatformMiddleware,
    # so request ids, security headers and the body limit still apply (see docs/trading.md).
    for module in modules:
        fast_path = getattr(module, "asgi_fast_path", None)
        if fast_path is not None:
            app.add_middleware(fast_path)
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


def _service_checks(services: Sequence[str]) -> dict[str, tuple[str, ServiceCheck]]:
    """service -> (key in the health body, check)."""
    found = {}
    for service in services:
        if service in SERVICE_CHECKS:
            key, module, attr = SERVICE_CHECKS[service]
            found[service] = (key, getattr(import_module(module), attr))
    return found


@asynccontextmanager
async def observability(container: Container, services: Sequence[str]) -> AsyncIterator[None]:
    """Report this process's matching engines in /metrics and, with METRICS_PORT, serve /metrics on
    its own port (one the public ingress never routes to; docs/operations.md)."""
    undo = None
    if "trade" in services:
        from .trading.health import registry_of

        undo = watch_engines(lambda: registry_of(container))
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
        return await health_response(request.app.state.container, name, dict(checks.values()))

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
        return await health_response(request.app.state.container, service, own)
    return service_health


def _add_metrics_route(app: FastAPI) -> None:
    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        await refresh_platform(request.app.state.container)
        return Response(render_metrics(), media_type=METRICS_CONTENT_TYPE)

