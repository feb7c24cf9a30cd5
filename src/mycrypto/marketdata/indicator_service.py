"""GET /api/v1/trade/indicators/{name}: parameters, candle reads and the JSON of an indicator series.

The candles are the ones GET /api/v1/trade/candles serves (trade.candle; other intervals aggregated
from the largest stored one that divides them), read with the warm-up the indicator needs before the
first value returned (marketdata.indicators.warmup), so the values do not depend on `limit`.
Query parameters are validated here; anything absurd is a 400 with a stable code, never a query.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..common.bounds import MAX_TIME_MS
from ..common.errors import AppError, NotFound
from ..common.markets import MarketSpec
from . import indicators as ind
from . import repository as mdrepo
from .candles import STORED, BadInterval, interval_ms, merge_rows, source_interval

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_SOURCE_ROWS = 60_000     # stored candles read for one request at most
_INT = re.compile(r"[0-9]{1,15}")                      # ASCII digits only (str.isdigit takes '²')
_DECIMAL = re.compile(r"[0-9]{1,3}(\.[0-9]{1,4})?")
COMMON = frozenset({"symbol", "interval", "limit", "end_time"})
# name -> {parameter: (low, high, default)}; None default = optional
SPECS: dict[str, dict[str, tuple]] = {
    "sma": {"period": (2, 1000, 20)},
    "ema": {"period": (2, 200, 20)},
    "rsi": {"period": (2, 100, 14)},
    "macd": {"fast": (2, 100, 12), "slow": (3, 200, 26), "signal": (2, 50, 9)},
    "bollinger": {"period": (2, 500, 20), "k": (Decimal("0.1"), Decimal(10), Decimal(2))},
    "vwap": {"period": (1, 1000, None)},
}
FIELDS = {"sma": ("sma",), "ema": ("ema",), "rsi": ("rsi",), "macd": ("macd", "signal", "histogram"),
          "bollinger": ("middle", "upper", "lower"), "vwap": ("vwap",)}


class InvalidIndicatorParameter(AppError):
    code, http_status, message = "invalid_parameter", 400, "A parameter is not valid."


class UnknownIndicator(NotFound):
    code, message = "unknown_indicator", f"No such indicator; one of {', '.join(SPECS)}."


def catalogue() -> list[dict[str, Any]]:
    """What GET /api/v1/trade/indicators lists: names, parameters (bounds, defaults), value fields."""
    def s(v: Any) -> Any:
        return str(v) if isinstance(v, Decimal) else v

    return [{"name": name, "fields": list(FIELDS[name]),
             "parameters": {p: {"min": s(lo), "max": s(hi), "default": s(d)} for p, (lo, hi, d) in spec.items()}}
            for name, spec in SPECS.items()]


def _bad(message: str, code: str) -> InvalidIndicatorParameter:
    return InvalidIndicatorParameter(message, code=code)


def parse_params(name: str, query: Mapping[str, str]) -> dict[str, Any]:
    """The indicator's parameters from a query string (ints; `k` a plain decimal), bounds checked."""
    spec = SPECS.get(name)
    if spec is None:
        raise UnknownIndicator()
    unknown = set(query) - COMMON - set(spec)
    if unknown:
        raise _bad(f"Unknown parameter(s) for {name}: {', '.join(sorted(unknown))}.", "unknown_parameter")
    out: dict[str, Any] = {}
    for param, (lo, hi, default) in spec.items():
        raw = query.get(param)
        if raw is None or raw == "":
            if default is not None:
                out[param] = default
            continue
        if isinstance(lo, Decimal):
            value: Any = Decimal(raw) if _DECIMAL.fullmatch(raw) else None
        else:
            value = int(raw) if _INT.fullmatch(raw) else None
        if value is None or not lo <= value <= hi:
            raise _bad(f"{param} must be a number between {lo} and {hi}.", f"invalid_{param}")
        out[param] = value
    if name == "macd" and out["fast"] >= out["slow"]:
        raise _bad("fast must be shorter than slow.", "invalid_fast")
    return out


