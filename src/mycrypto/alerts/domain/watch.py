"""One market's alerts as a pure state machine: committed trades in (id order), firings out.

`MarketWatch` keeps one trigger book (trading.domain.triggers) per watched value series and the
series' inputs: the last trade price, the 1m closes a % change looks back into, and the closed
candles of every interval an indicator alert uses. For each trade:

1. alerts created after an earlier trade (their `since_trade_id`) join the books now (placed against
   the series' current values, so they never fire on what happened before them);
2. every interval whose candle the trade leaves behind closes that candle (close = the previous
   trade's price): its indicator series get their next value at seq = the candle's open time;
3. the price book gets the trade price (seq = trade id) and each % change window its change.

An alert created while the watch was already past its `since_trade_id` (the last trade id when it
was created: the evaluator hears of it a few milliseconds later) is first evaluated alone against
what happened since (`add` backfills it from the recent trades, or from trades the caller read back),
then joins the books: the result is the same as if it had been known at `since_trade_id`. Once
"adopted" (recorded by the evaluator), a restart treats it like any other alert.

Candles also close on time without a new trade (`close_due`, the evaluator's timer). Indicator
values are the API's (marketdata.indicators, rounded to 8 decimals): each indicator series keeps a
running indicator, started over the last `history(...)` closed candles (its warm-up) and fed each
closing candle in O(1), so an alert fires when the values GET /api/v1/trade/indicators shows cross.

Deterministic: the same trades (and the same loaded history) give the same firings, which is what
lets a new owner replay the trades after the persisted cursor without firing anything twice
(triggers skip a seq at or before their last firing; the database refuses it as well).
"""
from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any

from ...marketdata import indicators as ind
from ...trading.domain.triggers import Fired, Trigger, TriggerBook
from .conditions import INTERVALS, WINDOWS, Condition

MINUTE = 60_000
HUNDRED = Decimal(100)
CTX = Context(prec=ind.PRECISION)   # explicit context: no context switch per trade
RECENT_TRADES = 20_000     # trades kept to backfill a new alert (ms to seconds of a busy market)
MAX_HISTORY = 50_000       # closed candles of one interval kept at most


@dataclass(slots=True)
class WatchedAlert:
    id: int
    condition: Condition
    repeating: bool = False
    cooldown_s: int = 0
    since_trade_id: int = 0
    last_fired_seq: int | None = None
    last_fired_ms: int | None = None
    adopted: bool = False        # already evaluated from since_trade_id on (by us or an earlier owner)


@dataclass(frozen=True, slots=True)
class Firing:
    """An alert fired: at series position `seq` (trade id, or candle open time for indicators), caused by
    trade `trade_id` at `price` (a candle: its last trade and close), watched value `value`, time `ms`."""

    alert_id: int
    seq: int
    trade_id: int
    price: Decimal
    value: Decimal | None
    ms: int


def history(condition: Condition) -> tuple[str, int] | None:
    """(interval, closed candles) a condition needs in memory, or None (price alerts need none)."""
    c = condition
    if c.type == "change":
        return "1m", WINDOWS[c.window] // MINUTE + 2   # type: ignore[index]
    if c.candle_based:
        return c.interval, _window(c.series_key)   # type: ignore[return-value]
    return None


class _Candles:
    """Closed candles of one interval (open times and closes) and the bucket being formed."""

    __slots__ = ("length", "opens", "closes", "tids", "open_ms", "open_last_tid", "last_closed", "keep", "loaded")

    def __init__(self, length: int) -> None:
        self.length = length
        self.opens: list[int] = []
        self.closes: list[Decimal] = []
        self.tids: list[int] = []             # the last trade id of each closed candle
        self.open_ms: int | None = None       # the bucket that has trades and is not closed yet
        self.open_last_tid = 0
        self.last_closed: int | None = None   # open time of the newest closed bucket
        self.keep = 0                         # closes kept (the longest history an alert needs)
        self.loaded = 0                       # closes asked from the database at the last load

    def append(self, open_ms: int, close: Decimal, last_tid: int) -> None:
        self.opens.append(open_ms)
        self.closes.append(close)
        self.tids.append(last_tid)
        self.last_closed = open_ms
        if len(self.closes) > self.keep + 1024:   # trim in chunks (amortised O(1))
            for column in (self.opens, self.closes, self.tids):
                del column[:-self.keep or None]


