"""The per-market watch (alerts.domain.watch): trades in, firings out. Price, % change and indicator
alerts, adoption after a trade id, timer closes, and the restart property: rebuilding the watch from
the "database" at a cursor and replaying the trades after it fires exactly what one run fired."""
import random
from decimal import Decimal

import pytest

from mycrypto.alerts.domain.conditions import INTERVALS, parse_condition
from mycrypto.alerts.domain.watch import MarketWatch, WatchedAlert, history
from mycrypto.marketdata import indicators as ind

D = Decimal
TICK = D("0.01")
T0 = 1_700_000_040_000 - 1_700_000_040_000 % 86_400_000     # a UTC midnight
HOUR = 3_600_000


def ticks(price) -> int:
    return int(D(str(price)) / TICK)


def alert(alert_id, since=0, repeating=False, cooldown_s=0, **condition):
    return WatchedAlert(alert_id, parse_condition(condition), repeating, cooldown_s, since)


def feed(watch, trades):
    """trades: (id, price, ms) -> [(alert id, seq, trade id)] fired."""
    out = []
    for tid, price, ms in trades:
        out.extend((f.alert_id, f.seq, f.trade_id) for f in watch.trade(tid, ticks(price), ms))
    return out


def load(watch, closes_by_interval):
    for interval, rows in closes_by_interval.items():
        watch.load_history(interval, rows, len(rows))


# ---------------------------------------------------------------------------- price
def test_price_alert_fires_on_the_crossing_trade_once():
    w = MarketWatch(TICK)
    w.start(10, (10, ticks(100), T0))
    w.add(alert(1, since=10, type="price", direction="above", price="105.005"))   # -> at or above 105.01
    w.add(alert(2, since=10, type="price", direction="below", price="95"))
    fired = feed(w, [(11, "105", T0 + 1), (12, "105.01", T0 + 2), (13, "110", T0 + 3), (14, "94", T0 + 4)])
    assert fired == [(1, 12, 12), (2, 14, 14)]
    assert w.alerts == {} and w.books == {}    # one-shot alerts are finished


def test_an_alert_adopted_after_a_trade_ignores_earlier_trades():
    w = MarketWatch(TICK)
    w.start(0, None)
    w.add(alert(1, since=3, type="price", direction="above", price="100"))
    # trades 1..3 cross 100 but happened before the alert; trade 3 (below) is its reference
    fired = feed(w, [(1, "90", T0), (2, "101", T0 + 1), (3, "99", T0 + 2), (4, "100", T0 + 3)])
    assert fired == [(1, 4, 4)]


def test_duplicate_and_old_trades_are_ignored():
    w = MarketWatch(TICK)
    w.start(5, (5, ticks(90), T0))
    w.add(alert(1, since=5, repeating=True, cooldown_s=60, type="price", direction="above", price="100"))
    assert feed(w, [(6, "101", T0 + 1), (6, "101", T0 + 1), (4, "50", T0), (7, "99", T0 + 2)]) == [(1, 6, 6)]


# ---------------------------------------------------------------------------- % change
def test_change_alert_against_the_price_a_window_ago():
    w = MarketWatch(TICK)
    minutes = [(T0 + i * 60_000, D(100), i + 1) for i in range(30)]   # flat at 100 for 30 minutes
    w.start(30, (30, ticks(100), T0 + 29 * 60_000 + 30_000))
    cond = dict(type="change", direction="up", percent="5", window="15m")
    interval, count = w.needs_history(parse_condition(cond))
    assert (interval, count) == ("1m", 17)
    w.load_history("1m", minutes[-count:], count)
    w.add(alert(1, since=30, **cond))
    w.add(alert(2, since=30, type="change", direction="down", percent="2", window="5m"))
    t = T0 + 31 * 60_000
    fired = w.trade(31, ticks("104.99"), t) + w.trade(32, ticks(105), t + 1) + w.trade(33, ticks(106), t + 2)
    assert [(f.alert_id, f.seq) for f in fired] == [(1, 32)]
    assert fired[0].value == D(5) and fired[0].price == D(105)
    fired = w.trade(34, ticks(98), t + 3)
    assert [(f.alert_id, f.value) for f in fired] == [(2, D(-2))]


# ---------------------------------------------------------------------------- indicators
def hourly(closes, start=T0):
    """Closed hourly candles (open ms, close, last trade id): one trade per hour, ids 1, 2, ..."""
    return [(start + i * HOUR, D(c), i + 1) for i, c in enumerate(closes)]


