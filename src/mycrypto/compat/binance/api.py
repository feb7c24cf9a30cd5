"""The /api/v3 router: Binance's spot REST endpoints over MyCrypto (mounted by apps.py after the trade
router, so it runs in the trade service and the all-in-one app). Also answers the Binance namespaces
MyCrypto does not implement (/sapi, /fapi, /dapi, /eapi, /papi, /futures, ...) and unknown /api/v3 paths
with a JSON `{"code": -1020, ...}` instead of an HTML 404.

Every endpoint runs through `_run`, which, in Binance's order: reads the parameters (query string
and form body; the query string wins), charges the request weight to the caller IP's bucket
(`common.ratelimit`; `X-MBX-USED-WEIGHT-1M` on every answer, 429 -1003 + Retry-After when spent),
authenticates signed endpoints (`auth.apikeys.authenticate_signed_request`: API key, timestamp
within recvWindow, HMAC of the exact bytes sent, IP allow-list, key permission), calls the use case
and serialises it. Any refusal leaves as a `BinanceError` (`{"code": -NNNN, "msg": ...}`); an
unexpected exception is logged and answered -1000 with 500. A command for a market another replica
owns is forwarded to it like /api/v1/trade does (the signed request travels unchanged).
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ...auth.apikeys import API_KEY_HEADER
from ...auth.principal import Principal
from ...common.errors import UNSTORABLE_TEXT, AppError, as_app_error
from ...common.http import client_ip
from ...config import Settings
from ...container import Container
from ...trading.errors import NotOwnerHere
from ...trading.forwarding import forward as forward_to_owner
from .domain import codes as c
from .domain import weights as w
from .domain.codes import Reject
from .domain.params import Params, merge
from .errors import CANCEL, ORDER, QUERY, BinanceError, translate
from .service import BinanceAdapter

log = logging.getLogger("mycrypto.compat.binance")

PREFIX = "/api/v3"
JSON = "application/json"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
UNSUPPORTED_NAMESPACES = ("sapi", "fapi", "dapi", "eapi", "papi", "futures", "wapi", "vapi", "bapi")
READ, TRADE = "read", "trade"

router = APIRouter(tags=["binance-compatible (/api/v3)"])
_KNOWN: dict[str, set[str]] = {}   # path -> methods, to tell 405 from 404


@dataclass(slots=True)
class Call:
    request: Request
    params: Params
    adapter: BinanceAdapter
    principal: Principal | None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return self.request.app.state.container.settings

    @property
    def user(self) -> Principal:
        assert self.principal is not None
        return self.principal


Handler = Callable[[Call], Awaitable[Any]]


# ---------------------------------------------------------------------------- plumbing
def _adapter(container: Container) -> BinanceAdapter:
    adapter = container.binance_adapter
    if adapter is None:
        adapter = container.binance_adapter = BinanceAdapter(container)
    return adapter


async def read_params(request: Request) -> Params:
    """Query string + urlencoded form body (Binance accepts both; the query string wins)."""
    try:
        query = request.scope.get("query_string", b"").decode("utf-8")
        body = ""
        content_type = request.headers.get("content-type", "")
        if request.method in ("POST", "PUT", "DELETE") and (
                not content_type or content_type.startswith("application/x-www-form-urlencoded")):
            body = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise Reject(c.ILLEGAL_CHARS, "Illegal characters found in a parameter: send UTF-8.") from None
    return Params(merge(parse_qsl(query, keep_blank_values=True), parse_qsl(body, keep_blank_values=True)))


def _limits(settings: Settings) -> tuple[int, int]:
    return settings.binance_weight_per_minute, settings.binance_orders_per_10s


async def _charge_weight(container: Container, request: Request, weight: int, headers: dict[str, str]) -> None:
    per_minute, _ = _limits(container.settings)
    ip = client_ip(request, container.settings.trust_proxy_headers)
    decision = await container.rate_limiter.hit(f"binance:weight:{ip}", cost=weight, rate=per_minute / 60,
                                                 burst=per_minute)
    used = str(max(0, int(per_minute - decision.remaining + 0.5)))
    headers["X-MBX-USED-WEIGHT"] = headers["X-MBX-USED-WEIGHT-1M"] = used
    if not decision.allowed:
        retry = max(1, int(decision.retry_after + 0.999))
        raise Reject(c.TOO_MANY_REQUESTS,
                     f"Too much request weight used; current limit is {per_minute} request weight per 1 MINUTE. "
                     "Please use WebSocket Streams for live updates to avoid polling the API.", 429,
                     headers={"Retry-After": str(retry)})


async def _charge_order(container: Container, principal: Principal, headers: dict[str, str]) -> None:
    _, per_10s = _limits(container.settings)
    decision = await container.rate_limiter.hit(f"binance:orders:{principal.user_id}", cost=1,
                                                 rate=per_10s / 10, burst=per_10s)
    headers["X-MBX-ORDER-COUNT-10S"] = str(max(0, int(per_10s - decision.remaining + 0.5)))
    if not decision.allowed:
        retry = max(1, int(decision.retry_after + 0.999))
        raise Reject(c.TOO_MANY_ORDERS, f"Too many new orders; current limit is {per_10s} orders per 10 SECOND.",
                     429, headers={"Retry-After": str(retry)})


def _key_format_ok(api_key: str) -> bool:
    # Binance tells a malformed key (-2014) from an unknown one (-2015); auth reports both as
    # api_key_invalid, so the format (auth.apikeys' rule: 16-128 ASCII letters and digits) is checked here
    api_key = api_key.strip()
    return 16 <= len(api_key) <= 128 and api_key.isascii() and api_key.isalnum()


async def _authenticate(container: Container, request: Request, permission: str) -> Principal:
    api_key = request.headers.get(API_KEY_HEADER)
    if not api_key or not _key_format_ok(api_key):
        raise Reject(c.BAD_API_KEY_FMT, c.MSG_BAD_KEY_FMT, 401)   # Binance: missing or malformed key
    return await container.auth.authenticate_signed_request(request, permission)


async def _forward(request: Request, exc: NotOwnerHere, headers: dict[str, str]) -> Response:
    """Relay the untouched request to the replica that owns the market (trading.forwarding)."""
    response = await forward_to_owner(request, exc)
    for key, value in headers.items():
        response.headers.setdefault(key, value)
    return response


async def _run(request: Request, fn: Handler, weight: w.Weight, auth: str | None, action: str | None,
               counts_order: bool) -> Response:
    container = request.app.state.container
    headers: dict[str, str] = {}
    try:
        params = await read_params(request)
        await _charge_weight(container, request, weight(params), headers)
        principal = await _authenticate(container, request, auth) if auth else None
        if counts_order and principal is not None:
            await _charge_order(container, principal, headers)
        call = Call(request, params, _adapter(container), principal, headers)
        result = await fn(call)
        return Response(orjson.dumps(result), media_type=JSON, headers=headers)
    except NotOwnerHere as exc:
        try:
            return await _forward(request, exc, headers)
        except AppError as err:
            raise translate(err, action, headers) from None
    except BinanceError as exc:
        exc.headers = {**headers, **exc.headers}
        raise
    except Reject as exc:
        raise BinanceError.of(exc, headers) from None
    except AppError as exc:
        raise translate(exc, action, headers) from None
    except UNSTORABLE_TEXT:   # a NUL byte or the like reached PostgreSQL: the client's input, not a bug
        raise BinanceError(c.ILLEGAL_CHARS, "Illegal characters found in a parameter.", 400, headers=headers,
                           origin="invalid_characters") from None
    except TimeoutError:   # the market's engine is mid-batch for too long (marketdata.feed)
        raise BinanceError(c.SERVER_BUSY, c.MSG_SERVER_BUSY, 503, headers={**headers, "Retry-After": "1"},
                           origin="market_busy") from None
    except Exception as exc:
        outage = as_app_error(exc)   # the database unreachable: 503 "server busy", like every other route
        if outage is not None:
            log.warning("database unavailable", extra={"path": request.url.path, "reason": repr(exc)[:200]})
            raise translate(outage, action, headers) from None
        # a 500 is a bug: keep the traceback in the log, give the client Binance's -1000
        log.exception("unhandled error in the Binance API", extra={"path": request.url.path})
        raise BinanceError(c.UNKNOWN, c.MSG_UNKNOWN, 500, headers=headers) from None


# Parameter schemas for the OpenAPI document (the handlers read the raw query string and form body, as
# Binance clients send them). `timestamp` and `signature` of signed endpoints are not listed: they are
# the signing scheme (docs/binance-api.md), added by the client's signer over everything else.
_ENUMS = {"side": ["BUY", "SELL"], "type": ["LIMIT", "MARKET", "LIMIT_MAKER"], "timeInForce": ["GTC", "IOC", "FOK"],
          "newOrderRespType": ["ACK", "RESULT", "FULL"],
          "interval": ["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"]}
_INTEGERS = {"limit", "orderId", "fromId", "startTime", "endTime", "recvWindow"}


ORDER_PARAMS = ("symbol! side! type! timeInForce quantity quoteOrderQty price newClientOrderId newOrderRespType "
                "selfTradePreventionMode recvWindow")


def _parameters(spec: str) -> list[dict[str, Any]]:
    """"symbol! limit" -> OpenAPI query parameters (a trailing ! marks a required one)."""
    out = []
    for word in spec.split():
        name = word.rstrip("!")
        schema: dict[str, Any] = {"type": "string"}
        if name in _ENUMS:
            schema["enum"] = _ENUMS[name]
        elif name in _INTEGERS:
            schema = {"type": "integer", "minimum": 0}
        out.append({"name": name, "in": "query", "required": word.endswith("!"), "schema": schema})
    return out


def endpoint(method: str, path: str, *, weight: w.Weight, summary: str, auth: str | None = None,
             action: str | None = None, counts_order: bool = False, params: str = "") -> Callable[[Handler], Handler]:
    """Register a Binance endpoint (PREFIX + path) whose handler takes a `Call` and returns JSON data."""
    def register(fn: Handler) -> Handler:
        async def route(request: Request) -> Response:
            return await _run(request, fn, weight, auth, action, counts_order)

        route.__name__ = f"binance_{fn.__name__}"
        security = f" Signed (HMAC-SHA256), API-key permission '{auth}'." if auth else ""
        router.add_api_route(PREFIX + path, route, methods=[method], summary=summary,
                             description=(fn.__doc__ or "").strip() + security, response_class=Response,
                             openapi_extra={"parameters": _parameters(params)} if params else None)
        _KNOWN.setdefault(PREFIX + path, set()).add(method)
        return fn
    return register


# ---------------------------------------------------------------------------- general
@endpoint("GET", "/ping", weight=w.fixed(1), summary="Test connectivity")
async def ping(call: Call) -> Any:
    """Returns {}."""
    return {}


@endpoint("GET", "/time", weight=w.fixed(1), summary="Server time")
async def server_time(call: Call) -> Any:
    """{"serverTime": epoch ms}."""
    return call.adapter.server_time()


@endpoint("GET", "/exchangeInfo", weight=w.fixed(20), summary="Exchange rules and symbols", params="symbol symbols")
async def exchange_info(call: Call) -> Any:
    """Optional symbol or symbols=["BTCUSDT",...]; filters PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE, NOTIONAL."""
    per_minute, per_10s = _limits(call.settings)
    return call.adapter.exchange_info(call.params, per_minute, per_10s)


# ---------------------------------------------------------------------------- market data
@endpoint("GET", "/depth", weight=w.depth, summary="Order book", params="symbol! limit")
async def depth(call: Call) -> Any:
    """symbol; limit (default 100, max 5000)."""
    return await call.adapter.depth(call.params)


@endpoint("GET", "/trades", weight=w.fixed(25), summary="Recent trades", params="symbol! limit")
async def trades(call: Call) -> Any:
    """symbol; limit (default 500, max 1000). Oldest first."""
    return await call.adapter.trades(call.params)


@endpoint("GET", "/historicalTrades", weight=w.fixed(25), summary="Older trades", params="symbol! fromId limit")
async def historical_trades(call: Call) -> Any:
    """symbol; fromId; limit (default 500, max 1000). No API key needed on MyCrypto."""
    return await call.adapter.historical_trades(call.params)


@endpoint("GET", "/aggTrades", weight=w.fixed(4), summary="Aggregate trades",
          params="symbol! fromId startTime endTime limit")
async def agg_trades(call: Call) -> Any:
    """symbol; fromId, startTime, endTime; limit (default 500, max 1000). One aggregate per trade."""
    return await call.adapter.agg_trades(call.params)


@endpoint("GET", "/klines", weight=w.fixed(2), summary="Klines (candlesticks)",
          params="symbol! interval! startTime endTime limit")
async def klines(call: Call) -> Any:
    """symbol; interval 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M; startTime, endTime; limit (default
    500, max 1000). Intervals that are not stored are aggregated from stored candles."""
    return await call.adapter.klines(call.params)


@endpoint("GET", "/uiKlines", weight=w.fixed(2), summary="Klines (same as /klines)",
          params="symbol! interval! startTime endTime limit")
async def ui_klines(call: Call) -> Any:
    """Same parameters and answer as /klines."""
    return await call.adapter.klines(call.params)


@endpoint("GET", "/avgPrice", weight=w.fixed(2), summary="Average price over the last 5 minutes", params="symbol!")
async def avg_price(call: Call) -> Any:
    """symbol. Volume-weighted over the last 5 minutes' trades; the last price when there were none."""
    return await call.adapter.avg_price(call.params)


