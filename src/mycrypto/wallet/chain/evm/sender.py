"""Our own transactions: nonces, EIP-1559 fees, signing, sending, fee bumps, and their settlement.

Write-ahead: a transaction is signed and stored (evm.tx + its first evm.tx_attempt) in the same
database transaction that takes its nonce from evm.nonce (row-locked, so concurrent senders get
consecutive nonces), and only then sent. A crash after the commit leaves a stored transaction that
the monitor sends again (same bytes, same hash); a crash before it leaves nothing. The nonce taken is
max(our next nonce, the node's count of mined transactions), so a key also used elsewhere self-heals.

`monitor()` (every custody round) looks at every unsettled transaction:
- mined (any attempt has a receipt): recorded; once it has the asset's confirmations it is settled:
  the network fee actually paid (gas used x effective price) is posted (network_fees -> chain_out,
  ETH) and a reverted withdrawal is failed with its posting reversed, all in one database transaction;
- not mined and older than CHAIN_ETH_STUCK_SECONDS: replaced by a new attempt with the same nonce and
  fees raised by at least `fee_bump_percent` (capped at CHAIN_ETH_MAX_FEE_GWEI);
- not mined and the node does not know it (restarted, reorganised away): the latest attempt is sent again;
- its nonce used by a transaction that is not ours: signed again with a fresh nonce.
Only the latest attempt is ever re-sent: an older, replaced one could otherwise come back.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ... import ledger
from ... import repository as repo
from ...domain import withdrawals as withdrawal_rules
from ...domain.ledger import Leg, Posting
from ...withdrawal_service import notify_withdrawal
from ..adapter import ChainUnavailable
from ..status import raise_alert
from . import erc20
from .config import NATIVE_ASSET, NATIVE_DECIMALS
from .context import Context
from .node import Receipt
from .rpc import RpcError
from .units import to_amount, to_units

log = logging.getLogger("mycrypto.wallet.evm.sender")

GAS_MARGIN = Decimal("1.25")       # estimates are padded; unused gas is not paid
TOKEN_GAS_RESERVE = 100_000         # gas assumed for a token transfer before it is estimated


class HotWalletShort(ChainUnavailable):
    """The hot wallet cannot pay this now: the withdrawal stays queued (approved) until it can."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    kind: str                 # withdrawal | sweep | fund | cold
    reference: str
    from_address: str         # lower case
    from_index: int | None    # deposit address index (None = hot wallet)
    to: str                   # EIP-55 recipient of the value (the user's address, hot, cold...)
    asset: str
    units: int
    gas_limit: int


