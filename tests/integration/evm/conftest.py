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

    def fund_hot(self, eth: str = "5", usdt_units: int = 0) -> None:
        """The outside world pays the hot wallet (as an operator's funding would)."""
        self.chain.wait(self.chain.send_eth(self.keys.hot.address, eth, self.chain.accounts[4]))
        if usdt_units:
            self.chain.wait(self.chain.send_token(self.token, self.keys.hot.address, usdt_units,
                                                  self.chain.accounts[1]))

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
