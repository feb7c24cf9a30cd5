"""Technical indicators over candles: SMA, EMA, RSI, MACD, Bollinger Bands and VWAP. Pure, Decimal only.

Every function takes a series in time order (oldest first) and returns a list of the same length,
with None where the indicator is not defined yet (too few candles). Definitions (the usual ones,
as in TA-Lib / StockCharts / TradingView):

- SMA(p): mean of the last p closes.
- EMA(p): alpha = 2 / (p + 1); seeded with the SMA of the first p closes (defined from candle p - 1),
  then EMA_t = alpha * close_t + (1 - alpha) * EMA_{t-1}.
- RSI(p), Wilder's: changes d_t = close_t - close_{t-1}; the first average gain/loss is the mean of
  the first p gains/losses (defined from candle p), then avg_t = (avg_{t-1} * (p - 1) + x_t) / p;
  RSI = 100 - 100 / (1 + avg_gain / avg_loss); 100 when there was no loss, 50 when nothing moved.
- MACD(fast, slow, signal): line = EMA(fast) - EMA(slow); signal = EMA(signal) of the line (seeded
  like EMA from the line's first value); histogram = line - signal.
- Bollinger(p, k): middle = SMA(p); upper/lower = middle +/- k * population standard deviation of
  the same p closes (ddof 0, as Bollinger defined it).
- VWAP: the volume-weighted average trade price, sum(quote volume) / sum(volume). Our candles carry
  the exact quote volume of their trades, so this is the true trade VWAP (not the (h+l+c)/3
  approximation): anchored at 00:00 UTC each day (reset per session), or over the last p candles.

Precision: inputs are exact Decimals (NUMERIC columns); arithmetic runs in a local decimal context of
PRECISION significant digits (sums of NUMERIC(38,18) values and their squares are exact in it), so
only divisions and the square root round, at the 60th digit. Results are rounded half-even to
OUT_DECIMALS (8) decimal places by `rounded` (the API and the alert evaluator both use the rounded
values, so an alert compares exactly what the API shows).

EMA-family indicators (EMA, RSI, MACD) depend, in principle, on the whole history. The API computes
them over a warm-up of `warmup(...)` candles before the first value it returns: the weight left on
anything older is below e^-34 (about 1e-15), far below the 8 published decimals, so the values are
those of a computation over the market's whole history (except, rarely, a last-digit tie).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

PRECISION = 60
OUT_DECIMALS = 8
_OUT = Decimal(1).scaleb(-OUT_DECIMALS)
ZERO, ONE, TWO, HUNDRED = Decimal(0), Decimal(1), Decimal(2), Decimal(100)
DAY_MS = 86_400_000

# e^-34 (see the module docstring): EMA's weight after n steps is at most e^(-2n/p), Wilder's e^(-n/p)
EMA_WARMUP_FACTOR = 17
WILDER_WARMUP_FACTOR = 34


C = Context(prec=PRECISION, rounding=ROUND_HALF_EVEN)   # every operation names it: no ambient context


def rounded(value: Decimal | None) -> Decimal | None:
    """The published value: half-even to OUT_DECIMALS places, trailing zeros dropped."""
    if value is None:
        return None
    q = value.quantize(_OUT, context=C)
    return q.normalize(C) if q else ZERO


# ---------------------------------------------------------------------------- running state
# Each indicator is a small state machine fed one close at a time (`update` returns the value at that
# candle, None while undefined): the list functions below run it over a series, and the alert
# evaluator keeps one per watched series and feeds it each closing candle in O(1).
class Sma:
    __slots__ = ("period", "window", "total")

    def __init__(self, period: int) -> None:
        _check_period(period)
        self.period = period
        self.window: deque[Decimal] = deque()
        self.total = ZERO

    def update(self, x: Decimal) -> Decimal | None:
        self.window.append(x)
        self.total = C.add(self.total, x)
        if len(self.window) > self.period:
            self.total = C.subtract(self.total, self.window.popleft())
        return C.divide(self.total, self.period) if len(self.window) == self.period else None


class Ema:
    """alpha = 2 / (period + 1), seeded with the SMA of the first `period` values."""

    __slots__ = ("period", "alpha", "keep", "n", "total", "value")

    def __init__(self, period: int) -> None:
        _check_period(period)
        self.period = period
        self.alpha = C.divide(TWO, period + 1)
        self.keep = C.subtract(ONE, self.alpha)
        self.n = 0
        self.total = ZERO
        self.value: Decimal | None = None

    def update(self, x: Decimal) -> Decimal | None:
        if self.value is None:
            self.n += 1
            self.total = C.add(self.total, x)
            if self.n == self.period:
                self.value = C.divide(self.total, self.period)
            return self.value
        self.value = C.add(C.multiply(self.alpha, x), C.multiply(self.keep, self.value))
        return self.value


class Rsi:
    """Wilder's RSI: the first averages are means of the first `period` gains/losses, then
    avg = (avg * (period - 1) + x) / period."""

    __slots__ = ("period", "prev", "n", "gain", "loss", "ready")

    def __init__(self, period: int = 14) -> None:
        _check_period(period)
        self.period = period
        self.prev: Decimal | None = None
        self.n = 0
        self.gain = ZERO       # sums while n < period, then the averages
        self.loss = ZERO
        self.ready = False

    def update(self, x: Decimal) -> Decimal | None:
        prev, self.prev = self.prev, x
        if prev is None:
            return None
        d = C.subtract(x, prev)
        gain, loss = (d, ZERO) if d > 0 else (ZERO, C.minus(d))
        p = self.period
        if not self.ready:
            self.n += 1
            self.gain, self.loss = C.add(self.gain, gain), C.add(self.loss, loss)
            if self.n < p:
                return None
            self.gain, self.loss, self.ready = C.divide(self.gain, p), C.divide(self.loss, p), True
        else:
            self.gain = C.divide(C.add(C.multiply(self.gain, p - 1), gain), p)
            self.loss = C.divide(C.add(C.multiply(self.loss, p - 1), loss), p)
        if not self.loss:
            return HUNDRED if self.gain else Decimal(50)
        return C.subtract(HUNDRED, C.divide(HUNDRED, C.add(ONE, C.divide(self.gain, self.loss))))


class Macd:
    """(line, signal, histogram): line = EMA(fast) - EMA(slow), signal = EMA(signal) of the line."""

    __slots__ = ("fast", "slow", "signal")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        if not fast < slow:
            raise ValueError("fast must be shorter than slow")
        self.fast, self.slow, self.signal = Ema(fast), Ema(slow), Ema(signal)

    def update(self, x: Decimal) -> tuple[Decimal, Decimal, Decimal] | None:
        f, s = self.fast.update(x), self.slow.update(x)
        if f is None or s is None:
            return None
        line = C.subtract(f, s)
        sig = self.signal.update(line)
        return None if sig is None else (line, sig, C.subtract(line, sig))


class Bollinger:
    """(middle, upper, lower): SMA +/- k population standard deviations of the same closes."""

    __slots__ = ("period", "k", "window", "total", "squares")

    def __init__(self, period: int = 20, k: Decimal = TWO) -> None:
        _check_period(period)
        self.period, self.k = period, k
        self.window: deque[Decimal] = deque()
        self.total = ZERO
        self.squares = ZERO

    def update(self, x: Decimal) -> tuple[Decimal, Decimal, Decimal] | None:
        self.window.append(x)
        self.total, self.squares = C.add(self.total, x), C.add(self.squares, C.multiply(x, x))
        if len(self.window) > self.period:
            old = self.window.popleft()
            self.total, self.squares = C.subtract(self.total, old), C.subtract(self.squares, C.multiply(old, old))
        if len(self.window) < self.period:
            return None
        mean = C.divide(self.total, self.period)
        variance = C.subtract(C.divide(self.squares, self.period), C.multiply(mean, mean))
        band = C.multiply(self.k, C.sqrt(variance)) if variance > 0 else ZERO
        return mean, C.add(mean, band), C.subtract(mean, band)


# ---------------------------------------------------------------------------- over a series
def _run(state: Any, values: Sequence[Decimal]) -> list:
    return [state.update(v) for v in values]


def sma(values: Sequence[Decimal], period: int) -> list[Decimal | None]:
    return _run(Sma(period), values)


def ema(values: Sequence[Decimal | None], period: int) -> list[Decimal | None]:
    """Leading Nones (an undefined input, e.g. the MACD line) are skipped: the seed is the SMA of the
    first `period` defined values."""
    state = Ema(period)
    return [None if v is None else state.update(v) for v in values]


def rsi(closes: Sequence[Decimal], period: int = 14) -> list[Decimal | None]:
    return _run(Rsi(period), closes)


def macd(closes: Sequence[Decimal], fast: int = 12, slow: int = 26,
         signal: int = 9) -> list[tuple[Decimal, Decimal, Decimal] | None]:
    """(line, signal, histogram) per candle; None until the signal line is defined."""
    return _run(Macd(fast, slow, signal), closes)


def bollinger(closes: Sequence[Decimal], period: int = 20,
              k: Decimal = TWO) -> list[tuple[Decimal, Decimal, Decimal] | None]:
    """(middle, upper, lower) per candle."""
    return _run(Bollinger(period, k), closes)


# ---------------------------------------------------------------------------- VWAP
def vwap(open_times_ms: Sequence[int], volumes: Sequence[Decimal], quote_volumes: Sequence[Decimal],
         period: int | None = None) -> list[Decimal | None]:
    """Trade VWAP: anchored at each UTC day's start (period None), or over the last `period` candles."""
    n = len(volumes)
    out: list[Decimal | None] = [None] * n
    vol = quote = ZERO
    day = None
    for i in range(n):
        if period is None:
            d = open_times_ms[i] // DAY_MS
            if d != day:
                day, vol, quote = d, ZERO, ZERO
        vol, quote = C.add(vol, volumes[i]), C.add(quote, quote_volumes[i])
        if period is not None and i >= period:
            vol, quote = C.subtract(vol, volumes[i - period]), C.subtract(quote, quote_volumes[i - period])
        if period is not None and i < period - 1:
            continue
        out[i] = C.divide(quote, vol) if vol else None
    return out


# ---------------------------------------------------------------------------- warm-up
def warmup(name: str, period: int = 0, *, slow: int = 0, signal: int = 0) -> int:
    """Candles to read before the first value returned, so that it is defined and (for the EMA
    family) independent of where the computation started, to the published precision."""
    if name in ("sma", "bollinger", "vwap"):
        return max(period - 1, 0)
    if name == "ema":
        return EMA_WARMUP_FACTOR * period
    if name == "rsi":
        return WILDER_WARMUP_FACTOR * period + 1
    if name == "macd":
        return EMA_WARMUP_FACTOR * (slow + signal)
    raise ValueError(f"unknown indicator {name!r}")


def _check_period(period: int) -> None:
    if not isinstance(period, int) or isinstance(period, bool) or period < 1:
        raise ValueError("period must be a positive integer")
