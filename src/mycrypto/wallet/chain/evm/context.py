"""What every part of the EVM adapter shares: settings, the node, the database, addresses, decimals.

`Context.start()` runs once before the node is first used (and again until it succeeds): it refuses a
node on another chain (chain id, or a genesis block different from the one we saw first: a node reset
to a new chain must not look like a reorganisation), applies CHAIN_ETH_CONFIRMATIONS to
wallet.asset, reads token decimals and sets the scan cursor when there is none yet (CHAIN_ETH_START_BLOCK,
or the current head: never a scan from genesis on a live network).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from ..adapter import ChainUnavailable
from .addresses import DepositAddresses
from .config import CHAIN, NATIVE_ASSET, NATIVE_DECIMALS, EvmConfig
from .node import Node

log = logging.getLogger("mycrypto.wallet.evm")

ADAPTER_NAME = "evm"


class WrongChain(ChainUnavailable):
    """The node serves another chain than the one we keep books for: we do nothing with it."""


@dataclass
class Context:
    db: Any
    cfg: EvmConfig
    node: Node
    signer: Any  # signer.Signer | None (typed loosely: only the wiring imports signer.py)
    deposits: DepositAddresses
    chain: str = CHAIN
    name: str = ADAPTER_NAME
    decimals: dict[str, int] = field(default_factory=lambda: {NATIVE_ASSET: NATIVE_DECIMALS})
    started: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def hot_address(self) -> str | None:
        return None if self.signer is None else self.signer.hot_address.lower()

    def contract(self, asset: str) -> str | None:
        token = self.cfg.token(asset)
        return None if token is None else token.contract.lower()

    def asset_of_contract(self, contract: str) -> str | None:
        token = self.cfg.token_by_contract(contract)
        return None if token is None else token.asset

    def known_decimals(self, asset: str) -> int | None:
        if asset in self.decimals:
            return self.decimals[asset]
        token = self.cfg.token(asset)
        return None if token is None else token.decimals

    async def start(self) -> None:
        if self.started:
            return
        async with self._lock:
            if self.started:
                return
            await self._check_chain()
            for token in self.cfg.tokens:
                decimals = token.decimals
                on_chain = await self.node.token_decimals(token.contract)
                if decimals is not None and decimals != on_chain:
                    raise WrongChain(f"{token.asset} contract says {on_chain} decimals, CHAIN_ETH_TOKENS says "
                                     f"{decimals}")
                self.decimals[token.asset] = on_chain
            async with self.db.unit_of_work() as uow:
                for asset, n in self.cfg.confirmations.items():
                    await uow.conn.execute("UPDATE wallet.asset SET confirmations_required = $2 "
                                           "WHERE code = $1 AND chain = $3", asset, n, self.chain)
                await uow.commit()
            await self.ensure_cursor()
            self.started = True
            log.info("EVM adapter started", extra={"chain": self.chain, "chain_id": self.cfg.chain_id,
                                                   "hot": self.hot_address, "tokens": list(self.decimals)})

    async def _check_chain(self) -> None:
        chain_id = await self.node.chain_id()
        if chain_id != self.cfg.chain_id:
            raise WrongChain(f"node serves chain id {chain_id}, CHAIN_ETH_CHAIN_ID is {self.cfg.chain_id}")
        genesis = await self.node.block(0)
        if genesis is None:
            raise WrongChain("node has no genesis block")
        stored = await self.db.fetchval(
            "INSERT INTO evm.block (chain, number, hash, parent_hash) VALUES ($1, -1, $2, $2) "
            "ON CONFLICT (chain, number) DO UPDATE SET seen_at = evm.block.seen_at RETURNING hash",
            self.chain, genesis.hash)  # row -1 keeps the genesis hash (block 0 may be pruned from the window)
        if stored != genesis.hash:
            raise WrongChain(f"node's genesis block {genesis.hash} is not the chain we keep books for ({stored})")

    async def ensure_cursor(self) -> int:
        cursor = await self.db.fetchval("SELECT cursor FROM wallet.chain_cursor WHERE adapter = $1 AND chain = $2",
                                        self.name, self.chain)
        if cursor is not None:
            return int(cursor)
        start = self.cfg.start_block if self.cfg.start_block is not None else await self.node.head() + 1
        first = max(start - 1, 0)
        await self.db.execute(
            "INSERT INTO wallet.chain_cursor (adapter, chain, cursor) VALUES ($1, $2, $3) "
            "ON CONFLICT (adapter, chain) DO NOTHING", self.name, self.chain, str(first))
        return int(await self.db.fetchval("SELECT cursor FROM wallet.chain_cursor WHERE adapter = $1 AND chain = $2",
                                          self.name, self.chain))

    async def confirmations_required(self) -> dict[str, int]:
        rows = await self.db.fetch("SELECT code, confirmations_required FROM wallet.asset WHERE chain = $1",
                                   self.chain)
        return {r["code"]: r["confirmations_required"] for r in rows}