def test_rsi_alert_fires_when_a_closed_candle_crosses_the_level():
    closes = [D(100) + (D(1) if i % 2 else D(-1)) for i in range(60)]    # choppy: RSI near 50
    w = MarketWatch(TICK)
    last_open = T0 + 60 * HOUR
    w.start(100, (100, ticks(closes[-1]), last_open + 10))     # trade 100 opened the candle after them
    cond = dict(type="rsi", direction="above", level="70", period=14, interval="1h")
    interval, count = w.needs_history(parse_condition(cond))
    rows = hourly(closes)[-count:]
    w.load_history(interval, rows, count)
    w.add(alert(1, since=100, **cond))
    # the candle at last_open rallies to 120: it closes at the first trade of the next hour
    fired = feed(w, [(101, "105", last_open + 20), (102, "120", last_open + 30)])
    assert fired == []                                   # intra-candle: nothing yet
    fired = w.trade(103, ticks("119"), last_open + HOUR + 5)
    expected = ind.rounded(ind.rsi([c for _, c, _ in rows] + [D(120)], 14)[-1])
    assert expected > 70
    assert [(f.alert_id, f.seq, f.trade_id, f.price, f.value) for f in fired] == [
        (1, last_open, 102, D(120), expected)]
    assert fired[0].ms == last_open + HOUR


def test_timer_closes_a_candle_without_a_next_trade():
    closes = [D(100) - i for i in range(30)]               # falling: below its SMA
    w = MarketWatch(TICK, grace_ms=2000)
    last_open = T0 + 30 * HOUR
    w.start(50, (50, ticks(closes[-1]), last_open + 1))
    w.load_history("1h", hourly(closes), 30)
    w.add(alert(1, since=50, type="sma_cross", direction="above", period=20, interval="1h"))
    assert feed(w, [(51, "95", last_open + 100)]) == []
    assert w.next_due_ms() == last_open + HOUR + 2000
    assert w.close_due(last_open + HOUR + 1999) == []
    [f] = w.close_due(last_open + HOUR + 2000)
    assert (f.alert_id, f.seq, f.trade_id, f.price) == (1, last_open, 51, D(95))
    assert w.next_due_ms() is None


def test_macd_cross_fires_where_the_histogram_changes_sign():
    # an accelerating fall (the line runs below its signal), then a rally (it crosses back above)
    closes = [D(200) - D(i * i) / 100 for i in range(80)] + [D(137) + D(i) * 2 for i in range(30)]
    expected = None
    hist = [m and ind.rounded(ind.rounded(m[0]) - ind.rounded(m[1])) for m in ind.macd(closes, 12, 26, 9)]
    assert min(h for h in hist if h is not None) < 0
    for i in range(1, len(hist)):
        if hist[i - 1] is not None and hist[i - 1] < 0 <= hist[i]:
            expected = i
            break
    assert expected is not None
    w = MarketWatch(TICK)
    w.start(1, (1, ticks(closes[0]), T0))
    w.add(alert(1, since=1, type="macd_cross", direction="above", interval="1h"))
    trades = [(i + 2, closes[i + 1], T0 + (i + 1) * HOUR) for i in range(len(closes) - 1)]
    trades.append((len(closes) + 1, closes[-1], T0 + len(closes) * HOUR))
    fired = feed(w, trades)
    assert fired == [(1, T0 + expected * HOUR, expected + 1)]


# ---------------------------------------------------------------------------- restart = one run
CONDITIONS = [
    dict(type="price", direction="above", price="50100"),
    dict(type="price", direction="below", price="49900"),
    dict(type="change", direction="up", percent="0.3", window="5m"),
    dict(type="change", direction="down", percent="0.3", window="15m"),
    dict(type="rsi", direction="above", level="60", period=6, interval="1m"),
    dict(type="rsi", direction="below", level="40", period=6, interval="5m"),
    dict(type="sma_cross", direction="above", period=5, interval="1m"),
    dict(type="ema_cross", direction="below", period=4, interval="5m"),
    dict(type="macd_cross", direction="above", fast=3, slow=6, signal=3, interval="1m"),
]


def random_trades(n, seed):
    rnd = random.Random(seed)
    price, ms, out = D(50000), T0, []
    for tid in range(1, n + 1):
        price += D(rnd.randint(-40, 40))
        ms += rnd.choice([200, 1000, 7000, 20_000, 65_000])
        out.append((tid, price, ms))
    return out


def db_candles(trades, interval, upto_id):
    """What trade.candle holds about closed candles before the bucket of trade `upto_id`."""
    length = INTERVALS[interval]
    cursor_ms = trades[upto_id - 1][2]
    boundary = cursor_ms - cursor_ms % length
    closes = {}
    for tid, price, ms in trades[:upto_id]:
        if ms < boundary:
            closes[ms - ms % length] = (price, tid)
    return [(open_ms, price, tid) for open_ms, (price, tid) in sorted(closes.items())]