@endpoint("GET", "/ticker/24hr", weight=w.ticker_24hr, summary="24 hour rolling statistics",
          params="symbol symbols type")
async def ticker_24hr(call: Call) -> Any:
    """symbol, symbols=[...] or neither (every symbol); type FULL (default) or MINI."""
    return await call.adapter.ticker_24hr(call.params)


@endpoint("GET", "/ticker/price", weight=w.ticker_light, summary="Last price", params="symbol symbols")
async def ticker_price(call: Call) -> Any:
    """symbol, symbols=[...] or neither (every symbol)."""
    return await call.adapter.ticker_price(call.params)


@endpoint("GET", "/ticker/bookTicker", weight=w.ticker_light, summary="Best bid and ask", params="symbol symbols")
async def book_ticker(call: Call) -> Any:
    """symbol, symbols=[...] or neither (every symbol)."""
    return await call.adapter.book_ticker(call.params)


# ---------------------------------------------------------------------------- account (signed)
@endpoint("GET", "/account", weight=w.fixed(20), auth=READ, summary="Account balances",
          params="omitZeroBalances recvWindow")
async def account(call: Call) -> Any:
    """Balances free/locked per asset (omitZeroBalances=true to drop empty ones) and commission rates."""
    return await call.adapter.account(call.user, call.params)


