"""One `ChainAdapter` per chain: routes each call to the adapter serving that chain.

With `CHAIN_ETH_RPC_URL` set, chain `ethereum` (ETH and its tokens) goes to the EVM adapter and the
other chains (bitcoin) to the simulator outside production, or to nothing. A chain nobody serves
reports no transfers and no confirmations (so the watcher goes on with the other chains), refuses new
addresses (503 `chain_unavailable`) and leaves its withdrawals queued (a transient failure).
A Bitcoin Core adapter would be one more entry in `routes`.
"""
from __future__ import annotations

from decimal import Decimal

from .adapter import ChainAdapter, ChainUnavailable, TransferPage

NONE = "none"


class ChainRouter(ChainAdapter):
    name = "router"

    def __init__(self, routes: dict[str, ChainAdapter], fallback: ChainAdapter | None = None) -> None:
        self.routes = dict(routes)
        self.fallback = fallback

    def adapter(self, chain: str) -> ChainAdapter | None:
        return self.routes.get(chain, self.fallback)

    def _require(self, chain: str) -> ChainAdapter:
        adapter = self.adapter(chain)
        if adapter is None:
            raise ChainUnavailable(f"no adapter serves chain {chain!r}")
        return adapter

    def _adapters(self) -> list[ChainAdapter]:
        out: list[ChainAdapter] = []
        for adapter in [*self.routes.values(), self.fallback]:
            if adapter is not None and all(adapter is not a for a in out):
                out.append(adapter)
        return out

    def cursor_name(self, chain: str) -> str:
        adapter = self.adapter(chain)
        return adapter.cursor_name(chain) if adapter is not None else NONE

    def real_chain(self, chain: str) -> bool:
        adapter = self.adapter(chain)
        return adapter is not None and adapter.real_chain(chain)

    async def new_address(self, chain: str, asset: str) -> str:
        return await self._require(chain).new_address(chain, asset)

    async def incoming_transfers(self, chain: str, cursor: str | None, limit: int = 500) -> TransferPage:
        adapter = self.adapter(chain)
        if adapter is None:
            return TransferPage([], cursor)
        return await adapter.incoming_transfers(chain, cursor, limit)

    async def confirmations(self, chain: str, txids: list[str]) -> dict[str, int]:
        adapter = self.adapter(chain)
        return {} if adapter is None else await adapter.confirmations(chain, txids)

    async def broadcast(self, chain: str, asset: str, address: str, amount: Decimal, reference: str) -> str:
        return await self._require(chain).broadcast(chain, asset, address, amount, reference)

    async def check_withdrawal(self, chain: str, asset: str, address: str, amount: Decimal) -> None:
        adapter = self.adapter(chain)
        if adapter is not None:
            await adapter.check_withdrawal(chain, asset, address, amount)

    async def maintain(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for adapter in self._adapters():
            done = await adapter.maintain()
            if done:
                out[adapter.name] = done
        return out

    async def close(self) -> None:
        for adapter in self._adapters():
            await adapter.close()
