"""Custody rounds: book what arrived beyond user credits, sweep deposit addresses, move excess to cold.

`Custody.run()` is the adapter's `maintain()` (once per background round, after the watcher):
1. `sender.monitor()`: our transactions (fee bumps, re-sends, settlement with network fees);
2. `settle_incoming()`: every transfer found to our addresses, once the watcher recorded it and it
   has its confirmations, is settled: the part the user was not credited (the remainder below the
   asset's smallest unit, or a whole transfer to an address no user holds, or one too small to
   credit) is posted chain_in -> fees, so the ledger matches the chain to the last wei;
3. `sweep()`: settled deposits are swept from their deposit address to the hot wallet (one transfer
   of the whole balance minus gas). An ERC-20 sweep first needs ETH for gas at the deposit address:
   the hot wallet funds exactly what the sweep may cost, the sweep follows once that is mined;
4. `to_cold()`: once the hot wallet holds more than 110 % of CHAIN_ETH_HOT_MAX (per asset, after its
   unmined transactions), everything above CHAIN_ETH_HOT_MAX is sent to CHAIN_ETH_COLD_ADDRESS.
Sweeps, funding and cold moves are internal: they change no balance in the ledger except the network
fee each one costs (posted when it settles). One replica at a time runs a round (advisory lock).
"""
from __future__ import annotations

import logging
import uuid
from typing import Any

from ... import ledger
from ...domain.deposits import credited_amount
from ...domain.ledger import Leg, Posting
from .addresses import checksum
from .config import ETH_TRANSFER_GAS, NATIVE_ASSET
from .context import Context
from .rpc import RpcError
from .sender import TOKEN_GAS_RESERVE, Outgoing, Sender
from .units import to_amount, to_units

log = logging.getLogger("mycrypto.wallet.evm.custody")

COLD_HYSTERESIS = 1.1  # the hot wallet must hold 10 % more than CHAIN_ETH_HOT_MAX before excess moves to cold


