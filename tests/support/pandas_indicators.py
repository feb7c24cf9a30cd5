"""Indicators written independently with pandas (float) from their textbook definitions, to check
mycrypto.marketdata.indicators against (tests only: pandas is a dev dependency)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def floats(values):
    return pd.Series([float(v) for v in values], dtype="float64")


def ema_pd(s: pd.Series, period: int) -> pd.Series:
    """EMA seeded with the SMA of the first `period` values of `s` (after its leading NaNs)."""
    out = pd.Series([float("nan")] * len(s), index=s.index)
    valid = s.dropna()
    if len(valid) < period:
        return out
    seed = valid.iloc[:period].mean()
    seeded = pd.concat([pd.Series([seed]), valid.iloc[period:].reset_index(drop=True)], ignore_index=True)
    e = seeded.ewm(span=period, adjust=False).mean()
    out.loc[valid.index[period - 1:]] = e.to_numpy()
    return out


def rsi_pd(s: pd.Series, period: int) -> pd.Series:
    delta = s.diff()
    gain, loss = delta.clip(lower=0), (-delta).clip(lower=0)
    out = pd.Series([float("nan")] * len(s))

    def wilder(x):
        seed = x.iloc[1:period + 1].mean()
        seeded = pd.concat([pd.Series([seed]), x.iloc[period + 1:].reset_index(drop=True)], ignore_index=True)
        return seeded.ewm(alpha=1 / period, adjust=False).mean().to_numpy()

    ag, al = wilder(gain), wilder(loss)
    with np.errstate(divide="ignore"):   # no loss at all: RS is infinite and RSI 100, as defined
        out.iloc[period:] = 100 - 100 / (1 + ag / al)
    return out
