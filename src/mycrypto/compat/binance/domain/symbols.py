"""Market symbols: MyCrypto's `BTC-USDT` <-> Binance's `BTCUSDT` (base and quote asset codes joined).

Asset codes are the same on both sides. Two markets that would collapse onto one Binance symbol
(`AB-C` and `A-BC`) cannot both be served: the first (lowest market id) keeps the name and the
other is left out of the map, which the adapter logs once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable


def binance_symbol(base: str, quote: str) -> str:
    return f"{base}{quote}".upper()


@dataclass(frozen=True, slots=True)
class SymbolMap:
    to_native: dict[str, str]                  # BTCUSDT -> BTC-USDT
    to_binance: dict[str, str]                 # BTC-USDT -> BTCUSDT
    clashes: tuple[str, ...] = field(default=())   # native symbols left out (name already taken)

    @classmethod
    def build(cls, specs: Iterable[Any]) -> SymbolMap:
        """`specs`: objects with .id, .symbol, .base and .quote (common.markets.MarketSpec)."""
        to_native: dict[str, str] = {}
        to_binance: dict[str, str] = {}
        clashes = []
        for spec in sorted(specs, key=lambda s: s.id):
            name = binance_symbol(spec.base, spec.quote)
            if name in to_native:
                clashes.append(spec.symbol)
                continue
            to_native[name] = spec.symbol
            to_binance[spec.symbol] = name
        return cls(to_native, to_binance, tuple(clashes))

    def native(self, binance: str) -> str | None:
        return self.to_native.get(binance.upper())

    def binance(self, native: str) -> str:
        return self.to_binance.get(native) or native.replace("-", "")
