"""Trade HTTP API under /api/v1/trade plus the public order book at /api/v1/orderbook/{symbol}.

A thin layer over `TradeService`: parse, call, serialise. The two hot endpoints (placing an order
and reading the order book) avoid per-request pydantic models and FastAPI dependency resolution:
the body is parsed with orjson, the principal is resolved by a direct call, and the order book is
returned as pre-serialised bytes cached per book version. Order commands for a market that another
replica owns are forwarded to that replica (forwarding.py); with no live owner the answer is 503
`market_unavailable` with Retry-After. `fastpath.py` serves the hot endpoints in front of FastAPI, and
the Binance-compatible /api/v3 router, the price alerts and the indicators are mounted after this one:
all by `apps.py`.

`lifespan(container)` starts the engine registry (ownership polling, one sequencer per owned market)
and sets `container.trade` (the TradeService, which the /api/v3 adapter uses too), `trade_registry` and
`trade_forwarder`; what runs beside the engines (the price alerts) is handed in by `apps.py`.
"""
from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..auth.principal import admin_principal, current_principal
from ..common.http import client_ip
from ..common.jsonresp import dumps
from ..container import Container
from ..marketdata.service import MarketDataService
from .errors import InvalidParameter, MarketUnavailable, NotOwnerHere
from .forwarding import forward, forward_cancel_all
from .registry import EngineRegistry
from .schemas import (HaltRequest, OcoCreate, OrderAmend, OrderCreate, parse_amend, parse_place_oco, parse_place_order,
                      parse_reason)
from .service import TradeService, check_from_id

SERVICE = "trade"
PREFIX = "/api/v1/trade"
CONSTANT = b'{"status":"ok"}'
JSON = "application/json"
_INTEGER = re.compile(r"-?[0-9]{1,20}")

router = APIRouter(tags=["trade"])
Extension = Callable[[Container], AbstractAsyncContextManager[None]]


def _service(request: Request) -> TradeService:
    return request.app.state.container.trade


def _json(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def _int_param(request: Request, name: str, default: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    # int() would also take " 5", "5\n" and "5_000": only plain digits are an integer here (full match)
    if not _INTEGER.fullmatch(raw):
        raise InvalidParameter(f"{name} must be an integer.", code=f"invalid_{name}")
    return int(raw)


# ---------------------------------------------------------------------------- lifespan
@asynccontextmanager
async def lifespan(container: Container, beside: Sequence[Extension] = ()) -> AsyncIterator[None]:
    """Run the engine registry. `beside`: what runs next to the engines (apps.py passes the price alerts'
    lifespan): each is entered after the registry is built and before it takes markets (so its
    `engine_hooks` see every engine), and left after the engines stopped."""
    settings = container.settings
    registry = EngineRegistry(settings, container.db)
    marketdata = MarketDataService(container.db, registry, ttl_ms=settings.trade_read_cache_ms)
    container.trade = TradeService(container.db, registry, marketdata)
    container.trade_registry = registry
    container.trade_forwarder = forwarder = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.trade_forward_timeout_s),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))
    try:
        async with AsyncExitStack() as extensions:
            for extension in beside:
                await extensions.enter_async_context(extension(container))
            await registry.start()
            try:
                yield
            finally:
                await registry.stop()   # engines finish their batches; the extensions then drain and stop
    finally:
        container.trade_forwarder = None
        await forwarder.aclose()


# ---------------------------------------------------------------------------- orders
async def place_order_body(request: Request, body: bytes) -> tuple[int, bytes] | Response:
    """POST /api/v1/trade/orders given its body: (status, JSON bytes), or the owner's forwarded answer.
    Shared by the FastAPI route and the ASGI fast path (fastpath.py)."""
    principal = await current_principal(request)
    req = parse_place_order(body)
    try:
        result = await _service(request).place_order(principal, req)
    except NotOwnerHere as exc:
        return await forward(request, exc, body)
    return (201 if result.created else 200), orjson.dumps(result.to_dict())


async def handle_place_order(request: Request) -> Response:
    out = await place_order_body(request, await request.body())
    return out if isinstance(out, Response) else _json(out[1], out[0])


async def handle_orderbook(request: Request, symbol: str) -> Response:
    """GET /api/v1/orderbook/{symbol}?depth=N (also served by the ASGI fast path)."""
    service = _service(request)
    spec = service.registry.by_symbol.get(symbol) or service.market(symbol, for_path=True)
    raw = request.query_params.get("depth") if request.scope["query_string"] else None
    depth = 100 if raw is None else _int_param(request, "depth")
    if depth is None or depth < 1 or depth > 5000:
        raise InvalidParameter("depth must be between 1 and 5000.", code="invalid_depth")
    try:
        body = await service.marketdata.depth_json(spec, depth)
    except TimeoutError:
        raise MarketUnavailable() from None
    return _json(body)


