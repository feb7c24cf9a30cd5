"""Drill 3: the wallet service SIGKILLed during concurrent withdrawals and deposits.

`mycrypto serve wallet` (its deposit watcher and withdrawal processor run in it) on a private PostgreSQL.
Workers request BTC withdrawals with an Idempotency-Key while a "chain" task sends BTC deposits to the
users' addresses through the chain simulator and mines blocks. Mid-load the wallet process is SIGKILLed
(no shutdown code runs) and started again. Requests whose answer was lost are retried with their key.
At the end every deposit sent is credited exactly once (no double credit), every acknowledged
withdrawal is found (retries were answered with the same withdrawal, never a second one), every
withdrawal reached the chain or stays held (no lost hold), and `mycrypto verify` passes.
"""
from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import httpx

from mycrypto.db.database import Database
from mycrypto.wallet.chain.simulator import SimulatorChain
from tests.support.drills.kit import Report, drill_settings, make_report, make_users, retry_unknown, withdrawal_op
from tests.support.drills.load import Load, wait_until
from tests.support.platform_process import PlatformProcess, platform_env
from tests.support.private_servers import PrivatePostgres

DEPOSIT = Decimal("0.01")


class Chain:
    """Deposits from outside and blocks, as a node would produce them, while the wallet is up or down."""

    def __init__(self, db: Database, addresses: list[str]) -> None:
        self.sim = SimulatorChain(db)
        self.addresses = addresses
        self.sent: list[str] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self, every_s: float = 0.1) -> Chain:
        async def run() -> None:
            i = 0
            while not self._stop.is_set():
                try:
                    sent = await self.sim.send("BTC", self.addresses[i % len(self.addresses)], DEPOSIT)
                    self.sent.append(sent.txid)
                    i += 1
                    if i % 5 == 0:
                        await self.sim.mine(1, "bitcoin")
                except Exception:   # the drill's own database pool may hiccup; the chain just goes on
                    pass
                await asyncio.sleep(every_s)
        self._task = asyncio.create_task(run())
        return self

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


async def wallet_kill_drill(*, users: int = 4, workers: int = 8, before_s: float = 3.0, down_s: float = 1.0,
                            after_s: float = 3.0, kills: int = 1, log: Any = print) -> Report:
    pg = PrivatePostgres()
    platform = db = load = chain = None
    try:
        pg.start()
        dsn = pg.create_database("mycrypto")
        env = platform_env(dsn, RATE_LIMITS_ENABLED="false", WALLET_WATCH_INTERVAL_SECONDS="0.3")
        platform = PlatformProcess("wallet", env, migrate=True, name="wallet").start()
        db = Database(dsn, min_size=1, max_size=3)
        await db.connect()
        people = await make_users(db, drill_settings(dsn), users, {"BTC": "4"})
        async with httpx.AsyncClient() as client:
            addresses = []
            for u in people:
                r = await client.get(platform.url + "/api/v1/wallet/deposit-address/BTC", headers=u.headers)
                assert r.status_code == 200, r.text
                addresses.append(r.json()["address"])
            chain = Chain(db, addresses).start()
            load = Load([platform.url], people, lambda u, i: withdrawal_op(u, f"wd-{u.user_id}-{i}"),
                        workers=workers, pause_s=0.05, shared_keys=True).start()
            await asyncio.sleep(before_s)
            restart_s = []
            for _ in range(kills):
                load.phase = "down"
                await asyncio.to_thread(platform.kill)          # SIGKILL mid-load
                await asyncio.sleep(down_s)
                started = time.monotonic()
                await asyncio.to_thread(platform.start)
                restart_s.append(round(time.monotonic() - started, 2))
                load.phase = "after"
                await asyncio.sleep(after_s)
            await load.stop()
            await chain.stop()
            await retry_unknown(client, platform.url, load.tally)
            # settle: confirm every deposit and withdrawal on the chain, let the watcher/processor finish
            settled = await wait_until(lambda: _settled(db, chain), 90, 0.5)
        deposits = await db.fetchrow(
            "SELECT count(*) AS rows, count(*) FILTER (WHERE status = 'credited') AS credited, "
            "count(DISTINCT (txid, vout)) AS distinct_tx, coalesce(sum(amount) FILTER (WHERE status = 'credited'), 0) "
            "AS amount FROM wallet.deposit")
        deposit_postings = await db.fetchval("SELECT count(*) FROM wallet.posting WHERE kind = 'deposit'")
        # the processor killed mid-broadcast must not pay twice: one chain transfer per withdrawal reference
        broadcasts = await db.fetchrow(
            "SELECT count(*) AS transfers, count(DISTINCT reference) AS refs FROM chainsim.transfer "
            "WHERE reference LIKE 'withdrawal-%'")
        withdrawals = {r["status"]: r["n"] for r in await db.fetch(
            "SELECT status::text, count(*) AS n FROM wallet.withdrawal GROUP BY status")}
        numbers = {"deposits_sent": len(chain.sent), "deposit_rows": deposits["rows"],
                   "deposits_credited": deposits["credited"], "deposit_postings": deposit_postings,
                   "deposit_amount_credited": str(deposits["amount"].normalize()),
                   "deposit_amount_sent": str((DEPOSIT * len(chain.sent)).normalize()),
                   "withdrawals_by_status": withdrawals, "chain_payouts": broadcasts["transfers"],
                   "chain_payout_references": broadcasts["refs"], "settled_s": None if settled is None else round(settled, 2),
                   "restart_ready_s": restart_s, "sent": load.sent, "server_errors": len(load.tally.server_errors),
                   "retried_replayed": load.tally.replayed.get("retry", 0)}
        return await make_report("wallet-kill", db, load.tally, env, numbers,
                                 unhandled=lambda: platform.unhandled(), log=log)
    finally:
        if chain is not None:
            await chain.stop()
        if load is not None:
            await load.close()
        if db is not None:
            await db.close()
        if platform is not None:
            platform.close()
        pg.close()


async def _settled(db: Database, chain: Chain) -> bool:
    """Mine a block, then: every deposit sent is credited and no withdrawal waits to be broadcast."""
    await chain.sim.mine(1, "bitcoin")
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM wallet.deposit WHERE status = 'credited') AS credited, "
        "(SELECT count(*) FROM wallet.withdrawal WHERE status IN ('approved', 'broadcast')) AS moving")
    return row["credited"] >= len(chain.sent) and row["moving"] == 0
