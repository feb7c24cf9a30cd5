"""Drill 4: two trade replicas on one database, the markets' owner SIGKILLed mid-load.

Replicas A and B (`mycrypto serve trade`) share a private PostgreSQL; A starts first and owns every
market (the advisory lock `pg_advisory_lock(7415, market_id)` on its owner connection); B forwards order
commands to A. Workers send orders to both. A is SIGKILLed: PostgreSQL frees its locks when its
connections die, B's ownership poll takes the markets, rebuilds their books from the open orders and
accepts again; then A is started again and must NOT take anything back. A monitor samples, every
~100 ms, the granted advisory locks (never two holders of one market) and both replicas'
`/api/v1/trade/admin/engines` (never one market owned by two live replicas). At the end every
acknowledged order is in the database, the book B serves equals the open orders in the database, and
`mycrypto verify` passes.
"""
from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from decimal import Decimal
from typing import Any

import httpx

from mycrypto.db.database import Database
from tests.support.drills.kit import Report, drill_settings, make_report, make_users, retry_unknown
from tests.support.drills.load import Load, mixed_ops, wait_until
from tests.support.platform_process import PlatformProcess, platform_env
from tests.support.private_servers import PrivatePostgres

FUNDS = {"BTC": "10", "USDT": "1000000"}
ENGINES = "/api/v1/trade/admin/engines"
LOCKS_SQL = """
SELECT l.objid::int AS market_id, count(*) AS holders, array_agg(l.pid) AS pids
  FROM pg_locks l
 WHERE l.locktype = 'advisory' AND l.classid = 7415 AND l.objsubid = 2 AND l.granted
 GROUP BY l.objid
"""


class OwnershipMonitor:
    """Samples the lock table and the replicas' own view until stopped; remembers any overlap."""

    def __init__(self, db: Database, replicas: list[PlatformProcess], admin_headers: dict[str, str]) -> None:
        self.db = db
        self.replicas = replicas
        self.headers = admin_headers
        self.samples = 0
        self.max_lock_holders = 0
        self.double_owned: list[str] = []       # "symbol owned by A and B at t"
        self.owners_seen: dict[str, set[str]] = defaultdict(set)
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> OwnershipMonitor:
        self._task = asyncio.create_task(self._run())
        return self

    async def owned(self, client: httpx.AsyncClient, replica: PlatformProcess) -> set[str] | None:
        if not replica.alive():
            return None
        try:
            r = await client.get(replica.url + ENGINES, headers=self.headers, timeout=2)
            return set(r.json()["owned"]) if r.status_code == 200 else None
        except (httpx.TransportError, ValueError, KeyError):
            return None

    async def _run(self) -> None:
        async with httpx.AsyncClient() as client:
            while not self._stop.is_set():
                try:
                    for row in await self.db.fetch(LOCKS_SQL):
                        self.max_lock_holders = max(self.max_lock_holders, row["holders"])
                except Exception:   # the monitor's own connection hiccuped: sample again
                    pass
                views = [(r.name, await self.owned(client, r)) for r in self.replicas]
                seen: dict[str, str] = {}
                for name, owned in views:
                    for symbol in owned or ():
                        self.owners_seen[symbol].add(name)
                        if symbol in seen:
                            self.double_owned.append(f"{symbol} owned by {seen[symbol]} and {name} at {time.monotonic():.2f}")
                        seen[symbol] = name
                self.samples += 1
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


async def book_matches_database(client: httpx.AsyncClient, url: str, db: Database, symbol: str) -> tuple[bool, str]:
    r = await client.get(f"{url}/api/v1/orderbook/{symbol}?depth=5000", timeout=10)
    r.raise_for_status()
    book = r.json()
    served = {(side, Decimal(p).normalize(), Decimal(q).normalize()) for side in ("bids", "asks") for p, q in book[side]}
    rows = await db.fetch(
        "SELECT o.side::text AS side, o.price, sum(o.quantity - o.filled_quantity) AS qty FROM trade.spot_order o "
        "JOIN trade.market m ON m.id = o.market_id WHERE m.symbol = $1 AND o.status IN ('new', 'partially_filled') "
        "GROUP BY o.side, o.price", symbol)
    stored = {("bids" if r["side"] == "buy" else "asks", r["price"].normalize(), r["qty"].normalize()) for r in rows}
    return served == stored, f"served-only {sorted(served - stored)[:5]}, database-only {sorted(stored - served)[:5]}"


