"""Chain integrations: the adapter interface, the built-in simulator, and how one is chosen.

`build_adapter(settings, db)`:
- `CHAIN_ADAPTER=package.module:factory` -> `factory(settings, db)` (a real node or custodian);
- else, outside production with `CHAIN_SIMULATOR=true` -> the PostgreSQL-backed simulator;
- else None: deposit addresses and broadcasts answer 503 `chain_unavailable` until one is configured.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from .adapter import BroadcastRejected, ChainAdapter, ChainError, ChainUnavailable, Transfer, TransferPage

__all__ = ["BroadcastRejected", "ChainAdapter", "ChainError", "ChainUnavailable", "Transfer", "TransferPage",
           "build_adapter"]


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
    if settings.chain_simulator and settings.dev_tools_enabled:
        from .simulator import SimulatorChain

        return SimulatorChain(db)
    return None
