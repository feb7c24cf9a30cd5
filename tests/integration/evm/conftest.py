"""EVM custody tests against a real ganache node (hardhat where ganache is wrong), a real PostgreSQL.

Per test: a fresh database, fresh keys (hot wallet, deposit seed, cold address) and the wallet's
components wired exactly as the wallet service wires them (`build_components`), driven by hand
(`round()` = one background round: processor, watcher, custody).
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from mycrypto.db.database import Database
from mycrypto.wallet.api import build_components
from tests.e2e.wallet.helpers import assert_books_ok
from tests.support.evm import EvmKeys, evm_settings, fresh_keys
from tests.support.evm.chain import DevChain
from tests.support.evm.fixtures import *  # noqa: F403 - evm_chain, hardhat_chain


@dataclass
class World:
    chain: DevChain
    token: str
    keys: EvmKeys
    settings: Any
    db: Database
    parts: Any

    @property
    def evm(self) -> Any:
        return self.parts.chain.routes["ethereum"]

    async def round(self) -> dict[str, Any]:
        return await self.parts.run_once()

    async def address(self, user_id: int, asset: str = "ETH") -> str:
        return (await self.parts.wallet.deposit_address(user_id, asset))["address"]

    async def fund_hot(self, eth: str = "5", usdt: str = "0") -> None:
        """An operator funds the hot wallet from outside and books it (network fees reserve / fees)."""
        self.chain.wait(self.chain.send_eth(self.keys.hot.address, eth, self.chain.accounts[4]))
        if Decimal(usdt):
            self.chain.wait(self.chain.send_token(self.token, self.keys.hot.address, int(Decimal(usdt) * 10**6),
                                                  self.chain.accounts[1]))
        await self.parts.watcher.scan_once()  # the reconciliation reads balances at the watcher's cursor
        await self.evm.book_surplus("ETH", Decimal(eth), "network_fees", "test: operator's ETH for fees")
        if Decimal(usdt):
            await self.evm.book_surplus("USDT", Decimal(usdt), "fees", "test: operator's USDT float")

    async def deposit(self, user_id: int, eth: str = "0", usdt: str = "0") -> None:
        """Coins from outside to the user's address, confirmed and credited."""
        address = await self.address(user_id, "ETH")
        if Decimal(eth):
            self.chain.send_eth(address, eth, self.chain.accounts[3])
        if Decimal(usdt):
            self.chain.send_token(self.token, address, int(Decimal(usdt) * 10**6), self.chain.accounts[3])
        self.chain.mine(3)
        await self.parts.watcher.scan_once()

    async def settle(self, rounds: int = 6) -> None:
        """Background rounds with blocks in between, until our transactions are final."""
        for _ in range(rounds):
            await self.round()
            self.chain.mine()
        await self.round()

    async def deposits(self, user_id: int) -> list[Any]:
        return await self.db.fetch("SELECT id, asset, amount, status::text AS status, confirmations, txid, vout "
                                   "FROM wallet.deposit WHERE user_id = $1 ORDER BY id", user_id)

    async def withdrawal_status(self, withdrawal_id: int) -> str:
        return await self.db.fetchval("SELECT status::text FROM wallet.withdrawal WHERE id = $1", withdrawal_id)

    async def assert_books_and_chain_agree(self) -> None:
        """`mycrypto verify` and `mycrypto chain reconcile` both pass."""
        await assert_books_ok(self.db)
        report = await self.evm.reconcile()
        assert report.ok, report.render()

    async def balance(self, user_id: int, asset: str) -> tuple[Decimal, Decimal]:
        row = await self.db.fetchrow("SELECT available, locked FROM wallet.account WHERE kind = 'user' "
                                     "AND user_id = $1 AND asset = $2", user_id, asset)
        return (row["available"], row["locked"]) if row else (Decimal(0), Decimal(0))


async def make_world(db_dsn: str, evm: Any, **overrides: Any) -> AsyncIterator[World]:
    keys = fresh_keys()
    settings = evm_settings(db_dsn, evm.chain, evm.token, keys, **overrides)
    db = Database(db_dsn, min_size=1, max_size=6)
    await db.connect()
    parts = build_components(db, settings)
    try:
        yield World(evm.chain, evm.token, keys, settings, db, parts)
    finally:
        await parts.chain.close()
        await db.close()


@pytest.fixture
async def world(db_dsn, evm_chain) -> AsyncIterator[World]:
    async for w in make_world(db_dsn, evm_chain):
        yield w
