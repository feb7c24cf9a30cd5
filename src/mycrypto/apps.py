"""ASGI apps: one per service (auth, wallet, trade, frontend) and the all-in-one that includes them.

This is the composition root: it imports each service's HTTP layer explicitly (`SERVICE_APPS`: routers,
an optional `lifespan(container)` for background work such as matching engines, the outbox relay or the
deposit watcher, an optional pure-ASGI fast path) and wires them onto one container. Every app gets the
same plumbing: JSON errors, request ids, security headers, body limit, CORS allow-list, health
endpoints and the OpenAPI document at /api/openapi.json with its browser view at /api/docs.
"""
from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import HTMLResponse, Response

from . import __version__
from .auth import api as auth_api
from .auth.service import AuthService
from .common.errors import install_error_handlers
from .common.health import health_response
from .common.http import PlatformMiddleware
from .common.jsonresp import JsonResponse
from .common.routing import IndexedDispatch
from .compat.binance import api as binance_api
from .config import Settings
from .container import Container
from .notify import relay
from .trading import api as trade_api
from .trading.fastpath import TradeFastPath
from .wallet import api as wallet_api
from .web import api as web_api


@dataclass(frozen=True)
class ServiceApp:
    """What one service adds to an app: its routers (in this order), an optional lifespan for background
    work, and an optional ASGI fast path answering its hottest endpoints in front of FastAPI's router."""

    routers: tuple[APIRouter, ...]
    lifespan: Callable[[Container], AbstractAsyncContextManager[None]] | None = None
    fast_path: Callable[[Any], Any] | None = None


SERVICE_APPS = {
    "auth": ServiceApp((auth_api.router,), auth_api.lifespan),
    "wallet": ServiceApp((wallet_api.router,), wallet_api.lifespan),
    # /api/v3 (docs/binance-api.md) is an adapter over TradeService: served wherever the trade service runs,
    # its routes after the trade routes (its catch-alls answer unknown /api/v3 paths)
    "trade": ServiceApp((trade_api.router, binance_api.router), trade_api.lifespan, TradeFastPath),
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
    _add_docs_route(app)
    app.router.middleware_stack = IndexedDispatch(app.router)
    # A service may answer its hottest endpoints with a pure-ASGI fast path (an ASGI middleware class)
    # in front of FastAPI's router; it sits inside CORS and PlatformMiddleware, so request ids, security
    # headers and the body limit still apply (see docs/trading.md).
    for part in parts:
        if part.fast_path is not None:
            app.add_middleware(part.fast_path)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-ID",
                                          "Idempotency-Key", "X-CSRF-Token", "X-MBX-APIKEY"],
                           max_age=600)
    # Outermost, so even CORS preflights and early rejections carry request ids and security headers.
    app.add_middleware(PlatformMiddleware, max_body_bytes=settings.max_body_bytes,
                       trust_proxy_headers=settings.trust_proxy_headers, access_log=access_log)
    return app


def _add_health_routes(app: FastAPI, name: str, services: Sequence[str]) -> None:
    @app.get("/health", tags=["health"], summary="Aggregate health of this process")
    async def health(request: Request) -> Response:
        return await health_response(request.app.state.container, name)

    @app.get("/health/live", tags=["health"], summary="Liveness probe: the process is up")
    async def live() -> Response:
        return JsonResponse({"status": "ok"})

    @app.get("/health/ready", tags=["health"], summary="Readiness probe: started and database reachable")
    async def ready(request: Request) -> Response:
        ok = bool(getattr(request.app.state, "ready", False)) and await request.app.state.container.db.ping()
        return JsonResponse({"status": "ok" if ok else "unavailable"}, status_code=200 if ok else 503)

    for service in services:
        path = HEALTH_PATHS.get(service)
        if path is None:
            continue

        async def service_health(request: Request, _service: str = service) -> Response:
            return await health_response(request.app.state.container, _service)

        app.add_api_route(path, service_health, methods=["GET"], tags=["health"],
                          summary=f"Health of the {service} service")


_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MyCrypto API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="swagger-ui"><p>Loading the API reference&hellip; The raw OpenAPI document is at
<a href="/api/openapi.json">/api/openapi.json</a>.</p></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script nonce="{nonce}">SwaggerUIBundle({{url: "/api/openapi.json", dom_id: "#swagger-ui"}});</script>
</body></html>"""


def _add_docs_route(app: FastAPI) -> None:
    @app.get("/api/docs", include_in_schema=False)
    async def docs() -> Response:
        # A per-response nonce lets this one inline bootstrap run without 'unsafe-inline'.
        nonce = os.urandom(16).hex()
        csp = ("default-src 'self'; script-src 'self' https://cdn.jsdelivr.net 'nonce-" + nonce + "'; "
               "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://cdn.jsdelivr.net; "
               "object-src 'none'; base-uri 'self'; frame-ancestors 'none'")
        return HTMLResponse(_DOCS_PAGE.replace("{nonce}", nonce).replace("{{", "{").replace("}}", "}"),
                            headers={"Content-Security-Policy": csp})
