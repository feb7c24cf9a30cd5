"""What an alert watches, its bounds, and how it maps onto a trigger on a value series. Pure.

An alert's condition (the wire object `condition` of POST /api/v1/trade/alerts, docs/alerts.md):

| type | fields | watched series (one value per ...) | fires when |
|---|---|---|---|
| `price` | `direction` above/below, `price` | trade price (trade) | a trade crosses the price |
| `change` | `direction` up/down, `percent`, `window` | % change vs the price `window` ago (trade) | the change crosses +/-percent |
| `rsi` | `direction`, `level`, `period`, `interval` | RSI(period) of closed candles (candle) | RSI crosses the level |
| `sma_cross` / `ema_cross` | `direction`, `period`, `interval` | close - SMA/EMA(period) (candle) | the close crosses the average |
| `macd_cross` | `direction`, `fast`, `slow`, `signal`, `interval` | MACD line - signal line (candle) | the line crosses its signal |

Every condition becomes one trigger (trading.domain.triggers) on one series, named by `series_key`:
alerts that watch the same series share one trigger book, so a value costs O(log n) whatever the
number of alerts. Bounds refuse what cannot be meant (a period of 10^6, a 0 % change, an RSI level of
100): `AlertRuleError` carries a stable code, the service turns it into a 400.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from ...trading.domain.triggers import ABOVE, BELOW

CONDITIONS = ("price", "change", "rsi", "sma_cross", "ema_cross", "macd_cross")
INDICATOR_CONDITIONS = ("rsi", "sma_cross", "ema_cross", "macd_cross")
# candle intervals indicator alerts may use: the stored ones (their candles close on known boundaries)
INTERVALS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}
# % change windows: the reference is the price that long ago, at whole-minute resolution
WINDOWS = {"5m": 300_000, "15m": 900_000, "1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}
PERIODS = {"rsi": (2, 100), "sma_cross": (2, 500), "ema_cross": (2, 200)}
MACD_FAST, MACD_SLOW, MACD_SIGNAL = (2, 100), (3, 200), (2, 50)
MAX_UP_PERCENT = Decimal(1000)
MIN_PERCENT = Decimal("0.01")
MAX_DECIMALS = 8
NOTE_MAX = 200
PRICE_BAND = 100          # a price alert's level: within 100x of the last price either way
COOLDOWN_MIN_S, COOLDOWN_MAX_S, COOLDOWN_DEFAULT_S = 60, 7 * 86_400, 300
_PLAIN = re.compile(r"(0|[1-9][0-9]{0,19})(\.[0-9]{1,18})?")


class AlertRuleError(ValueError):
    """A refused alert parameter: `code` is the API's error code, `field` the offending field."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class Condition:
    """A validated condition. `direction` is above/below (a change's up/down is stored as above/below);
    `level` is the price, the percent (positive), the RSI level, or 0 for the crosses."""

    type: str
    direction: str
    level: Decimal
    interval: str | None = None
    period: int | None = None
    window: str | None = None
    fast: int | None = None
    slow: int | None = None
    signal: int | None = None

    # ---------------------------------------------------------------- series and trigger
    @property
    def series_key(self) -> tuple:
        """The value series this condition watches (alerts with equal keys share a trigger book)."""
        if self.type == "price":
            return ("price",)
        if self.type == "change":
            return ("change", self.window)
        if self.type == "macd_cross":
            return ("macd_cross", self.interval, self.fast, self.slow, self.signal)
        return (self.type, self.interval, self.period)

    @property
    def trigger_direction(self) -> int:
        return ABOVE if self.direction == "above" else BELOW

    def trigger_level(self, tick_size: Decimal) -> Any:
        """The level in the series' own values: price -> ticks (exact: 'at or above 100.005' with a
        0.01 tick means 'at or above 100.01'), a fall of X % -> -X, crosses -> 0."""
        if self.type == "price":
            ticks = self.level / tick_size
            return int(ticks.to_integral_value(ROUND_CEILING if self.direction == "above" else ROUND_FLOOR))
        if self.type == "change":
            return self.level if self.direction == "above" else -self.level
        return self.level

    @property
    def candle_based(self) -> bool:
        return self.type in INDICATOR_CONDITIONS

    # ---------------------------------------------------------------- storage and wire
    def params(self) -> dict[str, Any]:
        """The jsonb `params` column (everything but type, direction and level)."""
        keys = ("interval", "period", "window", "fast", "slow", "signal")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}

    @classmethod
    def from_row(cls, condition: str, direction: str, level: Decimal, params: Any) -> Condition:
        if isinstance(params, str | bytes):   # jsonb as text (a connection without the pool's codec)
            params = json.loads(params)
        return cls(condition, direction, level, params.get("interval"), params.get("period"), params.get("window"),
                   params.get("fast"), params.get("slow"), params.get("signal"))

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type == "change":
            out["direction"] = "up" if self.direction == "above" else "down"
            out["percent"] = _s(self.level)
            out["window"] = self.window
            return out
        out["direction"] = self.direction
        if self.type == "price":
            out["price"] = _s(self.level)
        elif self.type == "rsi":
            out["level"] = _s(self.level)
        out.update({k: v for k, v in self.params().items() if k != "window"})
        return out

    def describe(self, symbol: str) -> str:
        """A sentence for emails and notifications."""
        d = self.direction
        if self.type == "price":
            return f"{symbol} traded at or {'above' if d == 'above' else 'below'} {_s(self.level)}"
        if self.type == "change":
            return f"{symbol} {'rose' if d == 'above' else 'fell'} {_s(self.level)}% or more within {self.window}"
        if self.type == "rsi":
            return f"{symbol} RSI({self.period}, {self.interval}) crossed {d} {_s(self.level)}"
        if self.type in ("sma_cross", "ema_cross"):
            ma = "SMA" if self.type == "sma_cross" else "EMA"
            return f"{symbol} {self.interval} close crossed {d} its {ma}({self.period})"
        return (f"{symbol} MACD({self.fast}, {self.slow}, {self.signal}, {self.interval}) crossed {d} "
                f"its signal line")


