"""Market-data HTTP routes that are not on the order path: technical indicators.

GET /api/v1/trade/indicators lists them; GET /api/v1/trade/indicators/{name}?symbol=&interval=&limit=
&end_time=&<parameters> computes one over candles (public, like /candles). Served by the trade service
(apps.py mounts the router); the market is looked up through it (`container.trade`).

A long series costs up to a few hundred milliseconds of Decimal arithmetic, and this process also runs
the matching engines on its event loop: the computation runs in a worker thread, identical requests
within CACHE_S share one answer, and each client IP has a token bucket (INDICATOR_RATE per second,
burst INDICATOR_BURST; 429 rate_limited beyond).
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..common.http import client_ip
from ..common.jsonresp import dumps
from . import indicator_service as isvc
from .service import _ReadUnavailable, _TTLCache

PREFIX = "/api/v1/trade/indicators"
CACHE_S = 1.0
INDICATOR_RATE, INDICATOR_BURST = 5.0, 20.0

router = APIRouter(tags=["market data"])


def _cache(request: Request) -> _TTLCache:
    """One cache per app (each app may have its own database, e.g. in tests)."""
    cache = getattr(request.app.state, "indicator_cache", None)
    if cache is None:
        cache = request.app.state.indicator_cache = _TTLCache(CACHE_S)
    return cache


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


@router.get(PREFIX, summary="Technical indicators: names, parameters (bounds, defaults) and value fields")
async def indicators() -> Response:
    return _json(dumps(isvc.catalogue()))


# The parameters are declared as strings for the API reference only: parse_params/parse_window read
# them from the query string themselves, so every bad value gets the same 400 invalid_<name>.
@router.get(PREFIX + "/{name}", summary="An indicator over candles: sma, ema, rsi, macd, bollinger, vwap")
async def indicator(request: Request, name: str, symbol: str, interval: str = "1h", limit: str = "100",
                    end_time: str | None = None, period: str | None = None, fast: str | None = None,
                    slow: str | None = None, signal: str | None = None, k: str | None = None) -> Response:
    container = request.app.state.container
    query = dict(request.query_params)
    params = isvc.parse_params(name, query)
    interval, limit_n, end_ms = isvc.parse_window(query)
    spec = container.trade.market(symbol)   # 400 unknown_market
    key = (spec.id, name, tuple(sorted(params.items())), interval, limit_n, end_ms)
    cache = _cache(request)
    body = cache.get(key)
    if body is None:
        ip = client_ip(request, container.settings.trust_proxy_headers)
        await container.rate_limiter.check(f"indicators:{ip}", rate=INDICATOR_RATE, burst=INDICATOR_BURST)
        async with _ReadUnavailable(container.db) as conn:
            rows = await isvc.read_candles(conn, spec, interval, limit_n + isvc.warmup_of(name, params), end_ms)
        body = cache.put(key, await asyncio.to_thread(_render, spec, name, interval, params, rows, limit_n))
    return _json(body)


def _render(spec: Any, name: str, interval: str, params: dict, rows: list, limit: int) -> bytes:
    values = isvc.compute(name, params, rows)
    return dumps(isvc.series_dict(spec, name, interval, params, rows, values, limit, time.time_ns() // 1_000_000))