@router.post(PREFIX + "/orders", status_code=201, summary="Place an order",
             openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": OrderCreate.model_json_schema()}}}})
async def place_order(request: Request) -> Response:
    return await handle_place_order(request)


@router.post(PREFIX + "/orders/oco", status_code=201, summary="Place an OCO pair (limit + stop, one cancels the other)",
             openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": OcoCreate.model_json_schema()}}}})
async def place_oco(request: Request) -> Response:
    principal = await current_principal(request)
    body = await request.body()
    req = parse_place_oco(body)
    try:
        result = await _service(request).place_oco(principal, req)
    except NotOwnerHere as exc:
        return await forward(request, exc, body)
    return _json(dumps(result.to_dict()), 201)


@router.get(PREFIX + "/orders/open", summary="List my open orders (newest first, at most `limit`, 1..1000)")
async def open_orders(request: Request, symbol: str | None = None, limit: int = 1000) -> Response:
    principal = await current_principal(request)
    items = await _service(request).open_orders(principal, symbol, limit)
    return _json(dumps([o.to_dict() for o in items]))


@router.get(PREFIX + "/orders", summary="My order history (newest first, cursor pagination)")
async def order_history(request: Request, symbol: str | None = None, status: str | None = None,
                        start_time: int | None = None, end_time: int | None = None, limit: int = 100,
                        cursor: str | None = None) -> Response:
    principal = await current_principal(request)
    statuses = status.split(",") if status else None
    page = await _service(request).order_history(principal, symbol=symbol, status=statuses, start_ms=start_time,
                                                 end_ms=end_time, limit=limit, cursor=cursor)
    return _json(dumps({"items": [o.to_dict() for o in page.items], "next_cursor": page.next_cursor}))


@router.get(PREFIX + "/orders/client/{client_order_id}", summary="Get one of my orders by client order id")
async def get_order_by_client_id(request: Request, client_order_id: str) -> Response:
    principal = await current_principal(request)
    result = await _service(request).get_order(principal, client_order_id=client_order_id)
    return _json(dumps(result.to_dict()))


@router.get(PREFIX + "/orders/{order_id:int}", summary="Get one of my orders (with its fills)")
async def get_order(request: Request, order_id: int) -> Response:
    principal = await current_principal(request)
    result = await _service(request).get_order(principal, order_id=order_id)
    return _json(dumps(result.to_dict()))


@router.delete(PREFIX + "/orders/{order_id:int}", summary="Cancel one of my orders")
async def cancel_order(request: Request, order_id: int) -> Response:
    principal = await current_principal(request)
    try:
        result = await _service(request).cancel_order(principal, order_id=order_id)
    except NotOwnerHere as exc:
        return await forward(request, exc)
    return _json(dumps(result.to_dict()))


@router.delete(PREFIX + "/orders/client/{client_order_id}", summary="Cancel one of my orders by client order id")
async def cancel_order_by_client_id(request: Request, client_order_id: str) -> Response:
    principal = await current_principal(request)
    try:
        result = await _service(request).cancel_order(principal, client_order_id=client_order_id)
    except NotOwnerHere as exc:
        return await forward(request, exc)
    return _json(dumps(result.to_dict()))


@router.delete(PREFIX + "/orders", summary="Cancel all my open orders (optionally in one market)")
async def cancel_all(request: Request, symbol: str | None = None) -> Response:
    principal = await current_principal(request)
    service = _service(request)
    symbols = [service.market(symbol).symbol] if symbol is not None else [s.symbol for s in service.markets()]
    out: list[dict] = []
    for sym in symbols:
        try:
            out.extend(r.to_dict() for r in await service.cancel_all(principal, sym))
        except NotOwnerHere as exc:
            # owned by another replica: forward this market's part (one hop)
            if symbol is None and not await service.has_open_orders(principal, sym):
                continue
            out.extend(await forward_cancel_all(request, exc, sym))
    return _json(dumps(out))


@router.patch(PREFIX + "/orders/{order_id:int}", summary="Reduce an open order's quantity (keeps priority)",
              openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": OrderAmend.model_json_schema()}}}})
async def amend_order(request: Request, order_id: int) -> Response:
    principal = await current_principal(request)
    body = await request.body()
    quantity = parse_amend(body)
    try:
        result = await _service(request).amend_order(principal, order_id, quantity)
    except NotOwnerHere as exc:
        return await forward(request, exc, body)
    return _json(dumps(result.to_dict()))


@router.get(PREFIX + "/my-trades", summary="My trades (newest first, cursor pagination)")
async def my_trades(request: Request, symbol: str | None = None, start_time: int | None = None,
                    end_time: int | None = None, limit: int = 100, cursor: str | None = None) -> Response:
    principal = await current_principal(request)
    page = await _service(request).my_trades(principal, symbol=symbol, start_ms=start_time, end_ms=end_time,
                                             limit=limit, cursor=cursor)
    return _json(dumps({"items": [t.to_dict() for t in page.items], "next_cursor": page.next_cursor}))


# ---------------------------------------------------------------------------- public market data
def _market_dict(spec: Any) -> dict:
    def s(v: Any) -> str:
        return "0" if v == 0 else format(v.normalize(), "f")

    return {"symbol": spec.symbol, "base_asset": spec.base, "quote_asset": spec.quote, "status": spec.status,
            "tick_size": s(spec.tick_size), "lot_size": s(spec.lot_size), "min_qty": s(spec.min_qty),
            "max_qty": s(spec.max_qty), "min_notional": s(spec.min_notional), "maker_fee": s(spec.maker_fee),
            "taker_fee": s(spec.taker_fee), "base_decimals": spec.base_decimals,
            "quote_decimals": spec.quote_decimals,
            "order_types": ["limit", "market"], "time_in_force": ["GTC", "IOC", "FOK"],
            "stp_modes": ["expire_maker", "expire_taker", "expire_both", "none"], "default_stp": "expire_maker"}


@router.get(PREFIX + "/markets", summary="Markets and their trading rules")
async def markets(request: Request) -> Response:
    return _json(dumps([_market_dict(s) for s in _service(request).markets()]))


@router.get(PREFIX + "/markets/{symbol}", summary="One market and its trading rules")
async def market(request: Request, symbol: str) -> Response:
    return _json(dumps(_market_dict(_service(request).market(symbol, for_path=True))))


@router.get("/api/v1/orderbook/{symbol}", summary="Order book: aggregated price levels, best first")
async def orderbook(request: Request, symbol: str, depth: int = 100) -> Response:
    return await handle_orderbook(request, symbol)


@router.get(PREFIX + "/trades/{symbol}", summary="Recent public trades, newest first (from_id: ascending)")
async def recent_trades(request: Request, symbol: str, limit: int = 500, from_id: int | None = None) -> Response:
    service = _service(request)
    spec = service.market(symbol, for_path=True)
    if limit < 1 or limit > 1000:
        raise InvalidParameter("limit must be between 1 and 1000.", code="invalid_limit")
    return _json(await service.marketdata.trades_json(spec, limit, check_from_id(from_id)))


@router.get(PREFIX + "/ticker", summary="24h tickers of every market")
async def tickers(request: Request) -> Response:
    service = _service(request)
    return _json(await service.marketdata.tickers_json(service.markets()))


@router.get(PREFIX + "/ticker/{symbol}", summary="24h ticker of one market")
async def ticker(request: Request, symbol: str) -> Response:
    service = _service(request)
    return _json(await service.marketdata.ticker_json(service.market(symbol, for_path=True)))


@router.get(PREFIX + "/candles/{symbol}", summary="Candles (1m 5m 15m 1h 4h 1d stored; any Nm/Nh/Nd/Nw aggregated)")
async def candles(request: Request, symbol: str, interval: str = "1m", start_time: int | None = None,
                  end_time: int | None = None, limit: int = 500) -> Response:
    if limit < 1 or limit > 1000:
        raise InvalidParameter("limit must be between 1 and 1000.", code="invalid_limit")
    rows = await _service(request).candles(symbol, interval, start_time, end_time, limit)
    return _json(dumps([c.to_dict() for c in rows]))


@router.get(PREFIX + "/time", summary="Server time (epoch ms)")
async def server_time(request: Request) -> Response:
    return _json(dumps({"server_time": TradeService.server_time_ms()}))


@router.get(PREFIX + "/ping-constant", include_in_schema=False)
async def ping_constant() -> Response:
    """A bare constant JSON answer on the same stack as the order book: the benchmark's baseline."""
    return _json(CONSTANT)


# ---------------------------------------------------------------------------- admin
async def _halt(request: Request, symbol: str, halted: bool) -> Response:
    principal = await admin_principal(request)
    reason = parse_reason(await request.body())
    spec = await _service(request).set_market_status(
        symbol, halted, actor_user_id=principal.user_id, reason=reason,
        ip=client_ip(request, request.app.state.container.settings.trust_proxy_headers),
        user_agent=request.headers.get("user-agent"))
    return _json(dumps(_market_dict(spec)))


@router.post(PREFIX + "/admin/markets/{symbol}/halt", summary="Halt a market (admin): new orders refused, cancels allowed",
             openapi_extra={"requestBody": {"content": {JSON: {"schema": HaltRequest.model_json_schema()}}}})
async def halt_market(request: Request, symbol: str) -> Response:
    return await _halt(request, symbol, True)


@router.post(PREFIX + "/admin/markets/{symbol}/resume", summary="Resume a halted market (admin)")
async def resume_market(request: Request, symbol: str) -> Response:
    return await _halt(request, symbol, False)


@router.get(PREFIX + "/admin/engines", summary="Engines this replica runs (admin)")
async def engines(request: Request) -> Response:
    await admin_principal(request)
    return _json(dumps(request.app.state.container.trade_registry.status()))
