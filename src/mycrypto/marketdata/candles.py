"""Candles (OHLCV): interval arithmetic and the per-batch aggregation written to trade.candle. Pure.

Stored intervals are 1m 5m 15m 1h 4h 1d, aligned on the Unix epoch in UTC (so 1d starts at 00:00 UTC
and 4h at 00/04/08/... UTC). Any other interval a client asks for (3m, 2h, 3d, 1w ...) is aggregated
on read from the largest stored interval that divides it (`source_interval`); weeks start on Monday
00:00 UTC like Binance's.
"""
from __future__ import annotations

import re

MINUTE = 60_000
STORED = {"1m": MINUTE, "5m": 5 * MINUTE, "15m": 15 * MINUTE, "1h": 60 * MINUTE, "4h": 240 * MINUTE,
          "1d": 1440 * MINUTE}
STORED_ORDER = ("1m", "5m", "15m", "1h", "4h", "1d")
_UNITS = {"m": MINUTE, "h": 60 * MINUTE, "d": 1440 * MINUTE, "w": 7 * 1440 * MINUTE}
_INTERVAL = re.compile(r"^([1-9][0-9]{0,3})([mhdw])$")
WEEK_OFFSET = 4 * 1440 * MINUTE   # the epoch was a Thursday; Monday-aligned weeks start 4 days later
MAX_INTERVAL = 4 * 7 * 1440 * MINUTE


class BadInterval(ValueError):
    """An interval string we cannot serve."""


def interval_ms(interval: str) -> int:
    m = _INTERVAL.fullmatch(interval or "")
    if not m:
        raise BadInterval(interval)
    ms = int(m.group(1)) * _UNITS[m.group(2)]
    if ms > MAX_INTERVAL:
        raise BadInterval(interval)
    return ms


def source_interval(ms: int) -> str:
    """The largest stored interval whose length divides `ms` (1m always does)."""
    for name in reversed(STORED_ORDER):
        if ms % STORED[name] == 0:
            return name
    raise BadInterval(str(ms))


def bucket_start(ts_ms: int, length_ms: int) -> int:
    offset = WEEK_OFFSET if length_ms % (7 * 1440 * MINUTE) == 0 else 0
    return ts_ms - (ts_ms - offset) % length_ms


def batch_candles(trades: list[tuple]) -> list[tuple]:
    """Aggregate a batch's trades (engine tuples: tid, taker, maker, side, px, q, cost, ..., ms last)
    into one row per (interval, open time): (interval, open_ms, o, h, l, c, volume_lots, quote_units,
    count, first_trade_id, last_trade_id). Trades arrive in id order, so open/close are first/last."""
    acc: dict[tuple[str, int], list] = {}
    for t in trades:
        tid, px, q, cost, ms = t[0], t[4], t[5], t[6], t[11]
        for name in STORED_ORDER:
            length = STORED[name]
            add_trade(acc, (name, ms - ms % length), tid, px, q, cost)
    return [(k[0], k[1], *v) for k, v in acc.items()]


def add_trade(buckets: dict, key: object, tid: int, px: int, q: int, cost: int) -> None:
    """Fold one trade (in id order) into buckets[key] = [o, h, l, c, volume, quote volume, count,
    first trade id, last trade id], opening the bucket if it is new."""
    b = buckets.get(key)
    if b is None:
        buckets[key] = [px, px, px, px, q, cost, 1, tid, tid]
        return
    if px > b[1]:
        b[1] = px
    if px < b[2]:
        b[2] = px
    b[3] = px
    b[4] += q
    b[5] += cost
    b[6] += 1
    b[8] = tid


def merge_rows(rows: list[tuple], length_ms: int) -> list[tuple]:
    """Aggregate stored candles (open_ms, o, h, l, c, v, qv, n, first, last), sorted by open_ms, into
    `length_ms` buckets; same tuple shape. Values may be Decimal or int."""
    out: list[list] = []
    for open_ms, o, h, lo, c, v, qv, n, first, last in rows:
        start = bucket_start(open_ms, length_ms)
        if out and out[-1][0] == start:
            cur = out[-1]
            if h > cur[2]:
                cur[2] = h
            if lo < cur[3]:
                cur[3] = lo
            cur[4] = c
            cur[5] += v
            cur[6] += qv
            cur[7] += n
            cur[9] = last
        else:
            out.append([start, o, h, lo, c, v, qv, n, first, last])
    return [tuple(x) for x in out]
