"""Deposit detection on an EVM chain: blocks and ERC-20 Transfer logs scanned from a persisted cursor.

`incoming(cursor)` (the adapter's `incoming_transfers`) reads the blocks after the cursor (the last
scanned block number, stored by the watcher in wallet.chain_cursor together with the deposits it
recorded), up to CHAIN_ETH_SCAN_BLOCKS at a time:
- native ETH: top-level transactions whose `to` is one of our deposit addresses (vout -1);
- tokens: `Transfer(from, to, value)` logs of the configured contracts to our addresses (vout = the
  log index), read with one eth_getLogs over the range;
- transfers sent by our own addresses (the hot wallet funding a sweep's gas) are not deposits.
Each scanned block's hash and parent hash are stored (evm.block), and each transfer with its block
(evm.transfer), before the page is returned.

Reorganisations: before reading on, the stored hash of the cursor block is compared with the node's.
If it changed, the fork point is found by walking back the stored hashes, `reorg.handle` drops or
freezes what was found above it, and the page returned moves the cursor back to the fork, so the new
branch is scanned next (re-finding what is still there). Inside a page, every block must link to its
parent and every log must belong to the block we read; if the node reorganised while we read, the
page stops before the first inconsistency.

`confirmations(txids)` counts a deposit's confirmations only while the block we found it in is still
the node's canonical block at that height; otherwise the txid is left out (it waits, and the next
scan handles the reorganisation). Our own transactions' confirmations come from evm.tx.
"""
from __future__ import annotations

import logging
from typing import Any

from ..adapter import Transfer, TransferPage
from . import reorg
from .config import NATIVE_ASSET
from .context import Context
from .node import Block
from .units import to_amount

log = logging.getLogger("mycrypto.wallet.evm.scanner")

NATIVE_VOUT = -1


