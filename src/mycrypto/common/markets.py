"""A market's trading rules as exact integers, and the unit conversions the hot path needs.

Shared by trading (the engine, orders) and marketdata (depth, trades, tickers), so it lives below both;
it is pure (no I/O), like the `domain/` packages (tests/unit/foundation/test_project_rules.py).

The matching core works in integer *ticks* (price) and *lots* (quantity); the ledger works in the
assets' minor units (10^-decimals). `MarketSpec.build` derives, once per market, the integer factors
that connect them and refuses a market where they are not exact:

    quote minor units of a trade = price_ticks * qty_lots * quote_per_ticklot
    base minor units of a trade  = qty_lots * base_per_lot

(the seed chooses tick * lot as a whole number of the quote asset's minor units precisely so that a
trade's cost is exact; only fees are rounded). Fee rates are kept in parts per million (the schema's
NUMERIC(10,6) makes that exact).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

PPM = 1_000_000
MAX_PRICE_TICKS = 10**15      # keeps every amount far inside NUMERIC(38,18); a higher price is refused
TRADING, HALTED = "trading", "halted"


class MarketConfigError(ValueError):
    """A market row whose sizes are not exact in the assets' minor units (the engine refuses to own it)."""


def _exact_ratio(numerator: Decimal, denominator: Decimal, what: str) -> int:
    ratio = numerator / denominator
    if ratio != ratio.to_integral_value() or ratio <= 0:
        raise MarketConfigError(f"{what} is not a whole number ({numerator} / {denominator})")
    return int(ratio)


def decimals_of(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


_POW10 = [10**i for i in range(40)]


def units_str(units: int, decimals: int) -> str:
    """Canonical decimal string of `units` * 10^-decimals ("1.5", "0", "0.00001"): no float, no exponent."""
    if not units or not decimals:
        return str(units)
    if units < 0:
        return "-" + units_str(-units, decimals)
    whole, frac = divmod(units, _POW10[decimals])
    if not frac:
        return str(whole)
    return f"{whole}.{str(frac).rjust(decimals, '0').rstrip('0')}"


def ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


@dataclass(frozen=True, slots=True)
class MarketSpec:
    id: int
    symbol: str
    base: str
    quote: str
    base_decimals: int
    quote_decimals: int
    tick_size: Decimal
    lot_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    maker_fee: Decimal
    taker_fee: Decimal
    status: str
    # derived integers (see the module docstring)
    quote_per_ticklot: int
    base_per_lot: int
    price_decimals: int
    qty_decimals: int
    min_qty_lots: int
    max_qty_lots: int
    min_notional_units: int
    maker_ppm: int
    taker_ppm: int
    tick_units: int      # quote minor units per tick when exact (all seeded markets), else 0

    @classmethod
    def build(cls, *, id: int, symbol: str, base: str, quote: str, base_decimals: int, quote_decimals: int,
              tick_size: Decimal, lot_size: Decimal, min_qty: Decimal, max_qty: Decimal,
              min_notional: Decimal, maker_fee: Decimal, taker_fee: Decimal, status: str = TRADING) -> MarketSpec:
        quote_unit = Decimal(1).scaleb(-quote_decimals)
        base_unit = Decimal(1).scaleb(-base_decimals)
        qptl = _exact_ratio(tick_size * lot_size, quote_unit, f"{symbol}: tick_size * lot_size in {quote} units")
        bpl = _exact_ratio(lot_size, base_unit, f"{symbol}: lot_size in {base} units")
        maker_ppm = maker_fee * PPM
        taker_ppm = taker_fee * PPM
        if maker_ppm != maker_ppm.to_integral_value() or taker_ppm != taker_ppm.to_integral_value():
            raise MarketConfigError(f"{symbol}: fee rates must have at most 6 decimals")
        min_lots = -((-min_qty) // lot_size)   # min_qty rounded UP to whole lots
        tick_units = tick_size.scaleb(quote_decimals)
        return cls(
            id=id, symbol=symbol, base=base, quote=quote, base_decimals=base_decimals,
            quote_decimals=quote_decimals, tick_size=tick_size, lot_size=lot_size, min_qty=min_qty,
            max_qty=max_qty, min_notional=min_notional, maker_fee=maker_fee, taker_fee=taker_fee,
            status=status, quote_per_ticklot=qptl, base_per_lot=bpl,
            price_decimals=decimals_of(tick_size), qty_decimals=decimals_of(lot_size),
            min_qty_lots=max(1, int(min_lots)), max_qty_lots=int(max_qty // lot_size),
            min_notional_units=int(-((-min_notional.scaleb(quote_decimals)) // 1)),
            maker_ppm=int(maker_ppm), taker_ppm=int(taker_ppm),
            tick_units=int(tick_units) if tick_units == tick_units.to_integral_value() else 0,
        )

    def with_status(self, status: str) -> MarketSpec:
        from dataclasses import replace

        return replace(self, status=status)

    @property
    def halted(self) -> bool:
        return self.status != TRADING

    @property
    def hold_ppm(self) -> int:
        """The fee rate a buy order's hold covers: the worst case (all taker, or maker if higher)."""
        return self.taker_ppm if self.taker_ppm >= self.maker_ppm else self.maker_ppm

    # ---------------------------------------------------------------- conversions (exact)
    def price(self, ticks: int) -> Decimal:
        return self.tick_size * ticks

    def qty(self, lots: int) -> Decimal:
        return self.lot_size * lots

    def quote_amount(self, units: int) -> Decimal:
        return Decimal(units).scaleb(-self.quote_decimals)

    def base_amount(self, units: int) -> Decimal:
        return Decimal(units).scaleb(-self.base_decimals)

    def price_str(self, ticks: int) -> str:
        if self.tick_units:
            return units_str(ticks * self.tick_units, self.quote_decimals)
        return fmt_plain(self.price(ticks))

    def qty_str(self, lots: int) -> str:
        return units_str(lots * self.base_per_lot, self.base_decimals)

    def quote_str(self, units: int) -> str:
        return units_str(units, self.quote_decimals)

    def base_str(self, units: int) -> str:
        return units_str(units, self.base_decimals)

    def cost_units(self, price_ticks: int, qty_lots: int) -> int:
        return price_ticks * qty_lots * self.quote_per_ticklot


def fmt_plain(value: Decimal) -> str:
    if value == 0:
        return "0"
    return format(value.normalize(), "f")
