"""The deposit watcher: turns what the chain adapter reports into deposits, credited exactly once.

`scan_once()` (called by the background loop in the wallet lifespan, by `mycrypto wallet scan`, and
directly by tests) does, in order:
1. discover - read each chain's new incoming transfers after the stored cursor and record transfers
   to our users' addresses as `pending` deposits (idempotent on chain, txid, vout), their amounts
   rounded down to the asset's decimals (dust below one unit is not recorded); the cursor moves in
   the same transaction;
2. confirm  - refresh the confirmation count of pending deposits; at the asset's
   `confirmations_required` they become `confirmed`;
3. credit   - for confirmed deposits (row-locked, SKIP LOCKED so replicas share the work), post
   chain_in -> user available and mark them `credited` in the same transaction;
4. withdrawals - mark broadcast withdrawals `confirmed` once they have enough confirmations.
A failure in one step is logged and the rest still run; everything is safe to repeat.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from ..common.money import fmt
from ..db.database import Database
from ..notify.outbox import enqueue
from . import ledger, repository as repo
from .chain import ChainAdapter
from .domain import deposits as deposit_rules
from .domain import withdrawals as withdrawal_rules
from .withdrawal_service import notify_withdrawal

log = logging.getLogger("mycrypto.wallet.watcher")

MAX_PAGES_PER_SCAN = 20


@dataclass
class ScanResult:
    discovered: int = 0
    confirmed: int = 0
    credited: int = 0
    withdrawals_confirmed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"discovered": self.discovered, "confirmed": self.confirmed, "credited": self.credited,
                "withdrawals_confirmed": self.withdrawals_confirmed, "errors": self.errors}


class DepositWatcher:
    def __init__(self, db: Database, chain: ChainAdapter) -> None:
        self.db = db
        self.chain = chain

    async def scan_once(self) -> ScanResult:
        result = ScanResult()
        for name, step in (("discover", self._discover), ("confirm", self._confirm), ("credit", self._credit),
                           ("withdrawals", self._confirm_withdrawals)):
            try:
                await step(result)
            except Exception as exc:  # one failing step (node down...) must not stop the others
                log.exception("watcher step failed", extra={"step": name})
                result.errors.append(f"{name}: {exc}")
        return result

    async def _chains(self) -> list[str]:
        rows = await self.db.fetch("SELECT DISTINCT chain FROM wallet.asset ORDER BY chain")
        return [r["chain"] for r in rows]

    async def _discover(self, result: ScanResult) -> None:
        decimals = {a.code: a.decimals for a in await repo.list_assets(self.db)}
        failures = []
        for chain in await self._chains():
            try:  # one chain's node being down must not stop the others
                await self._discover_chain(chain, decimals, result)
            except Exception as exc:
                log.warning("deposit discovery failed", extra={"chain": chain, "error": repr(exc)})
                failures.append(f"{chain}: {exc}")
        if failures:
            raise RuntimeError("; ".join(failures))

    async def _discover_chain(self, chain: str, decimals: dict[str, int], result: ScanResult) -> None:
        name = self.chain.cursor_name(chain)
        cursor = await repo.get_chain_cursor(self.db, name, chain)
        for _ in range(MAX_PAGES_PER_SCAN):
            page = await self.chain.incoming_transfers(chain, cursor)
            if page.cursor is None or page.cursor == cursor:
                break
            # whole units of the asset only (record_deposits skips what rounds to 0, and unknown assets)
            transfers = [replace(t, amount=deposit_rules.credited_amount(t.amount, decimals[t.asset]))
                         for t in page.transfers if t.asset in decimals]
            async with self.db.unit_of_work() as uow:
                result.discovered += await repo.record_deposits(uow.conn, chain, transfers)
                await repo.set_chain_cursor(uow.conn, name, chain, page.cursor)
                await uow.commit()
            cursor = page.cursor

    async def _confirm(self, result: ScanResult) -> None:
        pending = await repo.pending_deposits(self.db)
        by_chain: dict[str, list[Any]] = defaultdict(list)
        for row in pending:
            by_chain[row["chain"]].append(row)
        for chain, rows in by_chain.items():
            try:
                counts = await self.chain.confirmations(chain, [r["txid"] for r in rows])
            except Exception as exc:  # this chain's node is down: the others go on
                log.warning("deposit confirmations failed", extra={"chain": chain, "error": repr(exc)})
                result.errors.append(f"confirm {chain}: {exc}")
                continue
            known = [r for r in rows if r["txid"] in counts]
            if not known:
                continue
            async with self.db.unit_of_work() as uow:
                confirmed = await repo.update_deposit_confirmations(
                    uow.conn, [r["id"] for r in known], [counts[r["txid"]] for r in known])
                await uow.commit()
            result.confirmed += len(confirmed)

    async def _credit(self, result: ScanResult) -> None:
        while True:
            async with self.db.unit_of_work() as uow:
                conn = uow.conn
                rows = await repo.lock_confirmed_deposits(conn)
                if not rows:
                    return
                system = await ledger.system_accounts(conn)
                postings = []
                for row in rows:
                    accounts = await ledger.ensure_user_accounts(conn, row["user_id"], [row["asset"]])
                    postings.append(deposit_rules.credit_posting(
                        row["id"], row["asset"], row["amount"], user_account=accounts[row["asset"]],
                        chain_in_account=system[("chain_in", row["asset"])]))
                posting_ids = await ledger.apply_changes(conn, postings)
                credited = await repo.mark_deposits_credited(conn, [r["id"] for r in rows], posting_ids)
                if credited != len(rows):  # we hold the row locks, so this cannot happen; never half-credit
                    raise RuntimeError(f"credited {credited} of {len(rows)} locked deposits")
                for row in rows:
                    await enqueue(conn, "wallet.deposit_credited", {
                        "user_id": row["user_id"], "deposit_id": row["id"], "asset": row["asset"],
                        "amount": fmt(row["amount"]), "txid": row["txid"]})
                    # the owner's private stream (docs/streams.md: transfers, and a balance update)
                    await enqueue(conn, "stream.user.transfer", {
                        "user_id": row["user_id"], "kind": "deposit", "id": row["id"], "asset": row["asset"],
                        "amount": fmt(row["amount"]), "status": "credited", "txid": row["txid"],
                        "time": time.time_ns() // 1_000_000})
                await uow.commit()
            result.credited += len(rows)
            log.info("deposits credited", extra={"count": len(rows)})

    async def _confirm_withdrawals(self, result: ScanResult) -> None:
        rows = await repo.broadcast_withdrawals(self.db)
        by_chain: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            by_chain[row["chain"]].append(row)
        for chain, items in by_chain.items():
            try:
                counts = await self.chain.confirmations(chain, [r["txid"] for r in items])
            except Exception as exc:
                log.warning("withdrawal confirmations failed", extra={"chain": chain, "error": repr(exc)})
                result.errors.append(f"withdrawals {chain}: {exc}")
                continue
            done = [r for r in items if counts.get(r["txid"], 0) >= r["confirmations_required"]]
            for row in done:
                async with self.db.unit_of_work() as uow:
                    updated = await repo.set_withdrawal_status(uow.conn, row["id"], withdrawal_rules.BROADCAST,
                                                               withdrawal_rules.CONFIRMED)
                    if updated is not None:
                        await notify_withdrawal(uow.conn, updated)
                        result.withdrawals_confirmed += 1
                    await uow.commit()


async def run_forever(interval_s: float, *steps: Any) -> None:
    """Call each step (an async callable) every `interval_s` seconds until cancelled."""
    while True:
        for step in steps:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the loop alive; the next round retries
                log.exception("wallet background step failed")
        await asyncio.sleep(interval_s)
