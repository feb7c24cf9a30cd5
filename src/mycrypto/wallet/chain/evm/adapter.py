"""`EvmChain`: the ChainAdapter for an Ethereum-compatible node (ETH and ERC-20 tokens such as USDT).

- new_address: the next BIP-44 index (evm.hd_index_seq) -> its address from the xpub (no node
  needed, no secret involved); the wallet gives each user one address for all assets of the chain.
- incoming_transfers / confirmations: `scanner.Scanner` (blocks + Transfer logs, reorg-aware).
- broadcast(reference="withdrawal-<id>"): idempotent on the reference (evm.tx); checks the hot
  wallet can pay (else `HotWalletShort`: transient, the withdrawal stays approved = queued), signs
  an EIP-1559 transfer (ETH value, or ERC-20 `transfer`) and stores it before sending it.
- check_withdrawal: EIP-55 checksum, not our own addresses (deposit, hot, cold), not a token
  contract or the zero address, no more decimals than the token has.
- maintain: `custody.Custody` (monitor our transactions, book remainders, sweep, hot -> cold) and
  the chain's status for /health.
Every node failure is a `ChainUnavailable` (transient) and marks the chain degraded; nothing is
credited, debited or sent twice because every step is idempotent and ordered by the database.
"""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from ...domain.errors import RuleViolation
from ..adapter import BroadcastRejected, ChainAdapter, ChainUnavailable, TransferPage
from ..status import report_status
from .addresses import ZERO_ADDRESS, checksum, is_checksummed
from .config import CHAIN, ETH_TRANSFER_GAS, NATIVE_ASSET
from .context import Context
from .custody import Custody
from .reconcile import Reconciliation, book_surplus, reconcile
from .rpc import RpcError
from .scanner import Scanner
from .sender import TOKEN_GAS_RESERVE, HotWalletShort, Outgoing, Sender
from .units import to_units

log = logging.getLogger("mycrypto.wallet.evm")