def _s(value: Decimal) -> str:
    return "0" if value == 0 else format(value.normalize(), "f")


# ---------------------------------------------------------------------------- parsing
def parse_condition(data: Any) -> Condition:
    """Validate a wire `condition` object (see the module docstring)."""
    if not isinstance(data, dict):
        raise AlertRuleError("invalid_condition", "condition must be an object with a type.", "condition")
    kind = data.get("type")
    if kind not in CONDITIONS:
        raise AlertRuleError("invalid_condition", f"condition.type must be one of {', '.join(CONDITIONS)}.",
                             "condition.type")
    allowed = {"price": {"direction", "price"}, "change": {"direction", "percent", "window"},
               "rsi": {"direction", "level", "period", "interval"},
               "sma_cross": {"direction", "period", "interval"}, "ema_cross": {"direction", "period", "interval"},
               "macd_cross": {"direction", "fast", "slow", "signal", "interval"}}[kind]
    unknown = set(data) - allowed - {"type"}
    if unknown:
        raise AlertRuleError("unknown_field", f"Unknown condition field(s) for {kind}: {', '.join(sorted(unknown))}.",
                             "condition")
    if kind == "change":
        direction = _choice(data, "direction", {"up": "above", "down": "below"})
        percent = _decimal(data, "percent")
        # a rise may be large; a fall of 100 % or more would need a price of zero
        ok = percent <= MAX_UP_PERCENT if direction == "above" else percent < 100
        if percent < MIN_PERCENT or not ok:
            raise AlertRuleError("invalid_level", f"percent must be at least {MIN_PERCENT} and "
                                 f"{'at most 1000' if direction == 'above' else 'below 100'}.", "condition.percent")
        window = _choice(data, "window", {w: w for w in WINDOWS})
        return Condition("change", direction, percent, window=window)
    direction = _choice(data, "direction", {"above": "above", "below": "below"})
    if kind == "price":
        return Condition("price", direction, _decimal(data, "price"))
    interval = _choice(data, "interval", {i: i for i in INTERVALS})
    if kind == "macd_cross":
        fast = _int(data, "fast", *MACD_FAST, default=12)
        slow = _int(data, "slow", *MACD_SLOW, default=26)
        signal = _int(data, "signal", *MACD_SIGNAL, default=9)
        if fast >= slow:
            raise AlertRuleError("invalid_period", "fast must be shorter than slow.", "condition.fast")
        return Condition("macd_cross", direction, Decimal(0), interval=interval, fast=fast, slow=slow, signal=signal)
    lo, hi = PERIODS[kind]
    period = _int(data, "period", lo, hi, default=14 if kind == "rsi" else 20)
    if kind == "rsi":
        level = _decimal(data, "level")
        if not 0 < level < 100:
            raise AlertRuleError("invalid_level", "level must be between 0 and 100 (exclusive).", "condition.level")
        return Condition("rsi", direction, level, interval=interval, period=period)
    return Condition(kind, direction, Decimal(0), interval=interval, period=period)


