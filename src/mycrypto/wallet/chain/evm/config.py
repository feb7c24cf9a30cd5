"""The EVM adapter's configuration, parsed and checked once from `Settings` (CHAIN_ETH_* variables).

Public values only: the hot-wallet key and the deposit seed are ciphertexts that only `signer.py`
decrypts. A value that cannot be right (a mistyped address, an unknown asset, a negative threshold)
is a `ConfigError` naming the variable, at start-up rather than at the first withdrawal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ....config import ConfigError
from .addresses import checksum

CHAIN = "ethereum"      # wallet.asset.chain of the assets this adapter serves
NATIVE_ASSET = "ETH"
NATIVE_DECIMALS = 18
ETH_TRANSFER_GAS = 21_000
GWEI = 10**9


@dataclass(frozen=True, slots=True)
class Token:
    asset: str
    contract: str               # EIP-55
    decimals: int | None        # None: read from the contract (decimals())


@dataclass(frozen=True)
class EvmConfig:
    rpc_url: str
    chain_id: int
    tokens: tuple[Token, ...] = ()
    confirmations: dict[str, int] = field(default_factory=dict)
    deposit_xpub: str = ""
    cold_address: str | None = None
    hot_max: dict[str, Decimal] = field(default_factory=dict)
    sweep_min: dict[str, Decimal] = field(default_factory=dict)
    start_block: int | None = None
    max_fee_wei: int = 500 * GWEI
    stuck_seconds: float = 180.0
    rpc_timeout_s: float = 10.0
    scan_blocks: int = 200
    fee_bump_percent: int = 25      # a replacement pays at least this much more (nodes require >= 10 %)
    block_window: int = 1000        # block hashes kept to find the fork point of a reorganisation

    @property
    def assets(self) -> tuple[str, ...]:
        return (NATIVE_ASSET, *(t.asset for t in self.tokens))

    def token(self, asset: str) -> Token | None:
        return next((t for t in self.tokens if t.asset == asset), None)

    def token_by_contract(self, contract: str) -> Token | None:
        return next((t for t in self.tokens if t.contract.lower() == contract.lower()), None)


def _pairs(variable: str, raw: str) -> list[tuple[str, str]]:
    out = []
    for item in (raw or "").split(","):
        item = item.strip()
        if not item:
            continue
        asset, sep, value = item.partition("=")
        if not sep or not asset.strip() or not value.strip():
            raise ConfigError(f"{variable}: expected ASSET=value[,ASSET=value...], got {item!r}")
        out.append((asset.strip().upper(), value.strip()))
    return out


def _amounts(variable: str, raw: str) -> dict[str, Decimal]:
    out = {}
    for asset, value in _pairs(variable, raw):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ConfigError(f"{variable}: {value!r} is not a number") from None
        if not amount.is_finite() or amount < 0:
            raise ConfigError(f"{variable}: {asset} must be a non-negative number")
        out[asset] = amount
    return out


def _address(variable: str, value: str) -> str:
    try:
        return checksum(value)
    except ValueError as exc:
        raise ConfigError(f"{variable}: {exc}") from None


def load_config(settings: Any) -> EvmConfig:
    tokens = []
    for asset, value in _pairs("CHAIN_ETH_TOKENS", settings.chain_eth_tokens):
        contract, _, decimals = value.partition(":")
        if decimals and (not decimals.isdigit() or not 0 <= int(decimals) <= 18):
            raise ConfigError(f"CHAIN_ETH_TOKENS: decimals of {asset} must be 0..18")
        tokens.append(Token(asset, _address("CHAIN_ETH_TOKENS", contract), int(decimals) if decimals else None))
    confirmations = {}
    for asset, value in _pairs("CHAIN_ETH_CONFIRMATIONS", settings.chain_eth_confirmations):
        if not value.isdigit() or not 1 <= int(value) <= 10_000:
            raise ConfigError(f"CHAIN_ETH_CONFIRMATIONS: {asset} needs 1..10000 confirmations")
        confirmations[asset] = int(value)
    config = EvmConfig(
        rpc_url=settings.chain_eth_rpc_url.strip(),
        chain_id=settings.chain_eth_chain_id,
        tokens=tuple(tokens),
        confirmations=confirmations,
        deposit_xpub=settings.chain_eth_deposit_xpub.strip(),
        cold_address=(_address("CHAIN_ETH_COLD_ADDRESS", settings.chain_eth_cold_address)
                      if settings.chain_eth_cold_address.strip() else None),
        hot_max=_amounts("CHAIN_ETH_HOT_MAX", settings.chain_eth_hot_max),
        sweep_min=_amounts("CHAIN_ETH_SWEEP_MIN", settings.chain_eth_sweep_min),
        start_block=settings.chain_eth_start_block,
        max_fee_wei=settings.chain_eth_max_fee_gwei * GWEI,
        stuck_seconds=settings.chain_eth_stuck_seconds,
        rpc_timeout_s=settings.chain_eth_rpc_timeout_s,
        scan_blocks=settings.chain_eth_scan_blocks,
    )
    if not config.rpc_url.startswith(("http://", "https://")):
        raise ConfigError("CHAIN_ETH_RPC_URL must be an http:// or https:// URL")
    for variable, assets in (("CHAIN_ETH_CONFIRMATIONS", config.confirmations), ("CHAIN_ETH_HOT_MAX", config.hot_max),
                             ("CHAIN_ETH_SWEEP_MIN", config.sweep_min)):
        unknown = sorted(set(assets) - set(config.assets))
        if unknown:
            raise ConfigError(f"{variable}: {', '.join(unknown)} is not ETH or a CHAIN_ETH_TOKENS asset")
    if config.hot_max and not config.cold_address:
        raise ConfigError("CHAIN_ETH_HOT_MAX needs CHAIN_ETH_COLD_ADDRESS")
    return config
