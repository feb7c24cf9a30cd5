"""Request weights, as Binance counts them against REQUEST_WEIGHT per minute per IP.

The weight is the cost a request takes from the caller's token bucket (`common.ratelimit`), so a
client that paces itself for Binance's limits paces itself correctly here too.
"""
from __future__ import annotations

from collections.abc import Callable

from .params import Params

Weight = Callable[[Params], int]


def fixed(n: int) -> Weight:
    return lambda _p: n


def depth(p: Params) -> int:
    raw = p.get("limit")
    limit = int(raw) if raw is not None and raw.isdigit() else 100
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


def _symbol_count(p: Params) -> int | None:
    if p.has("symbol"):
        return 1
    raw = p.get("symbols")
    if raw is None:
        return None
    return max(1, raw.count(",") + 1)


def ticker_24hr(p: Params) -> int:
    n = _symbol_count(p)
    if n is None:
        return 80
    if n <= 20:
        return 2
    return 40 if n <= 100 else 80


def ticker_light(p: Params) -> int:
    """ticker/price and ticker/bookTicker: 2 for one symbol, 4 for several or all."""
    return 2 if p.has("symbol") else 4


def open_orders(p: Params) -> int:
    return 6 if p.has("symbol") else 80


def my_trades(p: Params) -> int:
    return 5 if p.has("orderId") else 20
