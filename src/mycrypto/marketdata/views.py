"""Market-data values and their JSON, built from the engine's integers (ticks, lots, minor units).

The same functions render the owner's in-memory state and a non-owner replica's database snapshot,
so both answer with identical shapes. Amounts are canonical decimal strings, times are epoch ms.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from ..common.markets import MarketSpec
from .candles import add_trade

DAY_MS = 86_400_000
MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """Aggregated order book levels, best first, as (price, quantity) Decimals."""

    symbol: str
    update_id: int
    time_ms: int
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]


@dataclass(frozen=True, slots=True)
class PublicTrade:
    id: int
    price: Decimal
    quantity: Decimal
    quote_quantity: Decimal
    time_ms: int
    is_buyer_maker: bool


@dataclass(frozen=True, slots=True)
class Ticker:
    """Rolling 24h statistics (by whole minutes) plus the best bid and ask."""

    symbol: str
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    last: Decimal | None
    volume: Decimal
    quote_volume: Decimal
    trade_count: int
    first_trade_id: int | None
    last_trade_id: int | None
    open_time_ms: int
    close_time_ms: int
    best_bid: Decimal | None
    best_bid_qty: Decimal | None
    best_ask: Decimal | None
    best_ask_qty: Decimal | None

    @property
    def change(self) -> Decimal:
        if self.open is None or self.last is None:
            return Decimal(0)
        return self.last - self.open

    @property
    def change_percent(self) -> Decimal:
        if not self.open:
            return Decimal(0)
        return (self.change * 100 / self.open).quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN)

    @property
    def weighted_avg_price(self) -> Decimal:
        if not self.volume:
            return Decimal(0)
        return (self.quote_volume / self.volume).quantize(Decimal("0.00000001"), rounding=ROUND_HALF_EVEN)


def _s(value: Decimal | None) -> str | None:
    if value is None:
        return None
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


# ---------------------------------------------------------------------------- depth
def depth_dict(spec: MarketSpec, update_id: int, time_ms: int, bids: list, asks: list) -> dict:
    """bids/asks: (price_ticks, qty_lots, ...) best first."""
    ps, qs = spec.price_str, spec.qty_str
    # "seq" (= update_id) is the book sequence the streams' diffs carry (docs/streams.md: resync)
    return {"symbol": spec.symbol, "update_id": update_id, "seq": update_id, "time": time_ms,
            "bids": [[ps(level[0]), qs(level[1])] for level in bids],
            "asks": [[ps(level[0]), qs(level[1])] for level in asks]}


def depth_snapshot(spec: MarketSpec, update_id: int, time_ms: int, bids: list, asks: list) -> DepthSnapshot:
    return DepthSnapshot(spec.symbol, update_id, time_ms,
                         [(spec.price(b[0]), spec.qty(b[1])) for b in bids],
                         [(spec.price(a[0]), spec.qty(a[1])) for a in asks])


# ---------------------------------------------------------------------------- trades
# public trade tuples: (trade_id, price_ticks, qty_lots, cost_units, taker_side, ms)
def trade_dict(spec: MarketSpec, t: tuple) -> dict:
    return {"id": t[0], "price": spec.price_str(t[1]), "quantity": spec.qty_str(t[2]),
            "quote_quantity": spec.quote_str(t[3]), "time": t[5], "is_buyer_maker": t[4] == 1,
            "taker_side": "buy" if t[4] == 0 else "sell"}


def public_trade(spec: MarketSpec, t: tuple) -> PublicTrade:
    return PublicTrade(t[0], spec.price(t[1]), spec.qty(t[2]), spec.quote_amount(t[3]), t[5], t[4] == 1)


# ---------------------------------------------------------------------------- 24h ticker
class Rolling24h:
    """Per-minute buckets of the last 24 hours: minute_ms -> [o, h, l, c, v_lots, qv_units, n, first, last]."""

    __slots__ = ("buckets",)

    def __init__(self) -> None:
        self.buckets: dict[int, list] = {}

    def add(self, tid: int, px: int, q: int, cost: int, ms: int) -> None:
        add_trade(self.buckets, ms - ms % MINUTE_MS, tid, px, q, cost)

    def load(self, rows: list[tuple]) -> None:
        """rows: (minute_ms, o, h, l, c, v, qv, n, first, last) in time order (from 1m candles)."""
        for minute, *values in rows:
            self.buckets[minute] = list(values)

    def stats(self, now_ms: int) -> tuple | None:
        """(o, h, l, c, v, qv, n, first, last, open_ms) over the window, or None if no trade."""
        start = now_ms - now_ms % MINUTE_MS - DAY_MS + MINUTE_MS
        stale = [m for m in self.buckets if m < start]
        for m in stale:
            del self.buckets[m]
        result = None
        for minute in sorted(self.buckets):
            b = self.buckets[minute]
            if result is None:
                result = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8]]
                continue
            if b[1] > result[1]:
                result[1] = b[1]
            if b[2] < result[2]:
                result[2] = b[2]
            result[3] = b[3]
            result[4] += b[4]
            result[5] += b[5]
            result[6] += b[6]
            result[8] = b[8]
        return None if result is None else (*result, start)


def make_ticker(spec: MarketSpec, stats: tuple | None, now_ms: int, best_bid: tuple | None,
                best_ask: tuple | None) -> Ticker:
    start = now_ms - now_ms % MINUTE_MS - DAY_MS + MINUTE_MS
    bb = (spec.price(best_bid[0]), spec.qty(best_bid[1])) if best_bid else (None, None)
    ba = (spec.price(best_ask[0]), spec.qty(best_ask[1])) if best_ask else (None, None)
    if stats is None:
        return Ticker(spec.symbol, None, None, None, None, Decimal(0), Decimal(0), 0, None, None, start, now_ms,
                      bb[0], bb[1], ba[0], ba[1])
    o, h, lo, c, v, qv, n, first, last, _ = stats
    return Ticker(spec.symbol, spec.price(o), spec.price(h), spec.price(lo), spec.price(c), spec.qty(v),
                  spec.quote_amount(qv), n, first, last, start, now_ms, bb[0], bb[1], ba[0], ba[1])


def ticker_dict(t: Ticker) -> dict:
    return {"symbol": t.symbol, "open": _s(t.open), "high": _s(t.high), "low": _s(t.low), "last": _s(t.last),
            "change": _s(t.change), "change_percent": _s(t.change_percent),
            "weighted_avg_price": _s(t.weighted_avg_price), "volume": _s(t.volume),
            "quote_volume": _s(t.quote_volume), "trade_count": t.trade_count,
            "first_trade_id": t.first_trade_id, "last_trade_id": t.last_trade_id,
            "open_time": t.open_time_ms, "close_time": t.close_time_ms,
            "best_bid": _s(t.best_bid), "best_bid_qty": _s(t.best_bid_qty),
            "best_ask": _s(t.best_ask), "best_ask_qty": _s(t.best_ask_qty)}