class MarketWatch:
    """The alerts of one market. Prices in ticks (`tick_size` converts), times in epoch ms."""

    def __init__(self, tick_size: Decimal, grace_ms: int = 2000) -> None:
        self.tick_size = tick_size
        self.grace_ms = grace_ms
        self.position = 0                  # the last trade id processed
        self.last_ticks: int | None = None
        self.last_ms: int | None = None
        self.alerts: dict[int, WatchedAlert] = {}
        self.books: dict[tuple, TriggerBook] = {}
        self.candles: dict[str, _Candles] = {}
        self._members: dict[tuple, set[int]] = {}   # series key -> alert ids (to drop empty books)
        self._windows: list[str] = []                 # % change windows with a book
        self._timed: set[str] = set()                 # intervals with an indicator book
        self._states: dict[tuple, Any] = {}           # indicator series key -> its running indicator
        self._pending: list[tuple[int, int]] = []    # (since_trade_id, alert id) not yet active
        self.recent: deque[tuple[int, int, int]] = deque(maxlen=RECENT_TRADES)   # (id, ticks, ms)

    # ------------------------------------------------------------------ set-up
    def start(self, position: int, last_trade: tuple[int, int, int] | None) -> None:
        """Begin after trade `position`; `last_trade` = (id, price ticks, ms) of the last trade at or
        before it (None if the market has none)."""
        self.position = position
        if last_trade is not None:
            self.last_ticks, self.last_ms = last_trade[1], last_trade[2]
            for c in self.candles.values():
                self._open_bucket(c, last_trade[2], last_trade[0])

    def needs_history(self, condition: Condition, back_to_ms: int | None = None) -> tuple[str, int] | None:
        """(interval, closed candles to load) before `add`, or None if memory already has enough.
        `back_to_ms`: the alert is backfilled from a trade at that time (see backfills), so the
        history must reach back that far too."""
        need = history(condition)
        if need is None:
            return None
        interval, count = need
        if back_to_ms is not None and self.last_ms is not None and self.last_ms > back_to_ms:
            length = INTERVALS[interval]
            count = min(count + (self.last_ms - back_to_ms) // length + 2, MAX_HISTORY)
        c = self.candles.get(interval)
        if c is not None and c.loaded >= count:
            return None
        return interval, count

    def backfills(self, alert: WatchedAlert) -> bool:
        """Will `add` evaluate this alert against trades already processed (created before the position,
        not adopted yet)? Then pass the time of its since_trade_id to needs_history."""
        return not alert.adopted and alert.since_trade_id < self.position

    def recent_ms(self, trade_id: int) -> int | None:
        """The time of a trade still in memory (None: ask the database)."""
        recent = self.recent
        if recent and recent[0][0] <= trade_id <= recent[-1][0]:
            i = trade_id - recent[0][0]   # (trade ids are dense per market; if not, ask the database)
            if i < len(recent) and recent[i][0] == trade_id:
                return recent[i][2]
        return None

    def history_boundary(self, interval: str) -> int | None:
        """Load closed candles that opened before this time (and ended at or before the position):
        the bucket the last processed trade is in is still open. None: nothing can be closed yet."""
        if self.last_ms is None:
            return None
        c = self.candles.get(interval)
        if c is not None and c.open_ms is None and c.last_closed is not None:
            return c.last_closed + c.length
        return self.last_ms - self.last_ms % INTERVALS[interval]

    def load_history(self, interval: str, rows: list[tuple[int, Decimal, int]], asked: int) -> None:
        """Closed candles (open ms, close, last trade id) oldest first, read from the database as of
        the position."""
        c = self._candles(interval)
        c.opens = [r[0] for r in rows]
        c.closes = [r[1] for r in rows]
        c.tids = [r[2] for r in rows]
        c.last_closed = c.opens[-1] if c.opens else c.last_closed
        c.loaded = max(c.loaded, asked)
        c.keep = max(c.keep, asked)

    def _candles(self, interval: str) -> _Candles:
        c = self.candles.get(interval)
        if c is None:
            c = self.candles[interval] = _Candles(INTERVALS[interval])
            if self.last_ms is not None:
                self._open_bucket(c, self.last_ms, self.position)
        return c

    # ------------------------------------------------------------------ alerts
    def needs_trades(self, alert: WatchedAlert) -> bool:
        """Must the caller read the trades after the alert's since_trade_id (and that trade) for `add`?
        (A price or % change alert to backfill beyond the recent trades kept in memory.)"""
        if alert.adopted or alert.since_trade_id >= self.position or alert.condition.candle_based:
            return False
        recent = self.recent
        return not recent or recent[0][0] > max(alert.since_trade_id, 1)

    def add(self, alert: WatchedAlert, trades: list[tuple[int, int, int]] | None = None) -> list[Firing]:
        """Watch an alert (load its candle history first, see needs_history). It is evaluated from
        after trade `since_trade_id`: pending until the trades reach it; or, when they are past it and
        it is not adopted yet, backfilled at once (the firings are returned) - from `trades` ((id, ticks,
        ms) from the one at or before since_trade_id to the position, see needs_trades) or from memory."""
        self.remove(alert.id)
        self.alerts[alert.id] = alert
        need = history(alert.condition)
        if need is not None:
            c = self._candles(need[0])
            c.keep = max(c.keep, need[1])
        if alert.since_trade_id >= self.position:
            heapq.heappush(self._pending, (alert.since_trade_id, alert.id))
            return []
        fired = [] if alert.adopted else self._backfill(alert, trades)
        if alert.repeating or not fired:
            self._activate(alert)
        else:
            del self.alerts[alert.id]      # a one-shot that fired in the backfill is done
        return fired

    def _backfill(self, alert: WatchedAlert, trades: list[tuple[int, int, int]] | None) -> list[Firing]:
        """Evaluate one alert alone over what happened after its since_trade_id (a one-trigger book fed
        the same values its series' book got); its trigger keeps the state it ends in."""
        c = alert.condition
        since = alert.since_trade_id
        trigger = self._trigger(alert)
        out: list[Firing] = []
        if not c.candle_based:
            rows = list(trades if trades is not None else self.recent)
            before = [r for r in rows if r[0] <= since]
            book = TriggerBook(self._value(c, before[-1]) if before else None)
            book.add(trigger)
            for tid, ticks, ms in rows:
                if tid <= since or tid > self.position:
                    continue
                price = self.tick_size * ticks
                value = ticks if c.type == "price" else self._change(c.window, price, ms)
                for f in book.update(value, tid, ms):
                    out.append(Firing(f.key, tid, tid, price, None if c.type == "price" else value, ms))
        else:
            candles = self._candles(c.interval)   # type: ignore[arg-type]
            # candles whose close came after since (their last trade is at or after it: like a pending alert,
            # which joins before the trade after since - the one that closes such a candle)
            first = bisect_left(candles.tids, since)
            book = TriggerBook(_indicator(c.series_key, candles.closes[:first]) if first else None)
            book.add(trigger)
            for j in range(first, len(candles.closes)):
                value = _indicator(c.series_key, candles.closes[:j + 1])
                open_ms = candles.opens[j]
                for f in book.update(value, open_ms, open_ms + candles.length):
                    out.append(Firing(f.key, open_ms, candles.tids[j], candles.closes[j], value,
                                      open_ms + candles.length))
        alert.last_fired_seq, alert.last_fired_ms = trigger.last_fired_seq, trigger.last_fired_ms
        return out

    def _value(self, c: Condition, trade: tuple[int, int, int]) -> Any:
        if c.type == "price":
            return trade[1]
        return self._change(c.window, self.tick_size * trade[1], trade[2])

    def _trigger(self, alert: WatchedAlert) -> Trigger:
        c = alert.condition
        return Trigger(alert.id, c.trigger_direction, c.trigger_level(self.tick_size), alert.repeating,
                       alert.cooldown_s * 1000, alert.last_fired_seq, alert.last_fired_ms)

    def remove(self, alert_id: int) -> WatchedAlert | None:
        alert = self.alerts.pop(alert_id, None)
        if alert is None:
            return None
        key = alert.condition.series_key
        book = self.books.get(key)
        if book is not None:
            book.remove(alert_id)
            members = self._members.get(key)
            if members is not None:
                members.discard(alert_id)
                if not members:
                    del self._members[key]
                    del self.books[key]
                    self._books_changed()
        return alert   # (a pending entry is skipped when it comes up)

    def _activate(self, alert: WatchedAlert) -> None:
        c = alert.condition
        key = c.series_key
        book = self.books.get(key)
        if book is None:
            if c.candle_based:
                # the indicator runs from here on, one close at a time (O(1) per candle)
                candles = self._candles(c.interval)   # type: ignore[arg-type]
                self._states[key], current = _running(key, candles.closes)
            else:
                current = self._current(c)
            book = self.books[key] = TriggerBook(current)
            self._members[key] = set()
            self._books_changed()
        self._members[key].add(alert.id)
        book.add(self._trigger(alert))

    def _books_changed(self) -> None:
        self._windows = [w for w in WINDOWS if ("change", w) in self.books]
        self._timed = {k[1] for k in self.books if k[0] not in ("price", "change")}
        for key in [k for k in self._states if k not in self.books]:
            del self._states[key]

    def _current(self, c: Condition) -> Any:
        """The series' value now (the reference new triggers are placed against)."""
        if c.type == "price":
            return self.last_ticks
        if c.type == "change":
            if self.last_ticks is None:
                return None
            return self._change(c.window, self.tick_size * self.last_ticks, self.last_ms)  # type: ignore[arg-type]
        raise ValueError("indicator series start from their running state")   # (see _activate)

    def _activate_pending(self, trade_id: int) -> None:
        pending = self._pending
        while pending and pending[0][0] < trade_id:
            since, alert_id = heapq.heappop(pending)
            alert = self.alerts.get(alert_id)
            if alert is not None and alert.since_trade_id == since and alert_id not in self.books.get(
                    alert.condition.series_key, ()):
                self._activate(alert)

    # ------------------------------------------------------------------ trades and time
    def trade(self, trade_id: int, ticks: int, ms: int) -> list[Firing]:
        """The next committed trade (ids increase; an id already processed is ignored)."""
        if trade_id <= self.position:
            return []
        self.recent.append((trade_id, ticks, ms))
        out: list[Firing] = []
        if self._pending:
            self._activate_pending(trade_id)
        for interval, c in self.candles.items():
            bucket = ms - ms % c.length
            if c.open_ms is None:
                self._open_bucket(c, ms, trade_id)
            elif bucket > c.open_ms:
                self._close(interval, c, out)
                self._open_bucket(c, ms, trade_id)
            else:
                c.open_last_tid = trade_id
        self.position, self.last_ticks, self.last_ms = trade_id, ticks, ms
        book = self.books.get(("price",))
        if book is not None:
            for f in book.update(ticks, trade_id, ms):
                out.append(Firing(f.key, trade_id, trade_id, self.tick_size * ticks, None, ms))
        if self._windows:
            price = self.tick_size * ticks
            for window in self._windows:
                value = self._change(window, price, ms)
                for f in self.books[("change", window)].update(value, trade_id, ms):
                    out.append(Firing(f.key, trade_id, trade_id, price, value, ms))
        return self._done(out)

    def close_due(self, now_ms: int) -> list[Firing]:
        """Close the candles whose time is over (plus the grace for commits still in flight)."""
        out: list[Firing] = []
        for interval, c in self.candles.items():
            if c.open_ms is not None and now_ms >= c.open_ms + c.length + self.grace_ms:
                self._close(interval, c, out)
        return self._done(out)

    def _done(self, out: list[Firing]) -> list[Firing]:
        """A one-shot alert that fired is finished: forget it (its trigger already left its book)."""
        for f in out:
            alert = self.alerts.get(f.alert_id)
            if alert is not None and not alert.repeating:
                self.remove(f.alert_id)
        return out

    def next_due_ms(self) -> int | None:
        """When close_due next has something to do for an indicator alert (None: nothing pending)."""
        times = [c.open_ms + c.length + self.grace_ms for i, c in self.candles.items()
                 if c.open_ms is not None and i in self._timed]
        return min(times) if times else None

    def _open_bucket(self, c: _Candles, ms: int, trade_id: int) -> None:
        bucket = ms - ms % c.length
        if c.last_closed is not None and bucket <= c.last_closed:
            # a trade stamped inside a bucket already closed by the timer (its commit came after the
            # grace): it counts for the next bucket rather than reopening a published candle
            bucket = c.last_closed + c.length
        c.open_ms, c.open_last_tid = bucket, trade_id

    def _close(self, interval: str, c: _Candles, out: list[Firing]) -> None:
        open_ms, close_tid = c.open_ms, c.open_last_tid
        assert open_ms is not None and self.last_ticks is not None
        close = self.tick_size * self.last_ticks
        c.append(open_ms, close, close_tid)
        c.open_ms = None
        end_ms = open_ms + c.length
        for key, book in self.books.items():
            if len(key) > 2 and key[1] == interval:
                value = _series_value(key, self._states[key].update(close), close)
                for f in book.update(value, open_ms, end_ms):
                    out.append(Firing(f.key, open_ms, close_tid, close, value, end_ms))

    def _change(self, window: str | None, price: Decimal, ms: int) -> Decimal | None:
        """% change of `price` against the price `window` ago: the close of the last whole minute that
        ended at or before ms - window."""
        minutes = self.candles.get("1m")
        if minutes is None:
            return None
        i = bisect_right(minutes.opens, ms - WINDOWS[window] - MINUTE) - 1   # type: ignore[index]
        if i < 0:
            return None
        ref = minutes.closes[i]
        return ind.rounded(CTX.divide(CTX.multiply(price - ref, HUNDRED), ref))


def _state(key: tuple) -> Any:
    """A fresh running indicator (marketdata.indicators) for an indicator series key."""
    kind = key[0]
    if kind == "rsi":
        return ind.Rsi(key[2])
    if kind == "sma_cross":
        return ind.Sma(key[2])
    if kind == "ema_cross":
        return ind.Ema(key[2])
    if kind == "macd_cross":
        return ind.Macd(*key[2:])
    raise ValueError(f"not an indicator series: {key!r}")


def _window(key: tuple) -> int:
    """Closes an indicator is computed over (its warm-up, see marketdata.indicators)."""
    kind = key[0]
    if kind == "sma_cross":
        return key[2]
    if kind == "macd_cross":
        return ind.warmup("macd", slow=key[3], signal=key[4]) + 1
    return ind.warmup("rsi" if kind == "rsi" else "ema", key[2]) + 1


def _series_value(key: tuple, raw: Any, close: Decimal) -> Decimal | None:
    """The watched value from the indicator's value at a candle: RSI itself, close - average, or
    MACD line - signal (each term as the API publishes it)."""
    if raw is None:
        return None
    kind = key[0]
    if kind == "rsi":
        return ind.rounded(raw)
    if kind == "macd_cross":
        return ind.rounded(ind.rounded(raw[0]) - ind.rounded(raw[1]))
    return ind.rounded(close - ind.rounded(raw))


def _running(key: tuple, closes: list[Decimal]) -> tuple[Any, Decimal | None]:
    """(a running indicator fed the last closes it needs, the series value at the newest close)."""
    state = _state(key)
    raw = None
    for close in closes[-_window(key):]:
        raw = state.update(close)
    return state, _series_value(key, raw, closes[-1]) if closes else None


def _indicator(key: tuple, closes: list[Decimal]) -> Decimal | None:
    """An indicator series' value at the newest of `closes` (None: not enough candles yet)."""
    return _running(key, closes)[1]


__all__ = ["MarketWatch", "WatchedAlert", "Firing", "Fired", "history"]
