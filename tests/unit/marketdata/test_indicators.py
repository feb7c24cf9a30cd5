"""Indicators (marketdata.indicators) against values computed independently: pandas formulas written
here from the textbook definitions (float, so compared with a relative tolerance), and Wilder's RSI
worked example as published."""
import random
from decimal import Decimal

import pandas as pd
import pytest

from mycrypto.marketdata import indicators as ind
from tests.support.pandas_indicators import ema_pd, floats, rsi_pd

D = Decimal

# Wilder's RSI worked example (the 14-period series used by StockCharts' "RSI" article and many
# libraries). Computed without rounding intermediate values the RSI series is the one below (as
# e.g. TA-Lib gives it); StockCharts' spreadsheet rounds the averages to 2 decimals and shows
# 70.53, 66.32, ... (within 0.07 of these).
WILDER_CLOSES = ("44.34 44.09 44.15 43.61 44.33 44.83 45.10 45.42 45.84 46.08 45.89 46.03 45.61 46.28 46.28 "
                 "46.00 46.03 46.41 46.22 45.64 46.21 46.25 45.71 46.45 45.78 45.35 44.03 44.18 44.22 44.57 "
                 "43.42 42.66 43.13").split()
WILDER_RSI = ("70.46 66.25 66.48 69.35 66.29 57.92 62.88 63.21 56.01 62.34 54.67 50.39 40.02 41.49 41.90 "
              "45.50 37.32 33.09 37.79").split()


def walk(n, seed, start="50000", step="0.01"):
    """A random price walk of exact 2-decimal prices, like BTC-USDT closes."""
    rnd = random.Random(seed)
    price = D(start)
    out = []
    for _ in range(n):
        price = max(D(1), price + D(rnd.randint(-25000, 25000)) * D(step))
        out.append(price)
    return out


def close_to(ours, theirs, rel=1e-9, abs_=1e-6):
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if pd.isna(b):
            assert a is None, f"index {i}: expected undefined, got {a}"
        else:
            assert a is not None, f"index {i}: undefined, expected {b}"
            assert float(a) == pytest.approx(b, rel=rel, abs=abs_), f"index {i}"


# ---------------------------------------------------------------------------- published example
def test_wilder_rsi_worked_example():
    closes = [D(c) for c in WILDER_CLOSES]
    values = ind.rsi(closes, 14)
    assert values[:14] == [None] * 14
    assert [str(v.quantize(D("0.01"))) for v in values[14:]] == WILDER_RSI


# ---------------------------------------------------------------------------- against pandas
@pytest.mark.parametrize("period", [2, 5, 20, 50])
def test_sma_matches_pandas(period):
    closes = walk(300, period)
    close_to(ind.sma(closes, period), floats(closes).rolling(period).mean())


@pytest.mark.parametrize("period", [2, 9, 20, 50])
def test_ema_matches_pandas(period):
    closes = walk(300, 100 + period)
    close_to(ind.ema(closes, period), ema_pd(floats(closes), period))


@pytest.mark.parametrize("period", [2, 6, 14, 30])
def test_rsi_matches_pandas(period):
    closes = walk(300, 200 + period)
    close_to(ind.rsi(closes, period), rsi_pd(floats(closes), period), rel=1e-9, abs_=1e-8)


@pytest.mark.parametrize("fast,slow,signal", [(12, 26, 9), (3, 10, 4)])
def test_macd_matches_pandas(fast, slow, signal):
    closes = walk(300, fast * slow)
    s = floats(closes)
    line = ema_pd(s, fast) - ema_pd(s, slow)
    sig = ema_pd(line, signal)
    ours = ind.macd(closes, fast, slow, signal)
    first = slow - 1 + signal - 1
    assert all(v is None for v in ours[:first]) and ours[first] is not None
    close_to([v and v[0] for v in ours], line.where(sig.notna()))
    close_to([v and v[1] for v in ours], sig)
    close_to([v and v[2] for v in ours], line - sig, abs_=1e-6)


@pytest.mark.parametrize("period,k", [(20, "2"), (10, "1.5")])
def test_bollinger_matches_pandas(period, k):
    closes = walk(300, period)
    s = floats(closes)
    mid, sd = s.rolling(period).mean(), s.rolling(period).std(ddof=0)
    ours = ind.bollinger(closes, period, D(k))
    close_to([v and v[0] for v in ours], mid)
    close_to([v and v[1] for v in ours], mid + float(k) * sd)
    close_to([v and v[2] for v in ours], mid - float(k) * sd)


def test_vwap_matches_pandas_rolling_and_anchored():
    rnd = random.Random(7)
    n = 200
    opens = [1_700_000_000_000 + i * 3_600_000 for i in range(n)]      # hourly candles over ~8 days
    volumes = [D(rnd.randint(1, 10**6)) / D(10**5) for _ in range(n)]
    prices = walk(n, 8)
    quote = [(v * p).quantize(D("0.00000001")) for v, p in zip(volumes, prices)]
    df = pd.DataFrame({"day": [o // 86_400_000 for o in opens], "v": floats(volumes), "q": floats(quote)})
    rolling = df["q"].rolling(24).sum() / df["v"].rolling(24).sum()
    close_to(ind.vwap(opens, volumes, quote, 24), rolling)
    anchored = df.groupby("day")["q"].cumsum() / df.groupby("day")["v"].cumsum()
    close_to(ind.vwap(opens, volumes, quote, None), anchored)


# ---------------------------------------------------------------------------- precision and warm-up
def test_exact_decimal_results():
    assert ind.sma([D(1), D(2), D(3), D(4)], 4)[-1] == D("2.5")
    assert ind.rounded(D("1.000000005")) == D("1")            # half-even at 8 decimals
    assert ind.rounded(D("1.000000015")) == D("1.00000002")
    assert ind.rounded(D("-0.000000001")) == D(0)
    assert ind.rsi([D(5)] * 20, 14)[-1] == 50                   # nothing moved: neutral
    assert ind.rsi([D(i) for i in range(20)], 14)[-1] == 100    # never fell
    mid, up, lo = ind.bollinger([D(7)] * 5, 5)[-1]
    assert mid == up == lo == 7


@pytest.mark.parametrize("name,period", [("ema", 2), ("ema", 20), ("rsi", 2), ("rsi", 14)])
def test_warmup_makes_values_independent_of_older_history(name, period):
    closes = walk(3000, period, start="60000")
    fn = ind.ema if name == "ema" else ind.rsi
    window = ind.warmup(name, period) + 1
    assert window < len(closes)
    full = [ind.rounded(v) for v in fn(closes, period)[-50:]]
    for end in range(len(closes) - 50, len(closes)):
        short = fn(closes[end + 1 - window:end + 1], period)[-1]
        assert ind.rounded(short) == full[end - (len(closes) - 50)]


def test_macd_warmup_independent_of_older_history():
    closes = walk(2500, 3)
    window = ind.warmup("macd", slow=26, signal=9) + 1
    full = ind.macd(closes, 12, 26, 9)[-1]
    short = ind.macd(closes[-window:], 12, 26, 9)[-1]
    assert [ind.rounded(x) for x in full] == [ind.rounded(x) for x in short]


def test_bad_periods_are_refused():
    with pytest.raises(ValueError):
        ind.sma([D(1)], 0)
    with pytest.raises(ValueError):
        ind.macd([D(1)] * 50, 26, 12, 9)
