"""Market-data use cases: depth, recent trades, tickers and candles, independent of HTTP.

On the replica that owns a market everything but candles comes from the engine's in-memory feed
(`feed.MarketFeed`), never from a query per request. A replica that does not own the market answers
from a short-TTL cache (TRADE_READ_CACHE_MS, default 500 ms) filled from the database's committed
state (open orders aggregated by price, the last trades, 1m candles): at most one query per market
and view per TTL whatever the request rate, and never ahead of what is committed (docs/trading.md).
Candles always come from trade.candle (written in the same transaction as the trades); intervals
other than the stored ones are aggregated from the largest stored interval that divides them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from ..common.errors import ServiceUnavailable
from ..common.markets import MarketSpec
from ..db.database import DB_DOWN
from . import repository as mdrepo
from .candles import STORED, BadInterval, interval_ms, merge_rows, source_interval
from .views import (DepthSnapshot, PublicTrade, Rolling24h, Ticker, depth_dict, depth_snapshot, make_ticker,
                    public_trade, ticker_dict, trade_dict)

MAX_TRADES = 1000
MAX_CANDLES = 1000


@dataclass(frozen=True, slots=True)
class Candle:
    open_time_ms: int
    close_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trade_count: int
    first_trade_id: int
    last_trade_id: int

    def to_dict(self) -> dict[str, Any]:
        def s(v: Decimal) -> str:
            return "0" if v == 0 else format(v.normalize(), "f")

        return {"open_time": self.open_time_ms, "close_time": self.close_time_ms, "open": s(self.open),
                "high": s(self.high), "low": s(self.low), "close": s(self.close), "volume": s(self.volume),
                "quote_volume": s(self.quote_volume), "trade_count": self.trade_count,
                "first_trade_id": self.first_trade_id, "last_trade_id": self.last_trade_id}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class _TTLCache:
    def __init__(self, ttl_s: float) -> None:
        self.ttl = ttl_s
        self._data: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any) -> Any:
        hit = self._data.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, key: Any, value: Any) -> Any:
        if len(self._data) > 10_000:
            self._data.clear()
        self._data[key] = (time.monotonic() + self.ttl, value)
        return value


class _ReadUnavailable:
    """Turn a database outage during a market-data read into 503 service_unavailable (not a 500)."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self._cm: Any = None

    async def __aenter__(self) -> Any:
        try:
            self._cm = self.db.acquire()
            return await self._cm.__aenter__()
        except DB_DOWN:
            raise ServiceUnavailable("Market data is temporarily unavailable.") from None

    async def __aexit__(self, *exc: Any) -> Any:
        result = await self._cm.__aexit__(*exc)
        if exc[0] is not None and issubclass(exc[0], DB_DOWN):
            raise ServiceUnavailable("Market data is temporarily unavailable.") from None
        return result


