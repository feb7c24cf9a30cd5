"""The built-in chain simulator: a pretend blockchain per chain, stored in PostgreSQL (schema chainsim).

Development and tests only (refused in production). Because its state is in the database, the
`mycrypto chain send|mine|status` commands and a running server see the same chain:

    mycrypto chain send --to ADDRESS --asset BTC --amount 0.5   # a transfer lands in the mempool
    mycrypto chain mine 2                                       # two blocks: it has 2 confirmations

A transfer's confirmations are `height - block_height + 1` once mined, 0 while in the mempool.
Inserts on a chain hold that chain's row lock, so transfer ids commit in id order and the id is a
safe scan cursor for `incoming_transfers`. Broadcasts are idempotent on their reference, and
`refuse_broadcasts` makes every broadcast on a chain fail (to exercise the `failed` path).

A simulated transfer gets the bounds a real one has (issue 11: the development deposit helper credited
18446744073709551616 USDT): never more than the asset's whole real-world supply in one transfer
(`MAX_TRANSFER`), refused with `SimulatedTransferTooLarge` - the web helper answers 422
`simulated_deposit_too_large`, `mycrypto chain send` one `error:` line.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..domain.assets import is_valid_address
from .adapter import BroadcastRejected, ChainAdapter, ChainError, Transfer, TransferPage

_BECH32_CHARS = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
MAX_BLOCKS_PER_MINE = 10_000
# About each asset's whole circulating supply, rounded up: no real deposit can be larger, so no simulated
# one may be (an absurd balance would also overflow what the UI, the engine's integers and NUMERIC keep).
MAX_TRANSFER: dict[str, Decimal] = {"BTC": Decimal("21000000"), "ETH": Decimal("200000000"),
                                    "USDT": Decimal("200000000000")}
DEFAULT_MAX_TRANSFER = Decimal("1000000000")


class SimulatedTransferTooLarge(ChainError):
    """A simulated transfer above the asset's bound (`MAX_TRANSFER`)."""


def max_transfer(asset: str) -> Decimal:
    return MAX_TRANSFER.get(asset, DEFAULT_MAX_TRANSFER)


def _random_address(chain: str) -> str:
    if chain == "bitcoin":  # regtest-style bech32 (bcrt1q + 38 data characters)
        return "bcrt1q" + "".join(secrets.choice(_BECH32_CHARS) for _ in range(38))
    if chain == "ethereum":
        return "0x" + secrets.token_hex(20)
    raise ChainError(f"the simulator cannot make addresses for chain {chain!r}")


def _random_txid(chain: str) -> str:
    return ("0x" if chain == "ethereum" else "") + secrets.token_hex(32)


@dataclass(frozen=True, slots=True)
class SentTransfer:
    chain: str
    txid: str
    vout: int
    address: str
    asset: str
    amount: Decimal