class Sender:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.short: dict[str, str] = {}  # asset -> why the hot wallet could not pay (for the status)

    # ------------------------------------------------------------------ building
    async def fee_caps(self) -> tuple[int, int]:
        """(max fee per gas, priority fee) for a new transaction: 2 x base fee + tip, capped."""
        base, tip = await self.ctx.node.fees()
        cap = self.ctx.cfg.max_fee_wei
        tip = min(tip, cap)
        return min(2 * base + tip, cap), tip

    def call_fields(self, out: Outgoing) -> dict[str, Any]:
        """to / value / data of the transaction carrying `out` (a token transfer calls the contract)."""
        contract = self.ctx.contract(out.asset)
        if contract is None:
            return {"to": out.to, "value": out.units, "data": "0x"}
        return {"to": self.ctx.cfg.token(out.asset).contract, "value": 0,  # type: ignore[union-attr]
                "data": erc20.transfer_data(out.to, out.units)}

    async def estimate(self, sender: str, asset: str, to: str, units: int) -> int:
        """Gas for sending `units` of `asset` from `sender`; RpcError when the transfer would revert."""
        fields = self.call_fields(Outgoing("", "", sender, None, to, asset, units, 0))
        if asset == NATIVE_ASSET and not await self.ctx.node.has_code(to):
            return 21_000
        gas = await self.ctx.node.estimate_gas({"from": sender, **{k: (hex(v) if isinstance(v, int) else v)
                                                                    for k, v in fields.items()}})
        return int(math.ceil(gas * GAS_MARGIN))

    # ------------------------------------------------------------------ funds
    async def reserved(self, address: str) -> tuple[dict[str, int], int]:
        """What unmined transactions from `address` will still take: ({asset: units}, wei for gas)."""
        rows = await self.ctx.db.fetch(
            "SELECT t.asset, t.amount, t.gas_limit, a.max_fee FROM evm.tx t "
            "JOIN LATERAL (SELECT max_fee FROM evm.tx_attempt WHERE tx_id = t.id ORDER BY created_at DESC LIMIT 1) a "
            "ON true WHERE t.chain = $1 AND t.from_address = $2 AND t.status = 'pending'",
            self.ctx.chain, address.lower())
        units: dict[str, int] = {}
        gas = 0
        for r in rows:
            units[r["asset"]] = units.get(r["asset"], 0) + to_units(r["amount"], self.ctx.decimals[r["asset"]])
            gas += int(r["gas_limit"]) * int(r["max_fee"])
        return units, gas

    async def spendable(self, address: str, asset: str) -> tuple[int, int]:
        """(units of `asset`, wei for gas) `address` can still spend after its unmined transactions."""
        node = self.ctx.node
        reserved, gas = await self.reserved(address)
        eth = await node.balance(address) - reserved.get(NATIVE_ASSET, 0) - gas
        if asset == NATIVE_ASSET:
            return eth, eth
        contract = self.ctx.contract(asset)
        [tokens] = await node.token_balances(contract, [address])  # type: ignore[arg-type]
        return tokens - reserved.get(asset, 0), eth

    async def require_funds(self, address: str, asset: str, units: int, gas_wei: int) -> None:
        have, eth = await self.spendable(address, asset)
        decimals = self.ctx.decimals
        if asset == NATIVE_ASSET and have < units + gas_wei:
            why = (f"hot wallet short of ETH: needs {to_amount(units + gas_wei, NATIVE_DECIMALS)} with gas, "
                   f"has {to_amount(max(have, 0), NATIVE_DECIMALS)} free")
        elif asset != NATIVE_ASSET and have < units:
            why = (f"hot wallet short of {asset}: needs {to_amount(units, decimals[asset])}, "
                   f"has {to_amount(max(have, 0), decimals[asset])} free")
        elif asset != NATIVE_ASSET and eth < gas_wei:
            why = f"hot wallet short of ETH for gas: needs {to_amount(gas_wei, NATIVE_DECIMALS)}"
        else:
            self.short.pop(asset, None)
            return
        self.short[asset] = why
        raise HotWalletShort(why)

    # ------------------------------------------------------------------ creating and sending
    async def create(self, out: Outgoing, max_fee: int, tip: int,
                     in_transaction: Callable[[Any, int], Awaitable[None]] | None = None) -> Any:
        """Sign and store `out` (idempotent on its reference); returns the evm.tx row. Does not send."""
        ctx = self.ctx
        existing = await self.by_reference(out.reference)
        if existing is not None:
            return existing
        node_nonce = await ctx.node.nonce(out.from_address)
        call = self.call_fields(out)
        async with ctx.db.unit_of_work() as uow:
            conn = uow.conn
            await conn.execute("INSERT INTO evm.nonce (chain, address, next_nonce) VALUES ($1, $2, $3) "
                               "ON CONFLICT (chain, address) DO NOTHING", ctx.chain, out.from_address, node_nonce)
            next_nonce = await conn.fetchval("SELECT next_nonce FROM evm.nonce WHERE chain = $1 AND address = $2 "
                                             "FOR UPDATE", ctx.chain, out.from_address)
            existing = await conn.fetchrow("SELECT * FROM evm.tx WHERE chain = $1 AND reference = $2",
                                           ctx.chain, out.reference)
            if existing is not None:  # created meanwhile by someone holding the nonce lock before us
                return existing
            nonce = max(int(next_nonce), node_nonce)
            signed = ctx.signer.sign({"nonce": nonce, "gas": out.gas_limit, "maxFeePerGas": max_fee,
                                      "maxPriorityFeePerGas": tip, **call}, out.from_index)
            row = await conn.fetchrow(
                "INSERT INTO evm.tx (chain, kind, reference, from_address, from_index, to_address, asset, amount, "
                "  nonce, gas_limit, first_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *",
                ctx.chain, out.kind, out.reference, out.from_address, out.from_index, out.to, out.asset,
                to_amount(out.units, ctx.decimals[out.asset]), nonce, out.gas_limit, signed.hash)
            await conn.execute("INSERT INTO evm.tx_attempt (hash, tx_id, nonce, raw, max_fee, max_priority_fee) "
                               "VALUES ($1, $2, $3, $4, $5, $6)", signed.hash, row["id"], nonce, signed.raw,
                               max_fee, tip)
            await conn.execute("UPDATE evm.nonce SET next_nonce = $3 WHERE chain = $1 AND address = $2",
                               ctx.chain, out.from_address, nonce + 1)
            if in_transaction is not None:
                await in_transaction(conn, row["id"])
            await uow.commit()
        log.info("transaction signed", extra={"kind": out.kind, "reference": out.reference, "hash": signed.hash,
                                              "nonce": nonce, "asset": out.asset})
        return row

    async def by_reference(self, reference: str) -> Any:
        return await self.ctx.db.fetchrow("SELECT * FROM evm.tx WHERE chain = $1 AND reference = $2",
                                          self.ctx.chain, reference)

    async def send_latest(self, tx_id: int) -> None:
        """Send the latest attempt; a refusal is recorded and retried by the monitor (never raised)."""
        attempt = await self.ctx.db.fetchrow(
            "SELECT hash, raw FROM evm.tx_attempt WHERE tx_id = $1 ORDER BY created_at DESC LIMIT 1", tx_id)
        await self._send(attempt["hash"], attempt["raw"])

    async def _send(self, hash_: str, raw: str) -> bool:
        try:
            await self.ctx.node.send_raw(raw)
            error = None
        except RpcError as exc:
            text = exc.rpc_message.lower()
            error = None if ("already known" in text or "known transaction" in text) else exc.rpc_message
        except ChainUnavailable as exc:
            error = str(exc)
        await self.ctx.db.execute("UPDATE evm.tx_attempt SET sent_at = CASE WHEN $2::text IS NULL THEN now() "
                                  "ELSE sent_at END, send_error = $2 WHERE hash = $1", hash_, error)
        if error:
            log.warning("transaction not accepted by the node yet", extra={"hash": hash_, "error": error})
        return error is None

    # ------------------------------------------------------------------ monitoring
    async def monitor(self) -> dict[str, int]:
        ctx = self.ctx
        open_txs = await ctx.db.fetch("SELECT * FROM evm.tx WHERE chain = $1 AND status <> 'settled' ORDER BY id",
                                      ctx.chain)
        done = {"mined": 0, "settled": 0, "replaced": 0, "resent": 0, "renonced": 0}
        if not open_txs:
            return done
        attempts: dict[int, list[Any]] = {}
        for a in await ctx.db.fetch("SELECT * FROM evm.tx_attempt WHERE tx_id = ANY($1::bigint[]) "
                                    "ORDER BY created_at, hash", [t["id"] for t in open_txs]):
            attempts.setdefault(a["tx_id"], []).append(a)
        head = await ctx.node.head()
        receipts = await ctx.node.receipts(a["hash"] for group in attempts.values() for a in group)
        required = await ctx.confirmations_required()
        node_nonces: dict[str, int] = {}
        pending_latest: list[Any] = []
        for t in open_txs:
            mine = [receipts[a["hash"]] for a in attempts.get(t["id"], []) if receipts.get(a["hash"])]
            if mine:
                receipt = mine[0]
                if t["mined_hash"] != receipt.tx_hash or t["mined_block_hash"] != receipt.block_hash:
                    await self._mark_mined(t, receipt)
                    done["mined"] += 1
                if head - receipt.block_number + 1 >= required.get(t["asset"], 1):
                    done["settled"] += await self.settle(t["id"], receipt)
                continue
            if t["status"] == "mined":  # its block left the chain: wait for it again
                await ctx.db.execute("UPDATE evm.tx SET status = 'pending', success = NULL, mined_hash = NULL, "
                                     "mined_block = NULL, mined_block_hash = NULL, updated_at = now() WHERE id = $1",
                                     t["id"])
            latest = attempts[t["id"]][-1]
            if t["from_address"] not in node_nonces:
                node_nonces[t["from_address"]] = await ctx.node.nonce(t["from_address"])
            age = (datetime.now(UTC) - latest["created_at"]).total_seconds()
            if node_nonces[t["from_address"]] > t["nonce"] and age >= ctx.cfg.stuck_seconds:
                await self._renonce(t, latest)
                done["renonced"] += 1
            elif age >= ctx.cfg.stuck_seconds:
                done["replaced"] += await self._replace(t, latest)
            else:
                pending_latest.append(latest)
        if pending_latest:
            known = await ctx.node.known(a["hash"] for a in pending_latest)
            for a in pending_latest:
                if not known.get(a["hash"]):
                    await self._send(a["hash"], a["raw"])
                    done["resent"] += 1
        return done

    async def _mark_mined(self, t: Any, receipt: Receipt) -> None:
        ctx = self.ctx
        async with ctx.db.unit_of_work() as uow:
            await uow.conn.execute(
                "UPDATE evm.tx SET status = 'mined', success = $2, mined_hash = $3, mined_block = $4, "
                "  mined_block_hash = $5, gas_used = $6, gas_price = $7, updated_at = now() "
                "WHERE id = $1 AND status <> 'settled'",
                t["id"], receipt.success, receipt.tx_hash, receipt.block_number, receipt.block_hash,
                receipt.gas_used, receipt.gas_price)
            withdrawal_id = withdrawal_of(t)
            if withdrawal_id is not None and receipt.success:  # show the hash that was actually mined
                await uow.conn.execute("UPDATE wallet.withdrawal SET txid = $2, updated_at = now() "
                                       "WHERE id = $1 AND txid IS DISTINCT FROM $2", withdrawal_id, receipt.tx_hash)
            await uow.commit()
        log.info("transaction mined", extra={"tx_id": t["id"], "hash": receipt.tx_hash, "ok": receipt.success,
                                             "block": receipt.block_number})

    async def _replace(self, t: Any, latest: Any) -> int:
        ctx = self.ctx
        base, tip_now = await ctx.node.fees()
        cap = ctx.cfg.max_fee_wei
        bump = 1 + ctx.cfg.fee_bump_percent / 100
        old_fee, old_tip = int(latest["max_fee"]), int(latest["max_priority_fee"])
        tip = min(max(math.ceil(old_tip * bump), tip_now), cap)
        max_fee = min(max(math.ceil(old_fee * bump), 2 * base + tip), cap)
        if max_fee <= old_fee or tip <= old_tip:
            await self._send(latest["hash"], latest["raw"])  # at the cap: nothing better to offer
            return 0
        out = Outgoing(t["kind"], t["reference"], t["from_address"], t["from_index"], t["to_address"], t["asset"],
                       to_units(t["amount"], ctx.decimals[t["asset"]]), t["gas_limit"])
        signed = ctx.signer.sign({"nonce": t["nonce"], "gas": t["gas_limit"], "maxFeePerGas": max_fee,
                                  "maxPriorityFeePerGas": tip, **self.call_fields(out)}, t["from_index"])
        await ctx.db.execute("INSERT INTO evm.tx_attempt (hash, tx_id, nonce, raw, max_fee, max_priority_fee) "
                             "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hash) DO NOTHING",
                             signed.hash, t["id"], t["nonce"], signed.raw, max_fee, tip)
        log.warning("stuck transaction replaced with a higher fee",
                    extra={"tx_id": t["id"], "old": latest["hash"], "new": signed.hash, "max_fee": max_fee})
        await self._send(signed.hash, signed.raw)
        return 1

    async def _renonce(self, t: Any, latest: Any) -> None:
        """Our nonce was consumed by a transaction that is not ours: sign again with a fresh nonce."""
        ctx = self.ctx
        node_nonce = await ctx.node.nonce(t["from_address"])
        max_fee, tip = await self.fee_caps()
        out = Outgoing(t["kind"], t["reference"], t["from_address"], t["from_index"], t["to_address"], t["asset"],
                       to_units(t["amount"], ctx.decimals[t["asset"]]), t["gas_limit"])
        async with ctx.db.unit_of_work() as uow:
            conn = uow.conn
            next_nonce = await conn.fetchval("SELECT next_nonce FROM evm.nonce WHERE chain = $1 AND address = $2 "
                                             "FOR UPDATE", ctx.chain, t["from_address"])
            nonce = max(int(next_nonce), node_nonce)
            signed = ctx.signer.sign({"nonce": nonce, "gas": t["gas_limit"], "maxFeePerGas": max_fee,
                                      "maxPriorityFeePerGas": tip, **self.call_fields(out)}, t["from_index"])
            await conn.execute("UPDATE evm.tx SET nonce = $2, updated_at = now() WHERE id = $1", t["id"], nonce)
            await conn.execute("INSERT INTO evm.tx_attempt (hash, tx_id, nonce, raw, max_fee, max_priority_fee) "
                               "VALUES ($1, $2, $3, $4, $5, $6)", signed.hash, t["id"], nonce, signed.raw, max_fee, tip)
            await conn.execute("UPDATE evm.nonce SET next_nonce = $3 WHERE chain = $1 AND address = $2",
                               ctx.chain, t["from_address"], nonce + 1)
            await uow.commit()
        log.error("transaction nonce used by another transaction: signed again",
                  extra={"tx_id": t["id"], "old_nonce": t["nonce"], "nonce": nonce, "old": latest["hash"]})
        await self._send(signed.hash, signed.raw)

    # ------------------------------------------------------------------ settlement
    async def settle(self, tx_id: int, receipt: Receipt) -> int:
        """Post the network fee and finish the transaction (a reverted withdrawal is reversed): once."""
        ctx = self.ctx
        async with ctx.db.unit_of_work() as uow:
            conn = uow.conn
            t = await conn.fetchrow("SELECT * FROM evm.tx WHERE id = $1 FOR UPDATE", tx_id)
            if t is None or t["status"] == "settled":
                return 0
            gas_cost = to_amount(receipt.gas_used * receipt.gas_price, NATIVE_DECIMALS)
            posting_id = None
            if gas_cost > 0:
                system = await ledger.system_accounts(conn)
                [posting_id] = await ledger.apply_changes(conn, [Posting(
                    "adjustment", "network_fee", f"{ctx.chain}:{receipt.tx_hash}", (
                        Leg(system[("network_fees", NATIVE_ASSET)], NATIVE_ASSET, -gas_cost),
                        Leg(system[("chain_out", NATIVE_ASSET)], NATIVE_ASSET, gas_cost)),
                    memo=f"{t['kind']} {t['reference']}")])
            if not receipt.success:
                withdrawal_id = withdrawal_of(t)
                if withdrawal_id is not None:
                    await self._reverse_withdrawal(conn, withdrawal_id, receipt)
                else:
                    await raise_alert(conn, ctx.chain, "transaction_reverted",
                                      f"{t['kind']} {t['reference']} reverted on chain ({receipt.tx_hash})",
                                      {"tx_id": t["id"], "hash": receipt.tx_hash, "kind": t["kind"]})
            await conn.execute(
                "UPDATE evm.tx SET status = 'settled', success = $2, mined_hash = $3, mined_block = $4, "
                "  mined_block_hash = $5, gas_used = $6, gas_price = $7, gas_cost = $8, gas_posting_id = $9, "
                "  settled_at = now(), updated_at = now() WHERE id = $1",
                tx_id, receipt.success, receipt.tx_hash, receipt.block_number, receipt.block_hash, receipt.gas_used,
                receipt.gas_price, gas_cost, posting_id)
            await uow.commit()
        return 1

    async def _reverse_withdrawal(self, conn: Any, withdrawal_id: int, receipt: Receipt) -> None:
        row = await repo.get_withdrawal(conn, withdrawal_id, for_update=True)
        if row is None or row["status"] != withdrawal_rules.BROADCAST:
            await raise_alert(conn, self.ctx.chain, "withdrawal_reverted",
                              f"withdrawal {withdrawal_id} reverted on chain but is "
                              f"{row['status'] if row else 'missing'}: check it by hand",
                              {"withdrawal_id": withdrawal_id, "hash": receipt.tx_hash})
            return
        accounts = await ledger.ensure_user_accounts(conn, row["user_id"], [row["asset"]])
        system = await ledger.system_accounts(conn)
        [reversal] = await ledger.apply_changes(conn, [withdrawal_rules.reversal_posting(
            withdrawal_id, row["asset"], row["amount"], row["fee"], user_account=accounts[row["asset"]],
            chain_out_account=system[("chain_out", row["asset"])], fees_account=system[("fees", row["asset"])])])
        updated = await repo.set_withdrawal_status(conn, withdrawal_id, withdrawal_rules.BROADCAST,
                                                   withdrawal_rules.FAILED,
                                                   reason=f"reverted on chain ({receipt.tx_hash}); funds returned")
        await conn.execute("UPDATE wallet.withdrawal SET reversal_posting_id = $2 WHERE id = $1", withdrawal_id,
                           reversal)
        await notify_withdrawal(conn, updated)
        log.warning("withdrawal reverted on chain: posting reversed",
                    extra={"withdrawal_id": withdrawal_id, "hash": receipt.tx_hash})


def withdrawal_of(t: Any) -> int | None:
    """The wallet.withdrawal id of a withdrawal transaction (reference `withdrawal-<id>`)."""
    if t["kind"] != "withdrawal":
        return None
    prefix, _, number = t["reference"].partition("-")
    return int(number) if prefix == "withdrawal" and number.isdigit() else None
