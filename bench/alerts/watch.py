"""Cost of alert evaluation per committed trade (the pure MarketWatch the evaluator runs off the
sequencer's path, but on the same event loop): microseconds per trade with N alerts of each kind.

    .venv/bin/python bench/alerts/watch.py                 # 0, 1k, 10k, 100k price alerts
    .venv/bin/python bench/alerts/watch.py --kinds all     # plus % change and indicator alerts

Prints, per case, the time to place the alerts and the cost per trade. Trades are a random walk around
50,000 (tick 0.01, +-0.50 per trade), one every 50 ms; price alerts' levels are spread over +-2 %, so
trades keep firing and re-arming the repeating half (a trade costs O(log n) per alert it fires or
re-arms, plus a constant; the firing transaction itself is database work and not measured here).
"""
from __future__ import annotations

import argparse
import random
import time
from decimal import Decimal

from mycrypto.alerts.domain.conditions import parse_condition
from mycrypto.alerts.domain.watch import MarketWatch, WatchedAlert

TICK = Decimal("0.01")
T0 = 1_700_000_000_000


def conditions(kind: str, rnd: random.Random) -> dict:
    if kind == "price":
        return {"type": "price", "direction": rnd.choice(["above", "below"]), "price": str(rnd.randint(49000, 51000))}
    if kind == "change":
        return {"type": "change", "direction": rnd.choice(["up", "down"]), "percent": str(rnd.randint(1, 300) / 100),
                "window": rnd.choice(["5m", "15m", "1h"])}
    if kind == "rsi":
        return {"type": "rsi", "direction": rnd.choice(["above", "below"]), "level": str(rnd.randint(20, 80)),
                "period": 14, "interval": "1m"}
    return {"type": "sma_cross", "direction": rnd.choice(["above", "below"]), "period": rnd.choice([10, 20, 50]),
            "interval": "1m"}


def case(n_alerts: int, kinds: list[str], trades: int, seed: int = 1) -> tuple[float, float, int]:
    rnd = random.Random(seed)
    w = MarketWatch(TICK)
    w.start(1, (1, 5_000_000, T0))
    for kind in kinds:
        if kind in ("change", "rsi", "sma"):
            w.load_history("1m", [(T0 - (200 - i) * 60_000, Decimal(50000 + rnd.randint(-100, 100)), 1)
                                  for i in range(200)], 2000)
    t0 = time.perf_counter()
    for i in range(n_alerts):
        kind = kinds[i % len(kinds)]
        w.add(WatchedAlert(i + 1, parse_condition(conditions(kind, rnd)), repeating=i % 2 == 0, cooldown_s=60,
                           since_trade_id=1, adopted=True))
    placed = time.perf_counter() - t0
    price, ms, fired = 5_000_000, T0, 0
    t0 = time.perf_counter()
    for tid in range(2, trades + 2):
        price += rnd.randint(-50, 50)
        ms += 50
        fired += len(w.trade(tid, price, ms))
    per_trade = (time.perf_counter() - t0) / trades
    return placed, per_trade, fired


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kinds", default="price", help="price, or all (price, change, rsi, sma)")
    parser.add_argument("--trades", type=int, default=100_000)
    args = parser.parse_args()
    kinds = ["price"] if args.kinds == "price" else ["price", "change", "rsi", "sma"]
    print(f"{'alerts':>8} {'kinds':<24} {'place s':>8} {'us/trade':>9} {'fired':>8}")
    for n in (0, 1_000, 10_000, 100_000):
        placed, per_trade, fired = case(n, kinds, args.trades)
        print(f"{n:>8} {','.join(kinds):<24} {placed:>8.2f} {per_trade * 1e6:>9.2f} {fired:>8}")


if __name__ == "__main__":
    main()
