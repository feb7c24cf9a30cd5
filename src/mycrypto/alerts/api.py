"""Alert HTTP API under /api/v1/trade/alerts (served by the trade service; docs/alerts.md).

A thin layer over `AlertService`: resolve the caller, parse, call, serialise. apps.py mounts the router
in the trade service and runs `lifespan` beside its engines (trading.api.lifespan's `beside`): it builds
the service (`container.alerts`) and hooks one evaluator onto each engine the registry starts.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..auth.principal import current_principal
from ..common.jsonresp import json_response
from ..container import Container
from ..notify import relay
from .schemas import create_schema, parse_create
from .service import AlertService

PREFIX = "/api/v1/trade/alerts"
JSON = "application/json"

router = APIRouter(tags=["alerts"])


def _service(request: Request) -> AlertService:
    return request.app.state.container.alerts


@asynccontextmanager
async def lifespan(container: Container) -> AsyncIterator[None]:
    """Price alerts (issue 13): one evaluator beside each engine this process runs. Entered after the
    engine registry is built and before it takes markets; left after its engines stopped."""
    registry = container.trade_registry
    service = AlertService(container.db, container.settings, registry, limiter=container.rate_limiter,
                           wake=partial(relay.wake, container))
    registry.engine_hooks.append(service.engine_started)
    registry.feed_listeners.append(service.on_committed)
    container.alerts = service
    await service.start()          # listening for alert changes before any evaluator loads its alerts
    try:
        yield
    finally:
        await service.stop()       # the engines have stopped: evaluators drain and stop


@router.post(PREFIX, status_code=201, summary="Create a price or indicator alert",
             openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": create_schema()}}}})
async def create_alert(request: Request) -> Response:
    principal = await current_principal(request)
    data = parse_create(await request.body())
    return json_response(await _service(request).create(principal, data), status_code=201)


@router.get(PREFIX, summary="My alerts (newest first; status=active|triggered; cursor pagination)")
async def list_alerts(request: Request, symbol: str | None = None, status: str | None = None, limit: int = 50,
                      cursor: str | None = None) -> Response:
    principal = await current_principal(request)
    page = await _service(request).list(principal, symbol=symbol, status=status, limit=limit, cursor=cursor)
    return json_response({"items": page.items, "next_cursor": page.next_cursor})


@router.get(PREFIX + "/history", summary="My alerts' firings, newest first (alert_id, symbol filters)")
async def alert_history(request: Request, alert_id: int | None = None, symbol: str | None = None, limit: int = 50,
                        cursor: str | None = None) -> Response:
    principal = await current_principal(request)
    page = await _service(request).history(principal, alert_id=alert_id, symbol=symbol, limit=limit, cursor=cursor)
    return json_response({"items": page.items, "next_cursor": page.next_cursor})


@router.get(PREFIX + "/{alert_id:int}", summary="One of my alerts")
async def get_alert(request: Request, alert_id: int) -> Response:
    principal = await current_principal(request)
    return json_response(await _service(request).get(principal, alert_id))


@router.delete(PREFIX + "/{alert_id:int}", summary="Delete one of my alerts (its history stays)")
async def delete_alert(request: Request, alert_id: int) -> Response:
    principal = await current_principal(request)
    return json_response(await _service(request).delete(principal, alert_id))
