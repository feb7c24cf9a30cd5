#!/usr/bin/env python3
"""Stream fan-out benchmark: N WebSocket clients subscribed to one market's book diffs and trades while
orders flow (bounded: --clients, --seconds).

It reuses bench/e2e's setup (fresh database, funded users, `mycrypto serve trade` subprocess, a seeded
book, the raw keep-alive order driver), then in ONE run:
  1. orders closed loop for --seconds with no subscriber            -> orders/s (baseline)
  2. --clients native /ws clients (in --procs receiver subprocesses) subscribe to book:BTC-USDT and
     trades:BTC-USDT; orders closed loop again for --seconds         -> orders/s with subscribers
     each receiver timestamps every data frame on arrival; latency = receipt - the batch's time (the
     engine's batch clock, taken when the batch was matched, just before its commit: so the number
     includes the commit itself and is an upper bound of commit -> receipt)
Prints orders/s both ways (and the ratio), events/s delivered per client and in total, and latency
p50/p90/p99/max over all clients' frames.

    python bench/streams/run.py --clients 1000 --seconds 10 --conns 32
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench" / "e2e"))
sys.path.insert(0, str(ROOT / "src"))


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


# ---------------------------------------------------------------------------- receiver subprocess
async def receive(port: int, clients: int, start_at: float, stop_at: float, out: str) -> None:
    import websockets

    lat: list[float] = []
    counts = [0] * clients
    ready = 0

    async def one(i: int) -> None:
        nonlocal ready
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws", max_queue=None, ping_interval=None) as ws:
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "streams": ["book:BTC-USDT", "trades:BTC-USDT"]}))
            ready += 1
            while True:
                raw = await ws.recv()
                now = time.time()
                if now > stop_at:
                    return
                if now < start_at or '"type":"data"' not in raw:
                    continue
                msg = json.loads(raw)
                counts[i] += 1
                if i % 10 == 0:   # latencies from every 10th client (the JSON parse is the driver's cost)
                    lat.append(now * 1000 - msg["data"]["time"])

    tasks = []
    for i in range(clients):
        tasks.append(asyncio.create_task(one(i)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    try:
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), stop_at - time.time() + 30)
    except TimeoutError:
        pass
    Path(out).write_text(json.dumps({"lat": lat, "counts": counts, "ready": ready}))


# ---------------------------------------------------------------------------- driver
async def orders_phase(port: int, orders: list[bytes], conns: int, seconds: float) -> dict:
    from mycrypto.ops.loadgen import closed_loop
    return (await closed_loop("orders", "127.0.0.1", port, orders, conns, seconds)).row()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--procs", type=int, default=4, help="receiver subprocesses")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--conns", type=int, default=32, help="order connections (closed loop)")
    ap.add_argument("--stream-replica", action="store_true",
                    help="serve the subscribers from a second trade process (TRADE_ENGINES=false) fed through "
                         "Redis (REDIS_URL, default redis://127.0.0.1:6379/0), as production scales streams out")
    ap.add_argument("--profile", action="store_true", help="the (owner) server under cProfile -> bench/e2e/server.prof")
    ap.add_argument("--receiver", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.receiver:
        port, clients, start_at, stop_at, out = args.receiver
        asyncio.run(receive(int(port), int(clients), float(start_at), float(stop_at), out))
        return

    from run import free_port, order_requests, seed_book, setup_database, start_server, tokens

    admin_dsn = os.environ.get("PGURL", "postgresql://postgres@127.0.0.1:5432/postgres")
    dsn, users, _ = asyncio.run(setup_database(admin_dsn, "mycrypto_bench_streams", 200))
    port = free_port()
    # every client connects from 127.0.0.1: lift the per-IP cap for the benchmark only
    stream_env = {"STREAM_MAX_CONNECTIONS_PER_IP": str(args.clients + 10), "STREAM_SEND_QUEUE": "5000"}
    if args.stream_replica:
        stream_env.update(REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                          STREAM_REDIS_CHANNEL=f"bench:streams:{os.getpid()}")
    server = start_server(dsn, port, stream_env, profile=args.profile)
    replica, ws_port = None, port
    if args.stream_replica:
        ws_port = free_port()
        replica = start_server(dsn, ws_port, {**stream_env, "TRADE_ENGINES": "false"})
    try:
        toks = tokens(users)
        asyncio.run(seed_book(f"127.0.0.1:{port}", port, toks))
        orders = order_requests(f"127.0.0.1:{port}", toks, 200_000)
        base = asyncio.run(orders_phase(port, orders, args.conns, args.seconds))
        print(f"orders, no subscribers: {base['ok_per_s']:.0f}/s", flush=True)
        per = args.clients // args.procs
        connect_s = 5 + args.clients / 100
        start_at = time.time() + connect_s
        stop_at = start_at + args.seconds
        outs = [HERE / f"recv{i}.json" for i in range(args.procs)]
        procs = [subprocess.Popen([sys.executable, __file__, "--receiver", str(ws_port), str(per), str(start_at),
                                   str(stop_at), str(out)]) for out in outs]
        time.sleep(max(0.0, start_at - time.time()))
        loaded = asyncio.run(orders_phase(port, orders[100_000:], args.conns, args.seconds))
        for p in procs:
            p.wait(timeout=args.seconds + 120)
        lat, counts, ready = [], [], 0
        for out in outs:
            data = json.loads(out.read_text())
            lat += data["lat"]
            counts += data["counts"]
            ready += data["ready"]
            out.unlink()
        total = sum(counts)
        print(f"orders, {ready} subscribers: {loaded['ok_per_s']:.0f}/s "
              f"({100 * loaded['ok_per_s'] / max(1, base['ok_per_s']):.0f} % of the baseline)")
        print(f"events delivered: {total / args.seconds:.0f}/s in total, "
              f"{total / args.seconds / max(1, len(counts)):.1f}/s per client (min client "
              f"{min(counts) / args.seconds if counts else 0:.1f}/s)")
        print(f"batch -> receipt latency over {len(lat)} frames (ms): p50 {pct(lat, 50):.1f}  p90 {pct(lat, 90):.1f}  "
              f"p99 {pct(lat, 99):.1f}  max {max(lat) if lat else float('nan'):.1f}")
    finally:
        for proc in (server, replica):
            if proc is None:
                continue
            proc.send_signal(2) if args.profile else proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