class MarketDataService:
    """`source` is the engine registry: spec(symbol) and engine(market_id) (with its `.feed`)."""

    def __init__(self, db: Any, source: Any, ttl_ms: int = 500) -> None:
        self.db = db
        self.source = source
        self._cache = _TTLCache(ttl_ms / 1000)

    def _feed(self, spec: MarketSpec) -> Any:
        engine = self.source.engines.get(spec.id)
        return engine.feed if engine is not None and engine.accepting and not engine.dirty else None

    # ------------------------------------------------------------------ depth
    async def _db_depth(self, spec: MarketSpec, limit: int) -> tuple[int, int, list, list]:
        key = ("depth", spec.id)
        hit = self._cache.get(key)
        if hit is not None and hit[4] >= limit:
            return hit[:4]
        fetch = max(limit, 100)
        async with _ReadUnavailable(self.db) as conn:
            uid, bids, asks = await mdrepo.depth_from_orders(conn, spec, fetch)
        value = self._cache.put(key, (uid, _now_ms(), bids, asks, fetch))
        return value[:4]

    async def depth_json(self, spec: MarketSpec, limit: int) -> bytes:
        feed = self._feed(spec)
        if feed is not None:
            return await feed.depth_json(limit)
        key = ("depth_json", spec.id, limit)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        uid, ms, bids, asks = await self._db_depth(spec, limit)
        return self._cache.put(key, orjson.dumps(depth_dict(spec, uid, ms, bids[:limit], asks[:limit])))

    async def depth(self, spec: MarketSpec, limit: int) -> DepthSnapshot:
        """Aggregated levels best first with the book's monotonically increasing update id."""
        feed = self._feed(spec)
        if feed is not None:
            return await feed.depth(limit)
        uid, ms, bids, asks = await self._db_depth(spec, limit)
        return depth_snapshot(spec, uid, ms, bids[:limit], asks[:limit])

    # ------------------------------------------------------------------ trades
    async def _db_recent(self, spec: MarketSpec) -> list[tuple]:
        key = ("trades", spec.id)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        async with _ReadUnavailable(self.db) as conn:
            rows = await mdrepo.recent_trade_tuples(conn, spec, MAX_TRADES)
        return self._cache.put(key, rows)

    async def _trade_tuples(self, spec: MarketSpec, limit: int, from_id: int | None,
                            start_ms: int | None, end_ms: int | None) -> list[tuple]:
        """Newest first (or, with from_id, ascending from that id)."""
        if from_id is not None:
            async with _ReadUnavailable(self.db) as conn:
                rows = await mdrepo.recent_trade_tuples(conn, spec, limit, from_id=from_id)
            return rows
        feed = self._feed(spec)
        rows = feed.recent(MAX_TRADES) if feed is not None else await self._db_recent(spec)
        if start_ms is not None or end_ms is not None:
            rows = [t for t in rows if (start_ms is None or t[5] >= start_ms) and (end_ms is None or t[5] <= end_ms)]
        return list(reversed(rows[-limit:])) if limit < len(rows) else list(reversed(rows))

    async def trades_json(self, spec: MarketSpec, limit: int, from_id: int | None = None) -> bytes:
        feed = self._feed(spec)
        if feed is not None and from_id is None:
            return feed.trades_json(limit)
        rows = await self._trade_tuples(spec, limit, from_id, None, None)
        return orjson.dumps([trade_dict(spec, t) for t in rows])

    async def recent_trades(self, spec: MarketSpec, limit: int = 500, from_id: int | None = None,
                            start_ms: int | None = None, end_ms: int | None = None) -> list[PublicTrade]:
        """Newest first; with `from_id`, ascending from that trade id (historical trades)."""
        rows = await self._trade_tuples(spec, limit, from_id, start_ms, end_ms)
        return [public_trade(spec, t) for t in rows]

    async def trades_from(self, spec: MarketSpec, *, from_id: int | None, start_ms: int | None, end_ms: int | None,
                          limit: int, newest: bool = False) -> list[PublicTrade]:
        """From the database, oldest first: the first `limit` trades from an id and/or a time (inclusive),
        or (newest=True) the last `limit` up to `end_ms` (the Binance adapter's historical lists)."""
        return await mdrepo.trades_from(self.db, spec, from_id=from_id, start_ms=start_ms, end_ms=end_ms,
                                        limit=limit, newest=newest)

    # ------------------------------------------------------------------ ticker
    async def ticker(self, spec: MarketSpec) -> Ticker:
        feed = self._feed(spec)
        if feed is not None:
            return await feed.ticker()
        key = ("ticker", spec.id)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        async with _ReadUnavailable(self.db) as conn:
            minutes = await mdrepo.minute_rows_24h(conn, spec)
        rolling = Rolling24h()
        rolling.load(minutes)
        _, _, bids, asks = await self._db_depth(spec, 1)
        now = _now_ms()
        t = make_ticker(spec, rolling.stats(now), now, bids[0] if bids else None, asks[0] if asks else None)
        return self._cache.put(key, t)

    async def ticker_json(self, spec: MarketSpec) -> bytes:
        feed = self._feed(spec)
        if feed is not None:
            return await feed.ticker_json()
        return orjson.dumps(ticker_dict(await self.ticker(spec)))

    async def tickers_json(self, specs: list[MarketSpec]) -> bytes:
        return b"[" + b",".join([await self.ticker_json(s) for s in specs]) + b"]"

    # ------------------------------------------------------------------ candles
    async def candles(self, spec: MarketSpec, interval: str, start_ms: int | None = None, end_ms: int | None = None,
                      limit: int = 500) -> list[Candle]:
        """OHLCV for any interval Nm/Nh/Nd/Nw, oldest first; stored ones read directly, others aggregated."""
        length = interval_ms(interval)   # raises BadInterval
        limit = max(1, min(limit, MAX_CANDLES))
        source = interval if interval in STORED else source_interval(length)
        factor = length // STORED[source]
        async with _ReadUnavailable(self.db) as conn:
            rows = await mdrepo.stored_candles(conn, spec.id, source, start_ms, end_ms, limit * factor,
                                               newest=start_ms is None)
        if source != interval:
            rows = merge_rows(rows, length)
            rows = rows[:limit] if start_ms is not None else rows[-limit:]
        return [Candle(r[0], r[0] + length - 1, r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]) for r in rows]


__all__ = ["MarketDataService", "Candle", "BadInterval"]