def build(trades, cursor, alerts, fired_so_far):
    """A watch as the evaluator builds it at start: from the cursor and the database."""
    w = MarketWatch(TICK)
    tid, price, ms = trades[cursor - 1]
    w.start(cursor, (tid, ticks(price), ms))
    for a in alerts:
        if not a.repeating and any(f[0] == a.id for f in fired_so_far):
            continue                                   # a one-shot that fired is 'triggered': not loaded
        mine = [f for f in fired_so_far if f[0] == a.id]
        need = w.needs_history(a.condition)
        if need is not None:
            rows = db_candles(trades, need[0], cursor)[-need[1]:]
            w.load_history(need[0], rows, need[1])
        last_seq = max((f[1] for f in mine), default=None)
        last_ms = max((f[3] for f in mine), default=None)
        adopted = a.since_trade_id < cursor or a.adopted   # (the first run knew it from before since_trade_id)
        trades_after = [(t, ticks(p), m) for t, p, m in trades[:cursor]] if not adopted else None
        fired = w.add(WatchedAlert(a.id, a.condition, a.repeating, a.cooldown_s, a.since_trade_id, last_seq, last_ms,
                                   adopted), trades_after)
        assert fired == []
    return w


@pytest.mark.parametrize("seed", range(6))
def test_restart_at_any_cursor_fires_exactly_what_one_run_fires(seed):
    trades = random_trades(400, seed)
    alerts = [WatchedAlert(i + 1, parse_condition(c), repeating=i % 2 == 0, cooldown_s=60 * (i % 3), since_trade_id=60)
              for i, c in enumerate(CONDITIONS)]
    one = build(trades, 50, alerts, [])
    one_run = []
    for tid, price, ms in trades[50:]:
        one_run.extend((f.alert_id, f.seq, f.trade_id, f.ms) for f in one.trade(tid, ticks(price), ms))
    assert len({f[0] for f in one_run}) >= 6, "the scenario should exercise most alert kinds"
    rnd = random.Random(seed)
    for _ in range(4):
        crash_at = rnd.randint(51, 390)        # the cursor saved before the crash
        recorded_to = rnd.randint(crash_at, 399)   # firings committed up to here (cursor may lag them)
        recorded = [f for f in one_run if f[2] <= recorded_to]
        w = build(trades, crash_at, alerts, recorded)
        replay = []
        for tid, price, ms in trades[crash_at:]:
            replay.extend((f.alert_id, f.seq, f.trade_id, f.ms) for f in w.trade(tid, ticks(price), ms))
        assert recorded + replay == one_run


@pytest.mark.parametrize("seed", range(6))
def test_an_alert_heard_of_late_is_backfilled_to_what_it_would_have_fired(seed):
    """The evaluator learns of a new alert milliseconds after it was created (it may have evaluated
    trades since): adding it then fires exactly what it would have fired had it been known at once."""
    trades = random_trades(400, 100 + seed)
    rnd = random.Random(seed)
    alerts = [(i + 1, parse_condition(c), i % 2 == 0, 60 * (i % 3), rnd.randint(60, 200)) for i, c in enumerate(CONDITIONS)]

    def fresh():
        return [WatchedAlert(i, c, rep, cd, since) for i, c, rep, cd, since in alerts]

    on_time = build(trades, 50, fresh(), [])     # knew every alert before its since_trade_id
    expected = []
    for tid, price, ms in trades[50:]:
        expected.extend((f.alert_id, f.seq, f.trade_id) for f in on_time.trade(tid, ticks(price), ms))
    assert len({f[0] for f in expected}) >= 5

    for late_by, from_database in ((1, False), (3, False), (120, False), (120, True)):
        w = build(trades, 50, [], [])
        got, added = [], False
        for tid, price, ms in trades[50:]:
            got.extend((f.alert_id, f.seq, f.trade_id) for f in w.trade(tid, ticks(price), ms))
            if not added and tid >= max(a[4] for a in alerts) + late_by:
                if from_database:
                    w.recent.clear()                      # as after a restart: the trades come from the database
                for a in fresh():
                    assert w.backfills(a)
                    back = w.recent_ms(a.since_trade_id)
                    assert back == (None if from_database else trades[a.since_trade_id - 1][2])
                    need = w.needs_history(a.condition, trades[a.since_trade_id - 1][2])
                    if need is not None:
                        w.load_history(need[0], db_candles(trades, need[0], tid)[-need[1]:], need[1])
                    rows = [(t, ticks(p), m) for t, p, m in trades[:tid]] if w.needs_trades(a) else None
                    assert (rows is not None) == (from_database and not a.condition.candle_based)
                    got.extend((f.alert_id, f.seq, f.trade_id) for f in w.add(a, rows))
                added = True
        assert sorted(got) == sorted(expected), late_by


def test_history_sizes():
    assert history(parse_condition(dict(type="price", direction="above", price="1"))) is None
    assert history(parse_condition(dict(type="rsi", direction="above", level="70", interval="1h"))) == ("1h", 34 * 14 + 2)
    assert history(parse_condition(dict(type="sma_cross", direction="above", period=50, interval="4h"))) == ("4h", 50)
