"""Candle arithmetic, the rolling 24h ticker and the in-memory feed (pure, no database)."""
from decimal import Decimal as D

import pytest

from mycrypto.marketdata.candles import (MINUTE, BadInterval, batch_candles, bucket_start, interval_ms, merge_rows,
                                         source_interval)
from mycrypto.marketdata.feed import MarketFeed, now_ms
from mycrypto.marketdata.views import DAY_MS, Rolling24h
from mycrypto.common.markets import MarketSpec
from mycrypto.trading.domain.matching import OrderBook

SPEC = MarketSpec.build(id=1, symbol="BTC-USDT", base="BTC", quote="USDT", base_decimals=8, quote_decimals=8,
                        tick_size=D("0.01"), lot_size=D("0.00001"), min_qty=D("0.00001"), max_qty=D("9000"),
                        min_notional=D("5"), maker_fee=D("0.0008"), taker_fee=D("0.0010"))


def test_intervals():
    assert interval_ms("1m") == MINUTE and interval_ms("4h") == 240 * MINUTE and interval_ms("1w") == 7 * 1440 * MINUTE
    assert source_interval(interval_ms("3m")) == "1m" and source_interval(interval_ms("10m")) == "5m"
    assert source_interval(interval_ms("2h")) == "1h" and source_interval(interval_ms("8h")) == "4h"
    assert source_interval(interval_ms("3d")) == "1d" and source_interval(interval_ms("1w")) == "1d"
    for bad in ("", "0m", "1M", "5s", "10000d", "1.5h"):
        with pytest.raises(BadInterval):
            interval_ms(bad)
    monday = 1_700_438_400_000          # 2023-11-20 00:00 UTC, a Monday
    assert bucket_start(monday + 5 * 3600_000, interval_ms("1w")) == monday
    assert bucket_start(monday + 5 * 3600_000, interval_ms("1d")) == monday


def test_batch_candles_aggregate_per_interval():
    t0 = 1_700_438_400_000
    trades = [(1, 0, 0, 0, 100, 2, 2000, 0, 0, 0, 0, t0 + 1000), (2, 0, 0, 0, 105, 1, 1050, 0, 0, 0, 0, t0 + 2000),
              (3, 0, 0, 0, 99, 3, 2970, 0, 0, 0, 0, t0 + 61_000)]
    rows = {(r[0], r[1]): r[2:] for r in batch_candles(trades)}
    assert rows[("1m", t0)] == (100, 105, 100, 105, 3, 3050, 2, 1, 2)
    assert rows[("1m", t0 + MINUTE)] == (99, 99, 99, 99, 3, 2970, 1, 3, 3)
    assert rows[("1d", t0)] == (100, 105, 99, 99, 6, 6020, 3, 1, 3)
    merged = merge_rows([(t0, 100, 105, 100, 105, 3, 3050, 2, 1, 2), (t0 + MINUTE, 99, 99, 99, 99, 3, 2970, 1, 3, 3)],
                        interval_ms("3m"))
    assert merged == [(t0, 100, 105, 99, 99, 6, 6020, 3, 1, 3)]


def test_rolling_24h_drops_old_minutes():
    r = Rolling24h()
    now = 1_700_438_400_000
    r.add(1, 100, 1, 100, now - DAY_MS - MINUTE)       # outside the window
    r.add(2, 110, 2, 220, now - 3600_000)
    r.add(3, 90, 1, 90, now)
    o, h, lo, c, v, qv, n, first, last, _ = r.stats(now)
    assert (o, h, lo, c, v, qv, n, first, last) == (110, 110, 90, 90, 3, 310, 2, 2, 3)
    assert len(r.buckets) == 2


async def test_feed_serves_committed_depth_and_caches_bytes():
    book = OrderBook()
    book.limit(1, 7, 0, 5_000_000, 100)
    book.limit(2, 8, 0, 5_000_000, 50)
    book.limit(3, 8, 1, 5_100_000, 10)
    feed = MarketFeed(SPEC)
    feed.reset(book, 5, [], [])
    body = await feed.depth_json(10)
    assert body == (b'{"symbol":"BTC-USDT","update_id":5,"seq":5,"time":%d,"bids":[["50000","0.0015"]],'
                    b'"asks":[["51000","0.0001"]]}' % feed.update_ms)
    assert await feed.depth_json(10) is body                 # cached bytes per version
    # while a batch is in flight, an uncommitted change is never visible
    feed.set_clean(False)
    book.limit(4, 9, 0, 5_050_000, 5)
    assert await feed.depth_json(10) is body
    now = now_ms()
    feed.committed([(1, 0, 0, 0, 5_050_000, 5, 0, 0, 0, 0, 0, now)], 6, now, book)
    snap = await feed.depth(1)
    assert snap.update_id == 6 and snap.bids == [(D("50500"), D("0.00005"))]
    ticker = await feed.ticker()
    assert ticker.last == D("50500") and ticker.best_ask == D("51000")
