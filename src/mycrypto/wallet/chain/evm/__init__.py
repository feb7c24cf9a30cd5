"""EVM chain family (Ethereum and compatible networks): ETH and ERC-20 tokens through a real node.

Modules: `config` (CHAIN_ETH_*), `rpc` + `node` (JSON-RPC, checked answers), `addresses` (EIP-55,
public BIP-32 derivation), `signer` (the ONLY holder of private keys; imported here and nowhere
else), `scanner` + `reorg` (deposits), `sender` (our transactions), `custody` (sweeps, cold storage,
network fees), `reconcile`, `adapter` (the `ChainAdapter`), `cli` (operator commands).
Design and choices: docs/adr/0005-evm-custody.md; operations: docs/wallet.md "EVM adapter".
"""
from __future__ import annotations

from typing import Any

from ....config import ConfigError
from .adapter import EvmChain
from .addresses import DepositAddresses
from .config import load_config
from .context import Context
from .node import Node
from .rpc import RpcClient


def build_evm_adapter(settings: Any, db: Any) -> EvmChain:
    """Wire the adapter from settings: config, node client, signer (decrypted keys), address deriver."""
    cfg, signer, deposits = _checked(settings)
    node = Node(RpcClient(cfg.rpc_url, cfg.rpc_timeout_s))
    return EvmChain(Context(db=db, cfg=cfg, node=node, signer=signer, deposits=deposits))


def check_evm_config(settings: Any) -> None:
    """Raise ConfigError for a CHAIN_ETH_* setting that cannot work (`mycrypto up/serve` before listening)."""
    _checked(settings)


def _checked(settings: Any) -> tuple[Any, Any, DepositAddresses]:
    from .signer import load_signer  # the keys enter here, and only here

    cfg = load_config(settings)
    signer = load_signer(settings, cfg.chain_id)
    xpub = cfg.deposit_xpub or (signer.deposit_xpub() if signer is not None else None)
    if not xpub:
        raise ConfigError("CHAIN_ETH_RPC_URL is set: set CHAIN_ETH_DEPOSIT_XPUB (or CHAIN_ETH_DEPOSIT_SEED) too")
    if signer is not None and signer.can_sweep and signer.deposit_xpub() != xpub:
        raise ConfigError("CHAIN_ETH_DEPOSIT_XPUB does not belong to CHAIN_ETH_DEPOSIT_SEED")
    try:
        deposits = DepositAddresses(xpub)
    except ValueError as exc:
        raise ConfigError(f"CHAIN_ETH_DEPOSIT_XPUB: {exc}") from None
    return cfg, signer, deposits


def encrypt_secret(master_key: Any, kind: str, plaintext: str) -> str:
    """`mycrypto chain encrypt-secret`: checks the secret, returns its ciphertext (signer.py does it)."""
    from .signer import encrypt_secret as encrypt

    return encrypt(master_key, kind, plaintext)


def reencrypt_secret(master_key: Any, kind: str, token: str) -> str:
    """`mycrypto chain reencrypt-secret`: the same secret under the active data key (signer.py does it)."""
    from .signer import reencrypt_secret as reencrypt

    return reencrypt(master_key, kind, token)


def generate_keys(master_key: Any) -> dict[str, str]:
    """`mycrypto chain new-keys`: a fresh hot key and deposit seed, encrypted, with their public parts."""
    from .signer import generate_keys as generate

    return generate(master_key)


__all__ = ["EvmChain", "build_evm_adapter", "check_evm_config", "encrypt_secret", "generate_keys"]