class SimulatorChain(ChainAdapter):
    """`ChainAdapter` over the chainsim tables, through a `Database` (its own short transactions)."""

    name = "simulator"

    def __init__(self, db: Any) -> None:
        self.db = db

    # ------------------------------------------------------------------ ChainAdapter
    async def new_address(self, chain: str, asset: str) -> str:
        async with self.db.unit_of_work() as uow:
            await self._ensure_chain(uow.conn, chain)
            while True:
                address = _random_address(chain)
                inserted = await uow.conn.fetchval(
                    "INSERT INTO chainsim.address (chain, address, asset) VALUES ($1, $2, $3) "
                    "ON CONFLICT DO NOTHING RETURNING address", chain, address, asset)
                if inserted:
                    await uow.commit()
                    return address

    async def incoming_transfers(self, chain: str, cursor: str | None, limit: int = 500) -> TransferPage:
        after = int(cursor) if cursor else 0
        rows = await self.db.fetch(
            "SELECT t.id, t.txid, t.vout, t.address, t.asset, t.amount, a.address IS NOT NULL AS ours, "
            "CASE WHEN t.block_height IS NULL THEN 0 ELSE c.height - t.block_height + 1 END AS confirmations "
            "FROM chainsim.transfer t JOIN chainsim.chain c ON c.chain = t.chain "
            "LEFT JOIN chainsim.address a ON a.chain = t.chain AND a.address = t.address "
            "WHERE t.chain = $1 AND t.id > $2 ORDER BY t.id LIMIT $3", chain, after, limit)
        transfers = [Transfer(chain, r["txid"], r["vout"], r["address"], r["asset"], r["amount"],
                              r["confirmations"]) for r in rows if r["ours"]]
        return TransferPage(transfers, str(rows[-1]["id"]) if rows else cursor)

    async def confirmations(self, chain: str, txids: list[str]) -> dict[str, int]:
        if not txids:
            return {}
        rows = await self.db.fetch(
            "SELECT t.txid, min(CASE WHEN t.block_height IS NULL THEN 0 ELSE c.height - t.block_height + 1 END) AS n "
            "FROM chainsim.transfer t JOIN chainsim.chain c ON c.chain = t.chain "
            "WHERE t.chain = $1 AND t.txid = ANY($2::text[]) GROUP BY t.txid", chain, list(set(txids)))
        return {r["txid"]: int(r["n"]) for r in rows}

    async def broadcast(self, chain: str, asset: str, address: str, amount: Decimal, reference: str) -> str:
        async with self.db.unit_of_work() as uow:
            refusal = await self._lock_chain(uow.conn, chain)
            existing = await uow.conn.fetchval(
                "SELECT txid FROM chainsim.transfer WHERE chain = $1 AND reference = $2", chain, reference)
            if existing:
                return existing  # idempotent: the same withdrawal never pays twice
            if refusal:
                raise BroadcastRejected(refusal)
            txid = _random_txid(chain)
            await uow.conn.execute(
                "INSERT INTO chainsim.transfer (chain, txid, vout, asset, address, amount, reference) "
                "VALUES ($1, $2, 0, $3, $4, $5, $6)", chain, txid, asset, address, amount, reference)
            await uow.commit()
            return txid

    # ------------------------------------------------------------------ simulator controls (CLI, tests)
    async def send(self, asset: str, address: str, amount: Decimal) -> SentTransfer:
        """A transfer from outside to `address` (the mempool); `mycrypto chain send`."""
        if amount <= 0:
            raise ChainError("amount must be greater than zero")
        if amount > max_transfer(asset):
            raise SimulatedTransferTooLarge(
                f"a simulated {asset} transfer is at most {max_transfer(asset):f} (more than exists)")
        async with self.db.unit_of_work() as uow:
            row = await uow.conn.fetchrow("SELECT chain, address_pattern FROM wallet.asset WHERE code = $1", asset)
            if row is None:
                raise ChainError(f"unknown asset {asset!r}")
            if not is_valid_address(row["address_pattern"], address):
                raise ChainError(f"{address!r} is not a valid {asset} address")
            chain = row["chain"]
            await self._lock_chain(uow.conn, chain)
            txid = _random_txid(chain)
            await uow.conn.execute(
                "INSERT INTO chainsim.transfer (chain, txid, vout, asset, address, amount) "
                "VALUES ($1, $2, 0, $3, $4, $5)", chain, txid, asset, address, amount)
            await uow.commit()
        return SentTransfer(chain, txid, 0, address, asset, amount)

    async def mine(self, blocks: int, chain: str | None = None) -> list[dict[str, Any]]:
        """Add `blocks` blocks to one chain (or every chain); the first takes the whole mempool."""
        if not 1 <= blocks <= MAX_BLOCKS_PER_MINE:
            raise ChainError(f"mine between 1 and {MAX_BLOCKS_PER_MINE} blocks")
        out = []
        async with self.db.unit_of_work() as uow:
            chains = [chain] if chain else [r["chain"] for r in await uow.conn.fetch(
                "SELECT chain FROM chainsim.chain ORDER BY chain")]
            for name in chains:
                await self._ensure_chain(uow.conn, name)
                height = await uow.conn.fetchval(
                    "SELECT height FROM chainsim.chain WHERE chain = $1 FOR UPDATE", name)
                mined = await uow.conn.execute(
                    "UPDATE chainsim.transfer SET block_height = $2 WHERE chain = $1 AND block_height IS NULL",
                    name, height + 1)
                await uow.conn.execute(
                    "UPDATE chainsim.chain SET height = height + $2, updated_at = now() WHERE chain = $1",
                    name, blocks)
                out.append({"chain": name, "height": height + blocks, "mined_transfers": int(mined.split()[-1])})
            await uow.commit()
        return out

    async def refuse_broadcasts(self, chain: str, reason: str | None) -> None:
        """Make every broadcast on `chain` fail with `reason` (None accepts them again)."""
        async with self.db.unit_of_work() as uow:
            await self._ensure_chain(uow.conn, chain)
            await uow.conn.execute("UPDATE chainsim.chain SET refuse_broadcasts = $2, updated_at = now() "
                                   "WHERE chain = $1", chain, reason)
            await uow.commit()

    async def status(self) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            "SELECT c.chain, c.height, c.refuse_broadcasts, "
            "count(t.id) FILTER (WHERE t.block_height IS NULL) AS mempool, count(t.id) AS transfers "
            "FROM chainsim.chain c LEFT JOIN chainsim.transfer t ON t.chain = c.chain "
            "GROUP BY c.chain ORDER BY c.chain")
        return [dict(r) for r in rows]

    # ------------------------------------------------------------------ helpers
    @staticmethod
    async def _ensure_chain(conn: Any, chain: str) -> None:
        await conn.execute("INSERT INTO chainsim.chain (chain) VALUES ($1) ON CONFLICT DO NOTHING", chain)

    async def _lock_chain(self, conn: Any, chain: str) -> str | None:
        """Serialise inserts per chain (ids then commit in order); return the broadcast refusal, if any."""
        await self._ensure_chain(conn, chain)
        return await conn.fetchval("SELECT refuse_broadcasts FROM chainsim.chain WHERE chain = $1 FOR UPDATE",
                                   chain)
