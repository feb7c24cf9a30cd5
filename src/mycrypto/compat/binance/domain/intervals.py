"""Kline intervals as Binance names them, and the one interval the market-data service cannot build.

Every interval but `1M` is a fixed length that `marketdata.candles` aggregates from the stored
1m/5m/15m/1h/4h/1d candles (3m from 1m, 30m from 15m, 2h and 6h from 1h, 8h and 12h from 4h, 3d
from 1d, 1w from 1d on Mondays 00:00 UTC). A month has no fixed length, so `merge_months` groups
daily candles by calendar month (UTC), which is how Binance's `1M` klines are cut.
Rows are tuples (open_ms, close_ms, open, high, low, close, volume, quote_volume, count,
first_trade_id, last_trade_id), oldest first.
"""
from __future__ import annotations

from datetime import UTC, datetime

MINUTE = 60_000
INTERVALS: dict[str, int | None] = {
    "1m": MINUTE, "3m": 3 * MINUTE, "5m": 5 * MINUTE, "15m": 15 * MINUTE, "30m": 30 * MINUTE,
    "1h": 60 * MINUTE, "2h": 120 * MINUTE, "4h": 240 * MINUTE, "6h": 360 * MINUTE, "8h": 480 * MINUTE,
    "12h": 720 * MINUTE, "1d": 1440 * MINUTE, "3d": 3 * 1440 * MINUTE, "1w": 7 * 1440 * MINUTE,
    "1M": None,
}
MONTH = "1M"
DAYS_FOR_MONTHS = 1000   # the most daily candles one read fetches to build monthly ones (~32 months)


def month_start_ms(ts_ms: int) -> int:
    d = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    return int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp()) * 1000


def next_month_start_ms(ts_ms: int) -> int:
    d = datetime.fromtimestamp(month_start_ms(ts_ms) / 1000, tz=UTC)
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp()) * 1000


def merge_months(days: list[tuple]) -> list[tuple]:
    """Daily rows (oldest first) -> one row per calendar month, same tuple shape."""
    out: list[list] = []
    for open_ms, _close, o, h, lo, c, v, qv, n, first, last in days:
        start = month_start_ms(open_ms)
        if out and out[-1][0] == start:
            cur = out[-1]
            cur[3] = max(cur[3], h)
            cur[4] = min(cur[4], lo)
            cur[5] = c
            cur[6] += v
            cur[7] += qv
            cur[8] += n
            cur[10] = last
        else:
            out.append([start, next_month_start_ms(start) - 1, o, h, lo, c, v, qv, n, first, last])
    return [tuple(row) for row in out]
