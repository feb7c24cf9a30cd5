"""A pure-ASGI fast path for the trade service's hottest endpoints.

FastAPI's router costs hundreds of microseconds per request before a handler runs (it walks every
route with per-route scope bookkeeping); on a 2-core machine that alone would cap order placement
and order-book reads far below the targets (docs/PERFORMANCE.md). This middleware sits inside
PlatformMiddleware (request ids, security headers, body limit still apply) and CORS, and answers

    POST /api/v1/trade/orders          -> api.handle_place_order
    GET  /api/v1/orderbook/{symbol}    -> api.handle_orderbook
    GET  /api/v1/trade/ping-constant   -> a constant JSON body (the benchmark's same-stack baseline)

with exactly the handlers the FastAPI routes use (which remain for the OpenAPI document), turning
`AppError`s into the platform's JSON error shape like the app's exception handler does. Anything
else goes to FastAPI untouched.
"""
from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request

from ..common.errors import DATABASE_OUTAGE_ERRORS, UNSTORABLE_TEXT, AppError, as_app_error, error_response
from .api import CONSTANT, handle_orderbook, place_order_body

log = logging.getLogger("mycrypto.errors")

ORDERS = "/api/v1/trade/orders"
ORDERBOOK = "/api/v1/orderbook/"
PING = "/api/v1/trade/ping-constant"
_JSON_HEADERS = [(b"content-type", b"application/json")]
_CONSTANT_START = {"type": "http.response.start", "status": 200,
                   "headers": [*_JSON_HEADERS, (b"content-length", str(len(CONSTANT)).encode())]}
_CONSTANT_BODY = {"type": "http.response.body", "body": CONSTANT}


class TradeFastPath:
    def __init__(self, app: Any) -> None:
        self.app = app
        self._app: Any = None
        self._registry: Any = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            method = scope["method"]
            if method == "GET":
                if path.startswith(ORDERBOOK):
                    symbol = path[len(ORDERBOOK):]
                    if symbol and "/" not in symbol:
                        found = self._owned_feed(scope, symbol)
                        if found is not None:
                            # the common case without a coroutine: bytes built for this book version
                            messages = found[0].cached_depth_messages(found[1])
                            if messages is not None:
                                await send(_own_copy(messages[0]))
                                await send(messages[1])
                                return
                        if found is None or not await self._orderbook(send, *found):
                            await self._run(scope, receive, send, handle_orderbook, symbol)
                        return
                elif path == PING:
                    await send(_own_copy(_CONSTANT_START))
                    await send(_CONSTANT_BODY)
                    return
            elif method == "POST" and path == ORDERS:
                await self._place(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _owned_feed(self, scope: dict, symbol: str) -> tuple[Any, int] | None:
        """(feed, depth) in the common case: a known symbol owned here, no or a plain depth
        parameter. None lets the general handler deal with everything else (errors, non-owner
        replicas, unusual query strings)."""
        qs = scope["query_string"]
        if not qs:
            depth = 100
        elif qs.startswith(b"depth=") and qs[6:].isdigit() and len(qs) < 12:
            depth = int(qs[6:])
            if not 0 < depth <= 5000:
                return None
        else:
            return None
        app = scope["app"]
        registry = self._registry
        if app is not self._app or registry is None:   # an app's container and registry are fixed once set
            registry = self._registry = app.state.container.trade_registry
            self._app = app if registry is not None else None
        spec = registry.by_symbol.get(symbol) if registry is not None else None
        engine = registry.engines.get(spec.id) if spec is not None else None
        if engine is None or not engine.accepting or engine.dirty:
            return None
        return engine.feed, depth

    @staticmethod
    async def _orderbook(send: Any, feed: Any, depth: int) -> bool:
        """Build (once per book version) and send the depth; False if the feed did not settle in time."""
        try:
            start, body = await feed.depth_messages(depth)
        except TimeoutError:
            return False
        await send(_own_copy(start))
        await send(body)
        return True

    @staticmethod
    async def _place(scope: dict, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        try:
            chunks = []
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return   # the client went away
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            out = await place_order_body(request, b"".join(chunks))
        except (AppError, *UNSTORABLE_TEXT, *DATABASE_OUTAGE_ERRORS) as caught:
            exc = as_app_error(caught)
            assert exc is not None
            log.info("request refused", extra={"code": exc.code, "status": exc.http_status,
                                               "path": scope["path"], "reason": exc.message})
            out = error_response(request, exc.http_status, exc.body(), exc.headers)
        if not isinstance(out, tuple):
            await out(scope, receive, send)
            return
        status, body = out
        await send({"type": "http.response.start", "status": status,
                    "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _run(scope: dict, receive: Any, send: Any, handler: Any, *args: Any) -> None:
        request = Request(scope, receive)
        try:
            response = await handler(request, *args)
        except (AppError, *UNSTORABLE_TEXT, *DATABASE_OUTAGE_ERRORS) as caught:
            exc = as_app_error(caught)
            assert exc is not None
            log.info("request refused", extra={"code": exc.code, "status": exc.http_status,
                                               "path": scope["path"], "reason": exc.message})
            response = error_response(request, exc.http_status, exc.body(), exc.headers)
        await response(scope, receive, send)


def _own_copy(start: dict) -> dict:
    """A response-start message built once and shared must not be sent as is: middleware outside us adds
    headers to the message it is given in place (Starlette's CORSMiddleware does), and an
    Access-Control-Allow-Origin added for one caller's origin would then go to every later caller."""
    return {**start, "headers": list(start["headers"])}