@endpoint("GET", "/account/commission", weight=w.fixed(20), auth=READ, summary="Commission rates of a symbol",
          params="symbol! recvWindow")
async def account_commission(call: Call) -> Any:
    """symbol."""
    return await call.adapter.commission(call.user, call.params)


@endpoint("POST", "/order", weight=w.fixed(1), auth=TRADE, action=ORDER, counts_order=True, summary="New order",
          params=ORDER_PARAMS)
async def new_order(call: Call) -> Any:
    """symbol, side BUY/SELL, type LIMIT (timeInForce GTC/IOC/FOK, price, quantity) | LIMIT_MAKER (price,
    quantity) | MARKET (quantity, or quoteOrderQty for BUY); newClientOrderId (<= 36 chars, idempotent per
    user); newOrderRespType ACK/RESULT/FULL; selfTradePreventionMode."""
    return await call.adapter.new_order(call.user, call.params)


@endpoint("POST", "/orderList/oco", weight=w.fixed(1), auth=TRADE, action=ORDER, counts_order=True,
          summary="New OCO order list")
async def new_oco(call: Call) -> Any:
    """Binance's current OCO (aboveType/belowType...): a LIMIT_MAKER leg and a STOP_LOSS(_LIMIT) leg; when
    one fills or triggers, or is cancelled, the other is cancelled (docs/binance-api.md)."""
    return await call.adapter.new_oco(call.user, call.params)