async def replica_takeover_drill(*, users: int = 4, workers: int = 8, before_s: float = 3.0, after_s: float = 4.0,
                                 log: Any = print) -> Report:
    pg = PrivatePostgres()
    a = b = db = load = monitor = None
    try:
        pg.start()
        dsn = pg.create_database("mycrypto")
        env = platform_env(dsn, RATE_LIMITS_ENABLED="false", TRADE_OWNER_POLL_SECONDS="0.3")
        a = PlatformProcess("trade", env, migrate=True, name="A").start()
        db = Database(dsn, min_size=1, max_size=3)
        await db.connect()
        settings = drill_settings(dsn)
        [admin] = await make_users(db, settings, 1, {}, role="admin")
        people = await make_users(db, settings, users, FUNDS)
        async with httpx.AsyncClient() as client:
            monitor = OwnershipMonitor(db, [], admin.headers)
            owned_by_a = await wait_until(lambda: _owns(monitor, client, a, "BTC-USDT"), 30)
            assert owned_by_a is not None, "replica A never took BTC-USDT"
            b = PlatformProcess("trade", env, name="B").start()
            monitor.replicas = [a, b]
            monitor.start()
            load = Load([a.url, b.url], people, mixed_ops("rep", withdraw_every=0), workers=workers).start()
            await asyncio.sleep(before_s)
            b_owned_before = await monitor.owned(client, b)

            load.phase = "takeover"
            killed_at = time.monotonic()
            await asyncio.to_thread(a.kill)                 # the owner dies without releasing anything
            took = await wait_until(lambda: _owns(monitor, client, b, "BTC-USDT"), 60)
            acked_after = await wait_until(lambda: load.tally.first_ack_at.get("takeover", 0) > killed_at + 0.05, 60)
            load.phase = "after"
            await asyncio.sleep(after_s / 2)
            await asyncio.to_thread(a.start)                # the old owner comes back: it must stay a follower
            await asyncio.sleep(after_s / 2)
            a_owned_after_restart = await monitor.owned(client, a)
            await load.stop()
            await retry_unknown(client, b.url, load.tally)
            await monitor.stop()
            book_ok, book_diff = await book_matches_database(client, b.url, db, "BTC-USDT")
        numbers = {"takeover_s": None if took is None else round(took, 2),
                   "first_ack_after_kill_s": None if acked_after is None
                   else round(load.tally.first_ack_at["takeover"] - killed_at, 2),
                   "b_owned_before_kill": sorted(b_owned_before or ()),
                   "a_owned_after_restart": sorted(a_owned_after_restart or ()),
                   "monitor_samples": monitor.samples, "max_lock_holders": monitor.max_lock_holders,
                   "double_owned": monitor.double_owned[:5],
                   "owners_seen": {k: sorted(v) for k, v in monitor.owners_seen.items()},
                   "book_equals_database": book_ok, "book_diff": "" if book_ok else book_diff,
                   "sent": load.sent, "server_errors": len(load.tally.server_errors)}
        return await make_report("replica-takeover", db, load.tally, env, numbers,
                                 unhandled=lambda: (a.unhandled() if a else []) + (b.unhandled() if b else []), log=log)
    finally:
        if monitor is not None:
            await monitor.stop()
        if load is not None:
            await load.close()
        if db is not None:
            await db.close()
        for replica in (a, b):
            if replica is not None:
                replica.close()
        pg.close()


async def _owns(monitor: OwnershipMonitor, client: httpx.AsyncClient, replica: PlatformProcess, symbol: str) -> bool:
    owned = await monitor.owned(client, replica)
    return owned is not None and symbol in owned