def parse_window(query: Mapping[str, str]) -> tuple[str, int, int | None]:
    """(interval, limit, end_time) of the request."""
    interval = query.get("interval") or "1h"
    try:
        interval_ms(interval)
    except BadInterval:
        raise _bad("interval must look like 1m, 5m, 15m, 1h, 4h, 1d (or any Nm/Nh/Nd/Nw).", "invalid_interval") from None
    raw = query.get("limit")
    limit = DEFAULT_LIMIT
    if raw:
        limit = int(raw) if _INT.fullmatch(raw) else 0
        if not 1 <= limit <= MAX_LIMIT:
            raise _bad(f"limit must be between 1 and {MAX_LIMIT}.", "invalid_limit")
    end: int | None = None
    raw = query.get("end_time")
    if raw:
        end = int(raw) if _INT.fullmatch(raw) else -1
        if not 0 <= end <= MAX_TIME_MS:
            raise _bad(f"end_time must be epoch milliseconds between 0 and {MAX_TIME_MS}.", "invalid_end_time")
    return interval, limit, end


def warmup_of(name: str, params: dict[str, Any]) -> int:
    if name == "macd":
        return ind.warmup("macd", slow=params["slow"], signal=params["signal"])
    return ind.warmup(name, params.get("period") or 1)


async def read_candles(conn: Any, spec: MarketSpec, interval: str, count: int, end_ms: int | None) -> list[tuple]:
    """The newest `count` candles (open_ms, o, h, l, c, v, qv, n, first, last) up to end_ms, oldest first."""
    length = interval_ms(interval)
    source = interval if interval in STORED else source_interval(length)
    factor = length // STORED[source]
    fetch = (count + (1 if factor > 1 else 0)) * factor
    if fetch > MAX_SOURCE_ROWS:
        raise _bad("This interval needs too much history for these parameters; use a smaller period, limit "
                   "or interval.", "too_much_history")
    rows = await mdrepo.stored_candles(conn, spec.id, source, None, end_ms, fetch, newest=True)
    if factor > 1:
        full = len(rows) == fetch
        rows = merge_rows(rows, length)
        if full and rows:
            rows = rows[1:]   # the oldest bucket may have been cut by the row limit
    return rows[-count:]


def compute(name: str, params: dict[str, Any], rows: list[tuple]) -> list[tuple]:
    """Per candle, the tuple of FIELDS[name] values (Decimal or None), rounded for publication."""
    closes = [r[4] for r in rows]
    if name == "sma":
        values: list[Any] = [(v,) for v in ind.sma(closes, params["period"])]
    elif name == "ema":
        values = [(v,) for v in ind.ema(closes, params["period"])]
    elif name == "rsi":
        values = [(v,) for v in ind.rsi(closes, params["period"])]
    elif name == "macd":
        values = [m or (None, None, None) for m in ind.macd(closes, params["fast"], params["slow"], params["signal"])]
    elif name == "bollinger":
        values = [b or (None, None, None) for b in ind.bollinger(closes, params["period"], params["k"])]
    else:
        values = [(v,) for v in ind.vwap([r[0] for r in rows], [r[5] for r in rows], [r[6] for r in rows],
                                         params.get("period"))]
    return [tuple(ind.rounded(x) for x in v) for v in values]


def _s(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return "0" if value == 0 else format(value.normalize(), "f")


def series_dict(spec: MarketSpec, name: str, interval: str, params: dict[str, Any], rows: list[tuple],
                values: list[tuple], limit: int, now_ms: int) -> dict[str, Any]:
    length = interval_ms(interval)
    fields = FIELDS[name]
    out = []
    start = max(0, len(rows) - limit)
    for r, v in zip(rows[start:], values[start:]):
        item = {"open_time": r[0], "close_time": r[0] + length - 1, "closed": r[0] + length <= now_ms,
                "close": _s(r[4])}
        item.update({f: _s(x) for f, x in zip(fields, v)})
        out.append(item)
    return {"symbol": spec.symbol, "indicator": name, "interval": interval,
            "params": {k: (_s(v) if isinstance(v, Decimal) else v) for k, v in params.items()},
            "decimals": ind.OUT_DECIMALS, "values": out}