class Scanner:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.head: int | None = None
        self.scanned: int | None = None

    async def incoming(self, cursor: str | None) -> TransferPage:
        ctx = self.ctx
        await ctx.start()
        if cursor is None:
            return TransferPage([], str(await ctx.ensure_cursor()))
        last = int(cursor)
        head = self.head = await ctx.node.head()
        self.scanned = last
        fork = await self._fork_point(last)
        if fork is not None:
            await reorg.handle(ctx, fork=fork, tip=last)
            self.scanned = fork
            return TransferPage([], str(fork))
        end = min(head, last + ctx.cfg.scan_blocks)
        if end <= last:
            return TransferPage([], cursor)
        blocks = await self._linked_blocks(last, end)
        if not blocks:
            return TransferPage([], cursor)
        end = blocks[-1].number
        by_number = {b.number: b for b in blocks}
        logs = await ctx.node.transfer_logs(last + 1, end, [t.contract for t in ctx.cfg.tokens])
        for entry in logs:  # a log from another branch than the blocks we read: stop before that block
            block = by_number.get(entry.block_number)
            if block is None or block.hash != entry.block_hash:
                end = min(end, entry.block_number - 1)
        blocks = [b for b in blocks if b.number <= end]
        if not blocks:
            return TransferPage([], cursor)
        ours = await self._our_addresses()
        senders = set(ours) | ({ctx.hot_address} if ctx.hot_address else set())
        rows: list[tuple[Any, ...]] = []
        for block in blocks:
            for tx in block.txs:
                if tx.to in ours and tx.value > 0 and tx.sender not in senders:
                    rows.append((tx.hash, NATIVE_VOUT, block.number, block.hash, tx.sender, tx.to, NATIVE_ASSET,
                                 to_amount(tx.value, ctx.decimals[NATIVE_ASSET])))
        for entry in logs:
            if entry.block_number > end or entry.to not in ours or entry.units <= 0 or entry.sender in senders:
                continue
            asset = ctx.asset_of_contract(entry.contract)
            if asset is None:
                continue
            rows.append((entry.tx_hash, entry.log_index, entry.block_number, entry.block_hash, entry.sender, entry.to,
                         asset, to_amount(entry.units, ctx.decimals[asset])))
        await self._store(blocks, rows)
        self.scanned = end
        transfers = [Transfer(ctx.chain, r[0], r[1], ours[r[5]], r[6], r[7], head - r[2] + 1) for r in rows]
        if transfers:
            log.info("deposits seen", extra={"chain": ctx.chain, "count": len(transfers), "to_block": end})
        return TransferPage(transfers, str(end))

    async def _fork_point(self, last: int) -> int | None:
        """None if the cursor block is still canonical; else the highest block both branches share."""
        ctx = self.ctx
        stored = await ctx.db.fetchval("SELECT hash FROM evm.block WHERE chain = $1 AND number = $2",
                                       ctx.chain, last)
        if stored is None:
            return None
        current = await ctx.node.block(last)
        if current is not None and current.hash == stored:
            return None
        rows = await ctx.db.fetch(
            "SELECT number, hash FROM evm.block WHERE chain = $1 AND number BETWEEN 0 AND $2 ORDER BY number DESC",
            ctx.chain, last)
        for start in range(0, len(rows), 64):
            chunk = rows[start:start + 64]
            node_blocks = await ctx.node.blocks([r["number"] for r in chunk])
            for row, block in zip(chunk, node_blocks):
                if block is not None and block.hash == row["hash"]:
                    return row["number"]
        # nothing we stored is canonical any more: the fork is below our window
        return (rows[-1]["number"] - 1) if rows else max(last - 1, 0)

    async def _linked_blocks(self, last: int, end: int) -> list[Block]:
        ctx = self.ctx
        blocks = await ctx.node.blocks(range(last + 1, end + 1), full=True)
        parent = await ctx.db.fetchval("SELECT hash FROM evm.block WHERE chain = $1 AND number = $2",
                                       ctx.chain, last)
        out: list[Block] = []
        for block in blocks:
            if block is None or (parent is not None and block.parent_hash != parent):
                break  # the node reorganised (or shortened) while we read: take what links, retry the rest
            out.append(block)
            parent = block.hash
        return out

    async def _our_addresses(self) -> dict[str, str]:
        """{lower-case address: EIP-55 address} of every deposit address we derived."""
        rows = await self.ctx.db.fetch("SELECT address FROM evm.address WHERE chain = $1", self.ctx.chain)
        return {r["address"].lower(): r["address"] for r in rows}

    async def _store(self, blocks: list[Block], rows: list[tuple[Any, ...]]) -> None:
        ctx = self.ctx
        async with ctx.db.unit_of_work() as uow:
            await uow.conn.execute(
                "INSERT INTO evm.block (chain, number, hash, parent_hash) "
                "SELECT $1, n, h, p FROM unnest($2::bigint[], $3::text[], $4::text[]) AS b(n, h, p) "
                "ON CONFLICT (chain, number) DO UPDATE SET hash = EXCLUDED.hash, parent_hash = EXCLUDED.parent_hash, "
                "  seen_at = now()",
                ctx.chain, [b.number for b in blocks], [b.hash for b in blocks], [b.parent_hash for b in blocks])
            if rows:
                await uow.conn.execute(
                    "INSERT INTO evm.transfer (chain, txid, log_index, block_number, block_hash, from_address, "
                    "  to_address, asset, amount) "
                    "SELECT $1, t, i, n, h, f, a, s, v FROM unnest($2::text[], $3::int[], $4::bigint[], $5::text[], "
                    "  $6::text[], $7::text[], $8::text[], $9::numeric[]) AS x(t, i, n, h, f, a, s, v) "
                    "ON CONFLICT (chain, txid, log_index) DO UPDATE SET block_number = EXCLUDED.block_number, "
                    "  block_hash = EXCLUDED.block_hash",
                    ctx.chain, *[list(col) for col in zip(*rows)])
            # keep a window of hashes to find a fork in (row -1, the genesis hash, stays)
            await uow.conn.execute("DELETE FROM evm.block WHERE chain = $1 AND number >= 0 AND number < $2",
                                   ctx.chain, blocks[-1].number - ctx.cfg.block_window)
            await uow.commit()

    async def confirmations(self, txids: list[str]) -> dict[str, int]:
        ctx = self.ctx
        await ctx.start()
        wanted = list({t.lower() for t in txids})
        if not wanted:
            return {}
        head = self.head = await ctx.node.head()
        seen = await ctx.db.fetch(
            "SELECT DISTINCT txid, block_number, block_hash FROM evm.transfer WHERE chain = $1 AND txid = ANY($2)",
            ctx.chain, wanted)
        ours = await ctx.db.fetch(
            "SELECT t.first_hash, a.hash, t.mined_block, t.mined_block_hash FROM evm.tx t "
            "JOIN evm.tx_attempt a ON a.tx_id = t.id "
            "WHERE t.chain = $1 AND a.hash = ANY($2) AND t.success AND t.mined_block IS NOT NULL",
            ctx.chain, wanted)
        found: list[tuple[str, int, str]] = [(r["txid"], r["block_number"], r["block_hash"]) for r in seen]
        found += [(r["hash"], r["mined_block"], r["mined_block_hash"]) for r in ours]
        canonical = await self._canonical({n for _, n, _ in found})
        out: dict[str, int] = {}
        for txid, number, block_hash in found:
            if canonical.get(number) == block_hash:
                n = max(head - number + 1, 0)
                out[txid] = min(out.get(txid, n), n)
        return out

    async def _canonical(self, numbers: set[int]) -> dict[int, str]:
        ordered = sorted(numbers)
        blocks = await self.ctx.node.blocks(ordered)
        return {n: b.hash for n, b in zip(ordered, blocks) if b is not None}