@endpoint("GET", "/orderList", weight=w.fixed(4), auth=READ, action=QUERY, summary="Query OCO order list")
async def query_order_list(call: Call) -> Any:
    """orderListId (listClientOrderId is not stored: -1102 without orderListId)."""
    return await call.adapter.query_order_list(call.user, call.params)


@endpoint("DELETE", "/orderList", weight=w.fixed(1), auth=TRADE, action=CANCEL, summary="Cancel OCO order list")
async def cancel_order_list(call: Call) -> Any:
    """symbol, orderListId: cancels both legs (as cancelling either leg with DELETE /order does)."""
    return await call.adapter.cancel_order_list(call.user, call.params)


@endpoint("POST", "/order/test", weight=w.fixed(1), auth=TRADE, action=ORDER, summary="Test new order",
          params=ORDER_PARAMS)
async def test_order(call: Call) -> Any:
    """Same parameters as POST /order; checks everything but places nothing. Returns {}."""
    return await call.adapter.test_order(call.user, call.params)


@endpoint("GET", "/order", weight=w.fixed(4), auth=READ, action=QUERY, summary="Query order",
          params="symbol! orderId origClientOrderId recvWindow")
async def query_order(call: Call) -> Any:
    """symbol; orderId or origClientOrderId."""
    return await call.adapter.query_order(call.user, call.params)


