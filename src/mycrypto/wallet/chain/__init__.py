"""Chain integrations: the adapter interface, the built-in simulator, and how one is chosen.

`build_adapter(settings, db)`:
- `CHAIN_ADAPTER=package.module:factory` -> `factory(settings, db)` (a real node or custodian);
- else `CHAIN_ETH_RPC_URL` set -> a `ChainRouter`: chain ethereum (ETH, tokens) on the EVM adapter
  (`chain.evm`), the other chains on the simulator outside production (or on nothing);
- else, outside production with `CHAIN_SIMULATOR=true` -> the PostgreSQL-backed simulator;
- else None: deposit addresses and broadcasts answer 503 `chain_unavailable` until one is configured.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from .adapter import BroadcastRejected, ChainAdapter, ChainError, ChainUnavailable, Transfer, TransferPage

__all__ = ["BroadcastRejected", "ChainAdapter", "ChainError", "ChainUnavailable", "Transfer", "TransferPage",
           "build_adapter", "real_chains"]


def check_config(settings: Any) -> None:
    """Raise `config.ConfigError` for chain settings that cannot work (checked before a server listens)."""
    if settings.chain_eth_rpc_url.strip():
        from .evm import check_evm_config

        check_evm_config(settings)


def real_chains(settings: Any) -> set[str]:
    """Chains served by a real node here (the simulator must not pretend to send coins on them)."""
    return {"ethereum"} if settings.chain_eth_rpc_url.strip() else set()


def build_adapter(settings: Any, db: Any) -> ChainAdapter | None:
    spec = settings.chain_adapter.strip()
    if spec:
        module_name, _, attr = spec.partition(":")
        if not module_name or not attr:
            raise ValueError("CHAIN_ADAPTER must look like package.module:factory")
        factory = getattr(import_module(module_name), attr)
        adapter = factory(settings, db)
        if not isinstance(adapter, ChainAdapter):
            raise TypeError(f"CHAIN_ADAPTER {spec} did not return a ChainAdapter")
        return adapter
    simulator = None
    if settings.chain_simulator and settings.dev_tools_enabled:
        from .simulator import SimulatorChain

        simulator = SimulatorChain(db)
    if settings.chain_eth_rpc_url.strip():
        from .evm import build_evm_adapter
        from .router import ChainRouter

        evm = build_evm_adapter(settings, db)
        return ChainRouter({chain: evm for chain in evm.chains}, fallback=simulator)
    return simulator
