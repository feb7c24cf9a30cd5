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

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

PRECISION = 60
OUT_DECIMALS = 8
_OUT = Decimal(1).scaleb(-OUT_DECIMALS)
ZERO, ONE, TWO, HUNDRED = Decimal(0), Decimal(1), Decimal(2), Decimal(100)
DAY_MS = 86_400_000

# e^-34 (see the module docstring): EMA's weight after n steps is at most e^(-2n/p), Wilder's e^(-n/p)
EMA_WARMUP_FACTOR = 17
WILDER_WARMUP_FACTOR = 34


def _ctx() -> Context:
    return Context(prec=PRECISION, rounding=ROUND_HALF_EVEN)


_ROUND_CTX = Context(prec=PRECISION, rounding=ROUND_HALF_EVEN)


def rounded(value: Decimal | None) -> Decimal | None:
    """The published value: half-even to OUT_DECIMALS places, trailing zeros dropped."""
    if value is None:
        return None
    q = value.quantize(_OUT, context=_ROUND_CTX)
    return q.normalize(_ROUND_CTX) if q else ZERO


# ---------------------------------------------------------------------------- moving averages
def sma(values: Sequence[Decimal], period: int) -> list[Decimal | None]:
    _check_period(period)
    out: list[Decimal | None] = [None] * len(values)
    with localcontext(_ctx()):
        total = ZERO
        for i, v in enumerate(values):
            total += v
            if i >= period:
                total -= values[i - period]
            if i >= period - 1:
                out[i] = total / period
    return out


def ema(values: Sequence[Decimal | None], period: int) -> list[Decimal | None]:
    """EMA seeded with the SMA of the first `period` values; leading Nones (an undefined input,
    e.g. the MACD line) are skipped, so the seed is taken from the first `period` defined values."""
    _check_period(period)
    out: list[Decimal | None] = [None] * len(values)
    start = next((i for i, v in enumerate(values) if v is not None), len(values))
    if len(values) - start < period:
        return out
    with localcontext(_ctx()):
        alpha = TWO / (period + 1)
        keep = ONE - alpha
        prev = sum(values[start:start + period], ZERO) / period   # type: ignore[arg-type]
        out[start + period - 1] = prev
        for i in range(start + period, len(values)):
            prev = alpha * values[i] + keep * prev   # type: ignore[operator]
            out[i] = prev
    return out


# ---------------------------------------------------------------------------- RSI
def rsi(closes: Sequence[Decimal], period: int = 14) -> list[Decimal | None]:
    _check_period(period)
    out: list[Decimal | None] = [None] * len(closes)
    if len(closes) <= period:
        return out
    with localcontext(_ctx()):
        gains = ZERO
        losses = ZERO
        for i in range(1, period + 1):
            d = closes[i] - closes[i - 1]
            if d > 0:
                gains += d
            else:
                losses -= d
        avg_gain, avg_loss = gains / period, losses / period
        out[period] = _rsi_value(avg_gain, avg_loss)
        keep = period - 1
        for i in range(period + 1, len(closes)):
            d = closes[i] - closes[i - 1]
            gain, loss = (d, ZERO) if d > 0 else (ZERO, -d)
            avg_gain = (avg_gain * keep + gain) / period
            avg_loss = (avg_loss * keep + loss) / period
            out[i] = _rsi_value(avg_gain, avg_loss)
    return out


def _rsi_value(avg_gain: Decimal, avg_loss: Decimal) -> Decimal:
    if not avg_loss:
        return HUNDRED if avg_gain else Decimal(50)
    return HUNDRED - HUNDRED / (ONE + avg_gain / avg_loss)


# ---------------------------------------------------------------------------- MACD
def macd(closes: Sequence[Decimal], fast: int = 12, slow: int = 26,
         signal: int = 9) -> list[tuple[Decimal, Decimal, Decimal] | None]:
    """(line, signal, histogram) per candle; None until the signal line is defined."""
    if not fast < slow:
        raise ValueError("fast must be shorter than slow")
    fast_ema, slow_ema = ema(closes, fast), ema(closes, slow)
    with localcontext(_ctx()):
        line = [f - s if f is not None and s is not None else None for f, s in zip(fast_ema, slow_ema)]
        sig = ema(line, signal)
        return [(m, s, m - s) if m is not None and s is not None else None for m, s in zip(line, sig)]


# ---------------------------------------------------------------------------- Bollinger Bands
def bollinger(closes: Sequence[Decimal], period: int = 20,
              k: Decimal = TWO) -> list[tuple[Decimal, Decimal, Decimal] | None]:
    """(middle, upper, lower) per candle."""
    _check_period(period)
    out: list[tuple[Decimal, Decimal, Decimal] | None] = [None] * len(closes)
    with localcontext(_ctx()):
        total = ZERO
        squares = ZERO
        for i, c in enumerate(closes):
            total += c
            squares += c * c
            if i >= period:
                old = closes[i - period]
                total -= old
                squares -= old * old
            if i >= period - 1:
                mean = total / period
                variance = squares / period - mean * mean
                sd = variance.sqrt() if variance > 0 else ZERO
                out[i] = (mean, mean + k * sd, mean - k * sd)
    return out


# ---------------------------------------------------------------------------- VWAP
def vwap(open_times_ms: Sequence[int], volumes: Sequence[Decimal], quote_volumes: Sequence[Decimal],
         period: int | None = None) -> list[Decimal | None]:
    """Trade VWAP: anchored at each UTC day's start (period None), or over the last `period` candles."""
    n = len(volumes)
    out: list[Decimal | None] = [None] * n
    with localcontext(_ctx()):
        vol = ZERO
        quote = ZERO
        day = None
        for i in range(n):
            if period is None:
                d = open_times_ms[i] // DAY_MS
                if d != day:
                    day, vol, quote = d, ZERO, ZERO
            vol += volumes[i]
            quote += quote_volumes[i]
            if period is not None and i >= period:
                vol -= volumes[i - period]
                quote -= quote_volumes[i - period]
            if period is not None and i < period - 1:
                continue
            out[i] = quote / vol if vol else None
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
