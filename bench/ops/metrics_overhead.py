#!/usr/bin/env python3
"""What /metrics costs the hot path: MetricsMiddleware per request, and the engine's per-batch hook.

Runs in-process (no network, no database), so it measures only our code: a trivial ASGI app answering
201, called directly and through MetricsMiddleware, and `batch_committed` for a 50-command batch. Prints
microseconds per call (best of --repeat rounds of --n calls). Compare with the server's ~200-300 µs of
CPU per order (docs/PERFORMANCE.md) to see the share.

    python bench/ops/metrics_overhead.py [--n 100000] [--repeat 5]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from mycrypto.common.metrics import MetricsMiddleware, batch_committed  # noqa: E402

START = {"type": "http.response.start", "status": 201, "headers": []}
BODY = {"type": "http.response.body", "body": b"{}"}


async def app(scope: dict, receive: object, send: object) -> None:
    await send(START)   # type: ignore[operator]
    await send(BODY)    # type: ignore[operator]


async def _send(message: dict) -> None:
    return None


async def _receive() -> dict:
    return {}


class Place:   # stands in for trading.engine.Place (the hook looks at the class name)
    pass


async def per_request(target: object, n: int, repeat: int) -> float:
    scope = {"type": "http", "method": "POST", "path": "/api/v1/trade/orders"}
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(n):
            await target(scope, _receive, _send)   # type: ignore[operator]
        best = min(best, (time.perf_counter() - started) / n)
    return best * 1e6


def per_batch(n: int, repeat: int) -> float:
    cmds, outcomes = [Place() for _ in range(50)], [object() for _ in range(50)]
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(n // 50):
            batch_committed("BTC-USDT", cmds, outcomes, 10)
        best = min(best, (time.perf_counter() - started) / (n // 50))
    return best * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    bare = asyncio.run(per_request(app, args.n, args.repeat))
    wrapped = asyncio.run(per_request(MetricsMiddleware(app, service="trade"), args.n, args.repeat))
    batch = per_batch(args.n, args.repeat)
    print(f"| what | µs |\n|---|---:|\n| request, bare ASGI app | {bare:.2f} |\n| request, through MetricsMiddleware | "
          f"{wrapped:.2f} |\n| middleware cost per request | {wrapped - bare:.2f} |\n"
          f"| batch_committed, 50-command batch (once per group commit) | {batch:.2f} |")


if __name__ == "__main__":
    main()