class EvmChain(ChainAdapter):
    name = "evm"
    chains = (CHAIN,)

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.scanner = Scanner(ctx)
        self.sender = Sender(ctx)
        self.custody = Custody(ctx, self.sender)
        self.problem: str | None = None  # the last node failure seen (cleared by a clean round)

    # ------------------------------------------------------------------ ChainAdapter
    def cursor_name(self, chain: str) -> str:
        return self.ctx.name

    def real_chain(self, chain: str) -> bool:
        return True

    async def new_address(self, chain: str, asset: str) -> str:
        ctx = self.ctx
        try:  # set the scan cursor before the first address is handed out (deposits to it must be seen)
            await ctx.start()
        except ChainUnavailable as exc:
            log.warning("node unreachable while creating an address (derived offline)", extra={"error": str(exc)})
        while True:
            index = await ctx.db.fetchval("SELECT nextval('evm.hd_index_seq')")
            try:
                address = ctx.deposits.address(index)
            except ValueError:  # an invalid BIP-32 child (probability ~2^-127): BIP-32 says skip it
                continue
            await ctx.db.execute("INSERT INTO evm.address (chain, address, hd_index) VALUES ($1, $2, $3)",
                                 ctx.chain, address, index)
            return address

    async def incoming_transfers(self, chain: str, cursor: str | None, limit: int = 500) -> TransferPage:
        return await self._node(self.scanner.incoming(cursor))

    async def confirmations(self, chain: str, txids: list[str]) -> dict[str, int]:
        return await self._node(self.scanner.confirmations(txids))

    async def broadcast(self, chain: str, asset: str, address: str, amount: Decimal, reference: str) -> str:
        return await self._node(self._broadcast(asset, address, amount, reference))

    async def check_withdrawal(self, chain: str, asset: str, address: str, amount: Decimal) -> None:
        ctx = self.ctx
        if not is_checksummed(address):
            raise RuleViolation("invalid_address", "Ethereum addresses must be written with their EIP-55 checksum "
                                "(mixed case, as your wallet shows them): this one is not.",
                                details={"asset": asset})
        lower = address.lower()
        if lower == ZERO_ADDRESS:
            raise RuleViolation("address_not_allowed", "Coins sent to the zero address are lost.",
                                details={"asset": asset})
        if any(t.contract.lower() == lower for t in ctx.cfg.tokens):
            raise RuleViolation("address_not_allowed", "This is a token contract, not a wallet: coins sent there "
                                "are lost.", details={"asset": asset})
        ours = lower in {ctx.hot_address, (ctx.cfg.cold_address or "").lower()} or await ctx.db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM evm.address WHERE chain = $1 AND lower(address) = $2)", ctx.chain, lower)
        if ours:
            raise RuleViolation("address_not_allowed", "This is a MyCrypto address: send it to the user by other "
                                "means, not through the chain.", details={"asset": asset})
        decimals = ctx.known_decimals(asset)
        if decimals is not None:
            try:
                to_units(amount, decimals)
            except ValueError:
                raise RuleViolation("amount_precision", f"{asset} on Ethereum has {decimals} decimals: use at most "
                                    f"{decimals}.", details={"asset": asset, "max_decimals": decimals}) from None

    async def maintain(self) -> dict[str, object]:
        ctx = self.ctx
        done: dict[str, object] = {}
        # what failed since the last report (the watcher and the processor ran before us this round)
        problems: list[str] = [self.problem] if self.problem else []
        self.problem = None
        async with ctx.db.acquire() as lock_conn:  # one replica runs custody at a time
            if not await lock_conn.fetchval("SELECT pg_try_advisory_lock(hashtext('mycrypto.evm.custody'), "
                                            "hashtext($1))", ctx.chain):
                return {}
            try:
                await ctx.start()
                done["transactions"] = await self.sender.monitor()
                done["incoming_settled"] = await self.custody.settle_incoming()
                done.update(await self.custody.sweep())
                done["to_cold"] = await self.custody.to_cold()
            except ChainUnavailable as exc:
                problems.append(str(exc))
                done["error"] = str(exc)
                log.warning("custody round stopped: node unavailable", extra={"error": str(exc)})
            except Exception as exc:  # keep the loop alive; the status tells the operator
                problems.append(f"custody error: {exc!r}"[:500])
                done["error"] = problems[-1]
                log.exception("custody round failed")
            finally:
                await lock_conn.execute("SELECT pg_advisory_unlock(hashtext('mycrypto.evm.custody'), hashtext($1))",
                                        ctx.chain)
        problems = list(dict.fromkeys(problems + list(self.sender.short.values())))
        queued = await ctx.db.fetchval(
            "SELECT count(*) FROM wallet.withdrawal w JOIN wallet.asset a ON a.code = w.asset "
            "WHERE a.chain = $1 AND w.status = 'approved'", ctx.chain)
        if self.sender.short and queued:
            problems.append(f"{queued} withdrawal(s) queued")
        try:
            await report_status(ctx.db, ctx.chain, self.name, problems, head=self.scanner.head,
                                scanned=self.scanner.scanned)
        except Exception:
            log.exception("could not record the chain status")
        return {k: v for k, v in done.items() if v}

    async def close(self) -> None:
        await self.ctx.node.rpc.close()

    # ------------------------------------------------------------------ operator tools
    async def reconcile(self) -> Reconciliation:
        return await self._node(reconcile(self.ctx))

    async def book_surplus(self, asset: str, amount: Decimal, account: str, memo: str) -> int:
        return await self._node(book_surplus(self.ctx, asset, amount, account, memo))

    # ------------------------------------------------------------------ internals
    async def _node(self, work: Any) -> Any:
        """Run work that talks to the node; a failure marks the chain degraded before it propagates."""
        try:
            return await work
        except ChainUnavailable as exc:
            self.problem = str(exc)
            try:
                await report_status(self.ctx.db, self.ctx.chain, self.name, [str(exc)])
            except Exception:
                log.exception("could not record the chain status")
            raise

    async def _broadcast(self, asset: str, address: str, amount: Decimal, reference: str) -> str:
        ctx, sender = self.ctx, self.sender
        await ctx.start()
        existing = await sender.by_reference(reference)
        if existing is not None:  # idempotent: a retry after a crash gets the same transaction
            return existing["first_hash"]
        if ctx.signer is None:
            raise ChainUnavailable("no hot-wallet key configured (CHAIN_ETH_HOT_KEY): withdrawals wait")
        if asset not in ctx.cfg.assets:
            raise BroadcastRejected(f"{asset} is not served by the EVM adapter")
        try:
            to = checksum(address)
            units = to_units(amount, ctx.decimals[asset])
        except ValueError as exc:
            raise BroadcastRejected(str(exc)) from None
        hot = ctx.signer.hot_address.lower()
        max_fee, tip = await sender.fee_caps()
        provisional = ETH_TRANSFER_GAS if asset == NATIVE_ASSET else TOKEN_GAS_RESERVE
        await sender.require_funds(hot, asset, units, provisional * max_fee)
        try:
            gas = await sender.estimate(hot, asset, to, units)
        except RpcError as exc:  # the transfer would revert (a contract refusing ETH, a token refusing it)
            raise BroadcastRejected(f"the transfer would fail on chain: {exc.rpc_message}") from None
        await sender.require_funds(hot, asset, units, gas * max_fee)
        row = await sender.create(Outgoing("withdrawal", reference, hot, None, to, asset, units, gas), max_fee, tip)
        await sender.send_latest(row["id"])
        return row["first_hash"]

    @property
    def hot_short(self) -> dict[str, str]:
        return dict(self.sender.short)


__all__ = ["EvmChain", "HotWalletShort"]
