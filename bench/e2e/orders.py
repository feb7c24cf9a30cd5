"""The order mix both benchmarks place (bench/e2e with bearer tokens, bench/load with signed API keys).

MARKETS maps a symbol to (mid price or mid in ticks, tick, quantity generator). `mixed_orders` yields
limit orders around the mid in both directions: about half rest behind the spread (GTC) and half
cross it (IOC, so they trade and do not rest).
"""
from __future__ import annotations

import random
from collections.abc import Iterator

# symbol -> (mid price, tick as a price string format, quantity range as strings)
MARKETS = {
    "BTC-USDT": (50000, 1, lambda r: f"0.{r.randint(11, 500):05d}"),
    "ETH-USDT": (2500, 1, lambda r: f"0.{r.randint(21, 9999):04d}"),
    "ETH-BTC": (5000, 0.00001, lambda r: f"{r.randint(21, 999) / 100:.3f}"),   # mid 0.05 BTC in ticks
}


# Smaller quantities for long mixed runs (bench/load), so seeded faucet funds last: 10-100 USDT,
# 12.5-100 USDT and 0.0005-0.005 BTC per order at the mid (still above each market's minimum
# notional at 60 % of the mid).
SMALL_QTY = {
    "BTC-USDT": lambda r: f"0.{r.randint(20, 200):05d}",
    "ETH-USDT": lambda r: f"0.{r.randint(50, 400):04d}",
    "ETH-BTC": lambda r: f"0.{r.randint(10, 100):03d}",
}


def price(symbol: str, ticks_or_price: int) -> str:
    if symbol == "ETH-BTC":
        return f"{ticks_or_price / 100000:.5f}"
    return f"{ticks_or_price}.00"


def mixed_orders(n: int, seed: int = 1, markets: int = 1, qty_of: dict | None = None) -> Iterator[dict]:
    """n orders {symbol, side, price, quantity, time_in_force}, cycling over the first `markets` markets
    (quantities from `qty_of`, e.g. SMALL_QTY, instead of MARKETS' when given)."""
    rng = random.Random(seed)
    symbols = list(MARKETS)[:markets]
    for i in range(n):
        symbol = symbols[i % len(symbols)]
        mid, _, qty = MARKETS[symbol]
        qty = (qty_of or {}).get(symbol, qty)
        side = "buy" if rng.random() < 0.5 else "sell"
        offset = rng.randint(1, 40)
        if rng.random() < 0.5:   # crosses the spread: trades (IOC so it does not rest)
            p, tif = mid + (offset if side == "buy" else -offset), "IOC"
        else:                    # rests behind the spread
            p, tif = (mid - offset if side == "buy" else mid + offset), "GTC"
        yield {"symbol": symbol, "side": side, "price": price(symbol, p), "quantity": qty(rng),
               "time_in_force": tif}


def resting_orders(per_market: int, markets: int = 1, seed: int = 99, spread: int = 200,
                   start: int = 1) -> Iterator[dict]:
    """A resting book: per market, alternating buys and sells `start`..`start+spread-1` ticks from the mid."""
    rng = random.Random(seed)
    for symbol in list(MARKETS)[:markets]:
        mid, _, qty = MARKETS[symbol]
        for i in range(per_market):
            side = "buy" if i % 2 else "sell"
            off = start + i // 2 % spread
            yield {"symbol": symbol, "side": side, "price": price(symbol, mid - off if side == "buy" else mid + off),
                   "quantity": qty(rng), "time_in_force": "GTC"}
