"""What a chain reorganisation does to the books (called by the scanner when the cursor block changed).

In one transaction, with the chain's advisory lock (two replicas never handle the same reorg twice):
- transfers found in blocks above the fork point are forgotten (evm.transfer) with those blocks
  (evm.block); the cursor moves back to the fork, so the new branch is scanned next and whatever is
  still in it is found again (a transfer re-included under the same txid and vout is the same deposit);
- their deposits that were not credited yet (pending, or confirmed but waiting) are dropped (the row
  is deleted, kept in evm.dropped_deposit for audit): they never touched the ledger;
- a deposit that WAS credited (the reorganisation was deeper than its confirmations) is frozen: what
  is still available of it moves to locked (wallet.deposit_freeze) until an operator releases or
  reverses it (`mycrypto chain frozen`), and an alert is raised;
- our own transactions mined above the fork go back to pending (the custody monitor re-reads their
  receipts on the new branch and sends them again if the node lost them);
- a reorganisation at least as deep as an asset's confirmations raises an alert (log + health +
  ops outbox) even when nothing was credited.
"""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from ... import ledger
from ... import repository as repo
from ...domain.ledger import Hold
from ..status import raise_alert
from .context import Context

log = logging.getLogger("mycrypto.wallet.evm.reorg")


async def handle(ctx: Context, *, fork: int, tip: int) -> dict[str, Any]:
    depth = tip - fork
    required = await ctx.confirmations_required()
    async with ctx.db.unit_of_work() as uow:
        conn = uow.conn
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('mycrypto.evm.reorg'), hashtext($1))", ctx.chain)
        cursor = await conn.fetchval("SELECT cursor FROM wallet.chain_cursor WHERE adapter = $1 AND chain = $2 "
                                     "FOR UPDATE", ctx.name, ctx.chain)
        if cursor is not None and int(cursor) <= fork:
            return {"fork": fork, "depth": 0}  # another replica handled it already
        orphaned = await conn.fetch(
            "SELECT txid, log_index, asset, amount, block_number FROM evm.transfer "
            "WHERE chain = $1 AND block_number > $2 FOR UPDATE", ctx.chain, fork)
        deposits = await conn.fetch(
            "SELECT d.*, d.status::text AS status_text FROM wallet.deposit d "
            "JOIN unnest($2::text[], $3::int[]) AS o(txid, vout) ON o.txid = d.txid AND o.vout = d.vout "
            "WHERE d.chain = $1 ORDER BY d.id FOR UPDATE OF d",
            ctx.chain, [o["txid"] for o in orphaned], [o["log_index"] for o in orphaned])
        dropped, frozen = [], []
        for d in deposits:
            if d["status_text"] == "credited":
                frozen.append(await _freeze(conn, d, fork))
            else:
                await conn.execute(
                    "INSERT INTO evm.dropped_deposit (deposit_id, chain, row, reason) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT (deposit_id) DO NOTHING",
                    d["id"], ctx.chain, _jsonable(d), f"block orphaned by a reorganisation at {fork + 1}")
                await conn.execute("DELETE FROM wallet.deposit WHERE id = $1", d["id"])
                dropped.append(d["id"])
        reopened = await conn.fetch(
            "UPDATE evm.tx SET status = 'pending', success = NULL, mined_hash = NULL, mined_block = NULL, "
            "  mined_block_hash = NULL, gas_used = NULL, gas_price = NULL, updated_at = now() "
            "WHERE chain = $1 AND status = 'mined' AND mined_block > $2 RETURNING id", ctx.chain, fork)
        settled_hit = await conn.fetch(
            "SELECT id, kind, reference, mined_hash FROM evm.tx WHERE chain = $1 AND status = 'settled' "
            "AND mined_block > $2", ctx.chain, fork)
        await conn.execute("DELETE FROM evm.transfer WHERE chain = $1 AND block_number > $2", ctx.chain, fork)
        await conn.execute("DELETE FROM evm.block WHERE chain = $1 AND number > $2", ctx.chain, fork)
        await repo.set_chain_cursor(conn, ctx.name, ctx.chain, str(fork))
        deep = depth >= min(required.values(), default=1)
        details = {"fork_block": fork, "old_tip": tip, "depth": depth, "dropped_deposits": dropped,
                   "frozen_deposits": [f["deposit_id"] for f in frozen],
                   "reopened_transactions": [r["id"] for r in reopened],
                   "final_transactions_orphaned": [r["id"] for r in settled_hit]}
        if deep or frozen or settled_hit:
            what = (f"{len(frozen)} credited deposit(s) frozen" if frozen else "no credited deposit affected")
            await raise_alert(conn, ctx.chain, "deep_reorg",
                              f"{ctx.chain}: reorganisation {depth} block(s) deep below block {tip} "
                              f"(fork at {fork}); {what}", details)
        await uow.commit()
    log.warning("chain reorganisation handled", extra={"chain": ctx.chain, **details})
    return details


async def _freeze(conn: Any, deposit: Any, fork: int) -> dict[str, Any]:
    """Hold what is still available of a credited deposit whose block was orphaned."""
    accounts = await ledger.ensure_user_accounts(conn, deposit["user_id"], [deposit["asset"]])
    account = accounts[deposit["asset"]]
    available = await conn.fetchval("SELECT available FROM wallet.account WHERE id = $1 FOR UPDATE", account)
    held = min(Decimal(deposit["amount"]), Decimal(available))
    inserted = await conn.fetchval(
        "INSERT INTO wallet.deposit_freeze (deposit_id, user_id, asset, amount, held, reason) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (deposit_id) DO NOTHING RETURNING deposit_id",
        deposit["id"], deposit["user_id"], deposit["asset"], deposit["amount"], held,
        f"credited deposit's block orphaned by a reorganisation at block {fork + 1}")
    if inserted is not None and held > 0:
        await ledger.apply_changes(conn, holds=[Hold(account, held)])
    return {"deposit_id": deposit["id"], "held": str(held), "amount": str(deposit["amount"])}


def _jsonable(row: Any) -> dict[str, Any]:
    return {k: (str(v) if not isinstance(v, int | str | bool | type(None)) else v) for k, v in dict(row).items()}
