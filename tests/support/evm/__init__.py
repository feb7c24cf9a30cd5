"""Test support for the EVM adapter: a real node (node.py), the test ERC-20 (contracts.py), driving the chain
(chain.py), fixtures (fixtures.py) and per-test settings with fresh keys (`evm_settings`).

Tests share one node per session; each test gets a fresh database AND fresh keys (hot wallet, deposit
seed, cold address), so its addresses start empty on the shared chain and tests never see each other's
coins.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bip_utils import Bip39MnemonicGenerator, Bip39WordsNum
from eth_account import Account

from mycrypto.common.crypto import encrypt
from mycrypto.config import DEV_DATA_KEY
from tests.conftest import make_settings
from tests.support.evm.chain import DevChain


@dataclass
class EvmKeys:
    hot: Any             # eth_account LocalAccount (the test knows it to inspect the chain, never to sign)
    mnemonic: str
    cold: str


def fresh_keys() -> EvmKeys:
    return EvmKeys(Account.create(), str(Bip39MnemonicGenerator().FromWordsNumber(Bip39WordsNum.WORDS_NUM_12)),
                   Account.create().address)


def evm_settings(db_dsn: str, chain: DevChain, token: str, keys: EvmKeys, **overrides: Any) -> Any:
    """Settings of an app whose ETH and USDT live on `chain` (BTC stays on the simulator)."""
    values: dict[str, Any] = {
        "wallet_watch_interval_s": 0, "rate_limits_enabled": False,
        "chain_eth_rpc_url": chain.url, "chain_eth_chain_id": chain.chain_id,
        "chain_eth_tokens": f"USDT={token}:6",
        "chain_eth_hot_key": encrypt(DEV_DATA_KEY, "evm-hot-key", "0x" + bytes(keys.hot.key).hex()),
        "chain_eth_deposit_seed": encrypt(DEV_DATA_KEY, "evm-deposit-seed", keys.mnemonic),
        "chain_eth_cold_address": keys.cold,
        "chain_eth_stuck_seconds": 3600,  # ganache would mine a replacement AND the original (see node.py)
        "chain_eth_rpc_timeout_s": 5,
    }
    values.update(overrides)
    return make_settings(db_dsn, **values)
