"""Market-data HTTP routes that are not on the order path: technical indicators.

GET /api/v1/trade/indicators lists them; GET /api/v1/trade/indicators/{name}?symbol=&interval=&limit=
&end_time=&<parameters> computes one over candles (public, like /candles). Included by trading/api.py.
"""
from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..common.jsonresp import json_response
from ..marketdata.service import _ReadUnavailable
from ..trading.errors import UnknownMarket
from . import indicator_service as isvc

PREFIX = "/api/v1/trade/indicators"

router = APIRouter(tags=["market data"])


@router.get(PREFIX, summary="Technical indicators: names, parameters (bounds, defaults) and value fields")
async def indicators() -> Response:
    return json_response(isvc.catalogue())


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
    spec = container.services["trade_registry"].spec(symbol)
    if spec is None:
        raise UnknownMarket()
    async with _ReadUnavailable(container.db) as conn:
        rows = await isvc.read_candles(conn, spec, interval, limit_n + isvc.warmup_of(name, params), end_ms)
    values = isvc.compute(name, params, rows)
    now_ms = time.time_ns() // 1_000_000
    return json_response(isvc.series_dict(spec, name, interval, params, rows, values, limit_n, now_ms))
