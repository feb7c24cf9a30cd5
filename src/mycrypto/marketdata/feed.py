"""The owner's in-memory market data for one market: depth, recent trades and the 24h ticker.

Updated by the market's engine right after each group commit, and only then, so a reader never
sees an order that is not committed. The engine mutates its book while a batch is being matched and
committed; `clean` is False during that window. Depth is captured from the book lazily while it is
clean and cached per book version (`update_id`), together with pre-serialised JSON bytes per depth
limit, so a depth request is a dict lookup and a bytes write. A request that finds no snapshot of the
current version while a batch is in flight waits for the batch (milliseconds) instead of reading an
uncommitted book.

`listeners` get every committed batch right after it is applied here (the engine's "batch
committed" point) as one `events.CommittedBatch` (trades, changed levels and orders, the update id),
and a `reset` one after each rebuild of the book. The registry shares one list with every engine
(`EngineRegistry.feed_listeners`: alerts, streams). They run on the sequencer's path, so they must only
hand the batch over (append it to their own queue) and never block or await; one that raises is
logged and skipped.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

from ..common.markets import MarketSpec
from .events import Captured, CommittedBatch, capture
from .views import (DepthSnapshot, Rolling24h, Ticker, depth_dict, depth_snapshot, make_ticker, public_trade,
                    ticker_dict, trade_dict)

RECENT_TRADES = 1000
MIN_CAPTURE = 100          # levels per side captured at least (so most depth limits share one capture)
MAX_DEPTH = 5000
CAPTURED_PER_BATCH = 100   # levels per side the engine captures with each pipelined batch

log = logging.getLogger("mycrypto.marketdata.feed")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class MarketFeed:
    def __init__(self, spec: MarketSpec) -> None:
        self.spec = spec
        self.book: Any = None
        self.update_id = 0
        self.update_ms = now_ms()
        self.trades: deque[tuple] = deque(maxlen=RECENT_TRADES)
        self.rolling = Rolling24h()
        self.clean = True
        self._clean_event = asyncio.Event()
        self._clean_event.set()
        self._levels: tuple[int, int, list, list] | None = None   # (update_id, captured, bids, asks)
        self._depth_json: dict[int, bytes] = {}
        self._depth_msgs: dict[int, tuple[int, dict, dict]] = {}
        self._trades_json: dict[int, bytes] = {}
        self._ticker: tuple[tuple, Ticker, bytes] | None = None
        self.listeners: list[Callable[[CommittedBatch], None]] = []

    # ------------------------------------------------------------------ engine side
    def reset(self, book: Any, update_id: int, recent: list[tuple], minute_rows: list[tuple]) -> None:
        """After a (re)build: the book, its update id, recent public trades and 24h of 1m candles."""
        self.book = book
        self.update_id = update_id
        self.update_ms = now_ms()
        self.trades.clear()
        self.trades.extend(recent)
        self.rolling = Rolling24h()
        self.rolling.load(minute_rows)
        self._invalidate(trades=True)
        self.set_clean(True)

    def set_clean(self, clean: bool) -> None:
        self.clean = clean
        if clean:
            self._clean_event.set()
        else:
            self._clean_event.clear()

    @staticmethod
    def capture(batch: Any, book: Any) -> Captured:
        """The batch's changed levels and orders, taken right after it was matched (events.capture)."""
        return capture(batch, book)

    def rebuilt(self, book: Any, update_id: int) -> None:
        """The engine rebuilt its book from the database: readers see it, listeners get a reset."""
        self.book = book
        self.update_id = update_id
        self._invalidate(trades=False)
        self.set_clean(True)
        self._publish(CommittedBatch(self.spec, update_id, now_ms(), reset=True))

    def _publish(self, event: CommittedBatch) -> None:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # a listener's bug must not fail the sequencer that committed the batch
                log.exception("market feed listener failed", extra={"market": self.spec.symbol})

    def committed(self, trades: list[tuple], update_id: int, ms: int, book: Any, levels: tuple | None = None,
                  clean: bool = True, captured: Captured | None = None) -> None:
        """A batch committed: `trades` are engine trade tuples (see Batch.trades). With a pipelined
        engine the book may already hold the next, uncommitted batch (`clean` False): then `levels`
        ((bids, asks) captured right after this batch) is what readers get for this version."""
        self.book = book
        self.update_id = update_id
        self.update_ms = ms
        for t in trades:
            tid, px, q, cost, side, t_ms = t[0], t[4], t[5], t[6], t[3], t[11]
            self.trades.append((tid, px, q, cost, side, t_ms))
            self.rolling.add(tid, px, q, cost, t_ms)
        self._invalidate(trades=bool(trades))
        if levels is not None:
            self._levels = (update_id, CAPTURED_PER_BATCH, levels[0], levels[1])
        self.set_clean(clean)
        if self.listeners:
            self._publish(CommittedBatch(self.spec, update_id, ms, trades, captured))

    def _invalidate(self, trades: bool) -> None:
        self._levels = None
        self._depth_json.clear()
        self._depth_msgs.clear()
        if trades:
            self._trades_json.clear()
        self._ticker = None

    # ------------------------------------------------------------------ depth
    async def _captured(self, limit: int) -> tuple[int, int, list, list]:
        levels = self._levels
        while levels is None or (levels[0] != self.update_id) or (levels[1] < limit and levels[1] < MAX_DEPTH):
            if not self.clean:
                try:
                    await asyncio.wait_for(self._clean_event.wait(), 5)
                except TimeoutError:
                    pass
                if not self.clean:
                    if levels is not None:
                        return levels   # the last committed capture; better than waiting forever
                    raise TimeoutError("market engine busy")
            captured = max(limit, MIN_CAPTURE)
            bids, asks = self.book.depth(captured)
            levels = self._levels = (self.update_id, captured, bids, asks)
        return levels

    def cached_depth_messages(self, limit: int) -> tuple[dict, dict] | None:
        """depth_messages when they are already built for the current version (no coroutine: the
        order-book fast path answers most reads from here)."""
        cached = self._depth_msgs.get(limit)
        if cached is not None and cached[0] == self.update_id and self._levels is not None \
                and self._levels[0] == self.update_id:
            return cached[1], cached[2]
        return None

    async def depth_messages(self, limit: int) -> tuple[dict, dict]:
        """The ASGI response messages (start, body) of depth_json, built once per version and limit
        (shared: the fast path sends a copy of `start`, whose headers middleware may extend in place)."""
        cached = self.cached_depth_messages(limit)
        if cached is not None:
            return cached
        version = self.update_id
        body = await self.depth_json(limit)
        start = {"type": "http.response.start", "status": 200,
                 "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
        msg = {"type": "http.response.body", "body": body}
        if version == self.update_id:
            self._depth_msgs[limit] = (version, start, msg)
        return start, msg

    async def depth_json(self, limit: int) -> bytes:
        body = self._depth_json.get(limit)
        if body is not None and self._levels is not None and self._levels[0] == self.update_id:
            return body
        uid, _, bids, asks = await self._captured(limit)
        body = orjson.dumps(depth_dict(self.spec, uid, self.update_ms, bids[:limit], asks[:limit]))
        if uid == self.update_id:
            self._depth_json[limit] = body
        return body

    async def depth(self, limit: int) -> DepthSnapshot:
        uid, _, bids, asks = await self._captured(limit)
        return depth_snapshot(self.spec, uid, self.update_ms, bids[:limit], asks[:limit])

    async def best(self) -> tuple[tuple | None, tuple | None]:
        _, _, bids, asks = await self._captured(1)
        return (bids[0] if bids else None), (asks[0] if asks else None)

    # ------------------------------------------------------------------ trades
    def recent(self, limit: int) -> list[tuple]:
        n = len(self.trades)
        if limit >= n:
            return list(self.trades)
        return [self.trades[i] for i in range(n - limit, n)]

    def trades_json(self, limit: int) -> bytes:
        body = self._trades_json.get(limit)
        if body is None:
            spec = self.spec
            body = orjson.dumps([trade_dict(spec, t) for t in reversed(self.recent(limit))])
            self._trades_json[limit] = body
        return body

    def public_trades(self, limit: int) -> list:
        return [public_trade(self.spec, t) for t in reversed(self.recent(limit))]

    # ------------------------------------------------------------------ ticker
    async def ticker(self) -> Ticker:
        now = now_ms()
        key = (self.update_id, now // 1000)
        cached = self._ticker
        if cached is not None and cached[0] == key:
            return cached[1]
        bid, ask = await self.best()
        t = make_ticker(self.spec, self.rolling.stats(now), now, bid, ask)
        self._ticker = (key, t, orjson.dumps(ticker_dict(t)))
        return t

    async def ticker_json(self) -> bytes:
        await self.ticker()
        assert self._ticker is not None
        return self._ticker[2]