@endpoint("DELETE", "/order", weight=w.fixed(1), auth=TRADE, action=CANCEL, summary="Cancel order",
          params="symbol! orderId origClientOrderId newClientOrderId recvWindow")
async def cancel_order(call: Call) -> Any:
    """symbol; orderId or origClientOrderId; newClientOrderId (echoed as clientOrderId)."""
    return await call.adapter.cancel_order(call.user, call.params)


@endpoint("GET", "/openOrders", weight=w.open_orders, auth=READ, action=QUERY, summary="Current open orders",
          params="symbol recvWindow")
async def open_orders(call: Call) -> Any:
    """symbol (optional: every symbol without it)."""
    return await call.adapter.open_orders(call.user, call.params)


@endpoint("DELETE", "/openOrders", weight=w.fixed(1), auth=TRADE, action=CANCEL,
          summary="Cancel all open orders on a symbol",
          params="symbol! recvWindow")
async def cancel_open_orders(call: Call) -> Any:
    """symbol."""
    return await call.adapter.cancel_open_orders(call.user, call.params)


@endpoint("GET", "/allOrders", weight=w.fixed(20), auth=READ, action=QUERY, summary="All orders",
          params="symbol! orderId startTime endTime limit recvWindow")
async def all_orders(call: Call) -> Any:
    """symbol; orderId (from this id), startTime, endTime; limit (default 500, max 1000). Oldest first."""
    return await call.adapter.all_orders(call.user, call.params)


@endpoint("GET", "/myTrades", weight=w.my_trades, auth=READ, action=QUERY, summary="Account trade list",
          params="symbol! orderId fromId startTime endTime limit recvWindow")
async def my_trades(call: Call) -> Any:
    """symbol; orderId, or fromId/startTime/endTime; limit (default 500, max 1000). Oldest first."""
    return await call.adapter.my_trades(call.user, call.params)


# ---------------------------------------------------------------------------- everything else
def _method_list(methods: set[str]) -> str:
    return ", ".join(sorted(methods))


@router.api_route(PREFIX, methods=ALL_METHODS, include_in_schema=False)
@router.api_route(PREFIX + "/{rest:path}", methods=ALL_METHODS, include_in_schema=False)
async def unknown_v3(request: Request) -> Response:
    """Unknown /api/v3 path (404) or known path with another method (405), in Binance's error shape."""
    path = request.url.path
    allowed = _KNOWN.get(path)
    if allowed:
        raise BinanceError(c.UNSUPPORTED_OPERATION,
                           f"{c.MSG_UNSUPPORTED} {request.method} is not allowed on {path}; use "
                           f"{_method_list(allowed)}.", 405, headers={"Allow": _method_list(allowed)},
                           origin="method_not_allowed")
    raise BinanceError(c.UNSUPPORTED_OPERATION,
                       f"{c.MSG_UNSUPPORTED} {request.method} {path} is not part of MyCrypto's Binance-compatible "
                       "spot API (see docs/binance-api.md for the supported endpoints).", 404, origin="not_found")


async def unsupported_namespace(request: Request) -> Response:
    """Margin, futures, options, portfolio margin and the /sapi wallet endpoints do not exist here."""
    raise BinanceError(c.UNSUPPORTED_OPERATION,
                       f"{c.MSG_UNSUPPORTED} MyCrypto is a spot exchange: margin, futures, options and /sapi "
                       f"endpoints ({request.method} {request.url.path}) are not available. The Binance-compatible "
                       "API is /api/v3 (see docs/binance-api.md).", 404, origin="unsupported_namespace")


for _ns in UNSUPPORTED_NAMESPACES:
    router.add_api_route(f"/{_ns}", unsupported_namespace, methods=ALL_METHODS, include_in_schema=False)
    router.add_api_route(f"/{_ns}/{{rest:path}}", unsupported_namespace, methods=ALL_METHODS,
                         include_in_schema=False)