class Custody:
    def __init__(self, ctx: Context, sender: Sender) -> None:
        self.ctx = ctx
        self.sender = sender

    async def settle_incoming(self) -> int:
        """Post the uncredited part of confirmed incoming transfers to `fees`; returns how many settled."""
        ctx = self.ctx
        head = await ctx.node.head()
        cursor = await ctx.db.fetchval("SELECT cursor FROM wallet.chain_cursor WHERE adapter = $1 AND chain = $2",
                                       ctx.name, ctx.chain)
        if cursor is None:
            return 0
        rows = await ctx.db.fetch(
            "SELECT t.txid, t.log_index, t.asset, t.amount, t.to_address, a.decimals, a.confirmations_required, "
            "  d.status::text AS deposit_status, d.amount AS credited, "
            "  EXISTS (SELECT 1 FROM wallet.deposit_address da WHERE da.chain = t.chain AND da.address = e.address) "
            "    AS user_address "
            "FROM evm.transfer t JOIN wallet.asset a ON a.code = t.asset "
            "JOIN evm.address e ON e.chain = t.chain AND lower(e.address) = t.to_address "
            "LEFT JOIN wallet.deposit d ON d.chain = t.chain AND d.txid = t.txid AND d.vout = t.log_index "
            "WHERE t.chain = $1 AND t.settled_at IS NULL AND t.block_number <= $2 "
            "  AND $3 - t.block_number + 1 >= a.confirmations_required ORDER BY t.block_number, t.txid, t.log_index",
            ctx.chain, int(cursor), head)
        settled = 0
        for r in rows:
            creditable = credited_amount(r["amount"], r["decimals"]) > 0
            if r["deposit_status"] is not None and r["deposit_status"] != "credited":
                continue  # a user's deposit still on its way (or waiting for deposits to be enabled)
            if r["deposit_status"] is None and r["user_address"] and creditable:
                continue  # the watcher has not recorded it yet
            remainder = r["amount"] - (r["credited"] or 0)
            async with ctx.db.unit_of_work() as uow:
                conn = uow.conn
                still_open = await conn.fetchval(
                    "SELECT settled_at IS NULL FROM evm.transfer WHERE chain = $1 AND txid = $2 AND log_index = $3 "
                    "FOR UPDATE", ctx.chain, r["txid"], r["log_index"])
                if not still_open:
                    continue
                posting_id = None
                if remainder > 0:
                    system = await ledger.system_accounts(conn)
                    [posting_id] = await ledger.apply_changes(conn, [Posting(
                        "adjustment", "chain_unattributed", f"{ctx.chain}:{r['txid']}:{r['log_index']}", (
                            Leg(system[("fees", r["asset"])], r["asset"], remainder),
                            Leg(system[("chain_in", r["asset"])], r["asset"], -remainder)),
                        memo="received on chain beyond what was credited to a user")])
                await conn.execute(
                    "UPDATE evm.transfer SET settled_at = now(), booked_amount = $4, posting_id = $5 "
                    "WHERE chain = $1 AND txid = $2 AND log_index = $3",
                    ctx.chain, r["txid"], r["log_index"], max(remainder, 0), posting_id)
                await uow.commit()
            settled += 1
        return settled

    async def sweep(self) -> dict[str, int]:
        ctx, sender = self.ctx, self.sender
        done = {"sweeps": 0, "fundings": 0}
        if ctx.signer is None or not ctx.signer.can_sweep:
            return done
        rows = await ctx.db.fetch(
            "SELECT t.to_address, t.asset, e.hd_index, bool_and(t.settled_at IS NOT NULL) AS all_settled "
            "FROM evm.transfer t JOIN evm.address e ON e.chain = t.chain AND lower(e.address) = t.to_address "
            "WHERE t.chain = $1 AND t.swept_by IS NULL GROUP BY t.to_address, t.asset, e.hd_index "
            "ORDER BY t.to_address, (t.asset = $2), t.asset", ctx.chain, NATIVE_ASSET)
        busy = {r["a"] for r in await ctx.db.fetch(
            "SELECT from_address AS a FROM evm.tx WHERE chain = $1 AND status <> 'settled' "
            "UNION SELECT lower(to_address) FROM evm.tx WHERE chain = $1 AND kind = 'fund' AND status <> 'settled'",
            ctx.chain)}
        token_waiting: set[str] = set()
        for r in rows:
            address, asset = r["to_address"], r["asset"]
            if not r["all_settled"] or address in busy:
                continue
            if asset == NATIVE_ASSET and address in token_waiting:
                continue  # its ETH pays the token sweep's gas first
            threshold = ctx.cfg.sweep_min.get(asset)
            minimum = to_units(threshold, ctx.decimals[asset]) if threshold is not None else 1
            max_fee, tip = await sender.fee_caps()
            if asset == NATIVE_ASSET:
                balance = await ctx.node.balance(address)
                value = balance - ETH_TRANSFER_GAS * max_fee
                if value < max(minimum, 1):
                    continue
                out = Outgoing("sweep", f"sweep:{asset}:{address}:{uuid.uuid4().hex[:12]}", address, r["hd_index"],
                               ctx.signer.hot_address, asset, value, ETH_TRANSFER_GAS)
            else:
                contract = ctx.contract(asset)
                [balance] = await ctx.node.token_balances(contract, [address])  # type: ignore[arg-type]
                if balance < max(minimum, 1):
                    continue
                token_waiting.add(address)
                try:
                    gas = await sender.estimate(address, asset, ctx.signer.hot_address, balance)
                except RpcError as exc:
                    log.warning("token sweep would revert", extra={"address": address, "error": str(exc)})
                    continue
                need = gas * max_fee
                eth = await ctx.node.balance(address)
                if eth < need:
                    await self._fund(address, need - eth, max_fee, tip)
                    done["fundings"] += 1
                    busy.add(address)
                    continue
                out = Outgoing("sweep", f"sweep:{asset}:{address}:{uuid.uuid4().hex[:12]}", address, r["hd_index"],
                               ctx.signer.hot_address, asset, balance, gas)

            async def mark(conn: Any, tx_id: int, address: str = address, asset: str = asset) -> None:
                await conn.execute("UPDATE evm.transfer SET swept_by = $4 WHERE chain = $1 AND to_address = $2 "
                                   "AND asset = $3 AND swept_by IS NULL AND settled_at IS NOT NULL",
                                   ctx.chain, address, asset, tx_id)

            row = await sender.create(out, max_fee, tip, mark)
            await sender.send_latest(row["id"])
            busy.add(address)
            done["sweeps"] += 1
            log.info("deposit address swept", extra={"address": address, "asset": asset,
                                                     "amount": str(to_amount(out.units, ctx.decimals[asset]))})
        return done

    async def _fund(self, address: str, wei: int, max_fee: int, tip: int) -> None:
        """Send a deposit address the ETH its token sweep may spend on gas (from the hot wallet)."""
        ctx = self.ctx
        hot = ctx.signer.hot_address
        try:
            await self.sender.require_funds(hot.lower(), NATIVE_ASSET, wei, ETH_TRANSFER_GAS * max_fee)
        except Exception as exc:
            log.warning("cannot fund a token sweep's gas yet", extra={"address": address, "error": str(exc)})
            return
        out = Outgoing("fund", f"fund:{address}:{uuid.uuid4().hex[:12]}", hot.lower(), None,
                       checksum(address), NATIVE_ASSET, wei, ETH_TRANSFER_GAS)
        row = await self.sender.create(out, max_fee, tip)
        await self.sender.send_latest(row["id"])

    async def to_cold(self) -> int:
        ctx, sender = self.ctx, self.sender
        cold = ctx.cfg.cold_address
        if not cold or ctx.signer is None or not ctx.cfg.hot_max:
            return 0
        hot = ctx.signer.hot_address.lower()
        open_assets = {r["asset"] for r in await ctx.db.fetch(
            "SELECT asset FROM evm.tx WHERE chain = $1 AND kind = 'cold' AND status = 'pending'", ctx.chain)}
        moved = 0
        for asset, limit in ctx.cfg.hot_max.items():
            if asset in open_assets:
                continue
            max_fee, tip = await sender.fee_caps()
            have, eth = await sender.spendable(hot, asset)
            limit_units = to_units(limit, ctx.decimals[asset])
            if asset == NATIVE_ASSET:
                excess = have - limit_units - ETH_TRANSFER_GAS * max_fee
                gas = ETH_TRANSFER_GAS
            else:
                excess = have - limit_units
                gas = TOKEN_GAS_RESERVE
                if excess > 0:
                    try:
                        gas = await sender.estimate(hot, asset, cold, excess)
                    except RpcError:
                        continue
                    if eth < gas * max_fee:
                        continue
            if excess <= 0 or have <= limit_units * COLD_HYSTERESIS:
                continue  # not worth a transaction: only a clear excess moves (gas refunds are small)
            out = Outgoing("cold", f"cold:{asset}:{uuid.uuid4().hex[:12]}", hot, None, cold, asset, excess, gas)
            row = await sender.create(out, max_fee, tip)
            await sender.send_latest(row["id"])
            moved += 1
            log.info("hot wallet excess moved to cold storage",
                     extra={"asset": asset, "amount": str(to_amount(excess, ctx.decimals[asset])), "to": cold})
        return moved