def _choice(data: dict, name: str, options: dict[str, str]) -> str:
    value = data.get(name)
    if not isinstance(value, str) or value not in options:
        raise AlertRuleError(f"invalid_{name}", f"{name} must be one of {', '.join(options)}.", f"condition.{name}")
    return options[value]


def _decimal(data: dict, name: str) -> Decimal:
    """A plain positive decimal string (no sign, exponent, NaN; at most MAX_DECIMALS places)."""
    value = data.get(name)
    # A level is a price (or an indicator value): a JSON string like every money field, never a number.
    if not isinstance(value, str) or not _PLAIN.fullmatch(value):
        raise AlertRuleError("invalid_level", f"{name} must be a plain positive decimal string such as \"70\".",
                             f"condition.{name}")
    try:
        amount = Decimal(value)
    except InvalidOperation:   # (the pattern already excludes it)
        raise AlertRuleError("invalid_level", f"{name} is not a number.", f"condition.{name}") from None
    exponent = amount.normalize().as_tuple().exponent
    if amount <= 0 or (isinstance(exponent, int) and -exponent > MAX_DECIMALS):
        raise AlertRuleError("invalid_level", f"{name} must be greater than 0 with at most {MAX_DECIMALS} decimals.",
                             f"condition.{name}")
    return amount


def _int(data: dict, name: str, lo: int, hi: int, *, default: int) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise AlertRuleError("invalid_period", f"{name} must be an integer between {lo} and {hi}.",
                             f"condition.{name}")
    return value


# ---------------------------------------------------------------------------- the rest of an alert
@dataclass(frozen=True, slots=True)
class AlertOptions:
    repeat: bool
    cooldown_s: int
    email: bool
    note: str


def parse_options(data: dict) -> AlertOptions:
    """`repeat` (default false), `cooldown_seconds` (repeating alerts only; 60 s .. 7 days, default
    300), `email` (default true), `note` (at most 200 printable characters)."""
    repeat = data.get("repeat", False)
    if not isinstance(repeat, bool):
        raise AlertRuleError("invalid_repeat", "repeat must be true or false.", "repeat")
    cooldown = data.get("cooldown_seconds")
    if cooldown is None:
        cooldown = COOLDOWN_DEFAULT_S if repeat else 0
    elif not repeat:
        raise AlertRuleError("invalid_cooldown", "cooldown_seconds applies to repeating alerts (repeat: true) only.",
                             "cooldown_seconds")
    elif isinstance(cooldown, bool) or not isinstance(cooldown, int) or not COOLDOWN_MIN_S <= cooldown <= COOLDOWN_MAX_S:
        raise AlertRuleError("invalid_cooldown", f"cooldown_seconds must be an integer between {COOLDOWN_MIN_S} "
                             f"and {COOLDOWN_MAX_S}.", "cooldown_seconds")
    email = data.get("email", True)
    if not isinstance(email, bool):
        raise AlertRuleError("invalid_email", "email must be true or false.", "email")
    note = data.get("note", "")
    if not isinstance(note, str) or len(note) > NOTE_MAX or not all(c.isprintable() for c in note):
        raise AlertRuleError("invalid_note", f"note must be a string of at most {NOTE_MAX} printable characters.",
                             "note")
    return AlertOptions(repeat, cooldown, email, note)


def check_price_band(condition: Condition, last_price: Decimal | None, max_price: Decimal) -> None:
    """A price alert's level must be a price the market can trade at, and (once it has traded)
    within a factor PRICE_BAND of the last price: 0.00000001 on BTC-USDT is not an alert, it is a typo."""
    if condition.type != "price":
        return
    level = condition.level
    if level > max_price:
        raise AlertRuleError("alert_price_out_of_range", f"price must be at most {_s(max_price)}.", "condition.price")
    if last_price is not None and not last_price / PRICE_BAND <= level <= last_price * PRICE_BAND:
        raise AlertRuleError("alert_price_out_of_range",
                             f"price must be within {PRICE_BAND}x of the last price ({_s(last_price)}).",
                             "condition.price")

