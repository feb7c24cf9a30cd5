"""EVM adapter pieces without a node: configuration parsing, answer checking, exact unit conversion, routing."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from mycrypto.config import ConfigError, Settings
from mycrypto.wallet.chain.adapter import ChainAdapter, ChainUnavailable, TransferPage
from mycrypto.wallet.chain.evm.config import load_config
from mycrypto.wallet.chain.evm.rpc import Garbage, address, quantity, tx_hash
from mycrypto.wallet.chain.evm.units import to_amount, to_units
from mycrypto.wallet.chain.router import ChainRouter

USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"


def _settings(**values):
    return Settings(_env_file=None, **{"chain_eth_rpc_url": "http://127.0.0.1:8545", **values})


def test_config_parses_tokens_thresholds_and_confirmations():
    cfg = load_config(_settings(chain_eth_tokens=f"usdt={USDT.lower()}:6", chain_eth_confirmations="ETH=12, USDT=20",
                                chain_eth_hot_max="ETH=50,USDT=100000", chain_eth_sweep_min="USDT=10",
                                chain_eth_cold_address="0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"))
    assert cfg.token("USDT").contract == USDT and cfg.token("USDT").decimals == 6
    assert cfg.confirmations == {"ETH": 12, "USDT": 20} and cfg.assets == ("ETH", "USDT")
    assert cfg.hot_max == {"ETH": D("50"), "USDT": D("100000")} and cfg.sweep_min == {"USDT": D("10")}


@pytest.mark.parametrize("values, variable", [
    ({"chain_eth_tokens": "USDT"}, "CHAIN_ETH_TOKENS"),
    ({"chain_eth_tokens": "USDT=0x1234"}, "CHAIN_ETH_TOKENS"),
    ({"chain_eth_tokens": f"USDT={USDT[:-1]}C"}, "CHAIN_ETH_TOKENS"),  # a mistyped (bad checksum) address
    ({"chain_eth_tokens": f"USDT={USDT}:19"}, "CHAIN_ETH_TOKENS"),
    ({"chain_eth_confirmations": "ETH=0"}, "CHAIN_ETH_CONFIRMATIONS"),
    ({"chain_eth_confirmations": "DOGE=3"}, "CHAIN_ETH_CONFIRMATIONS"),
    ({"chain_eth_hot_max": "ETH=-1", "chain_eth_cold_address": USDT}, "CHAIN_ETH_HOT_MAX"),
    ({"chain_eth_hot_max": "ETH=1"}, "CHAIN_ETH_COLD_ADDRESS"),
    ({"chain_eth_sweep_min": "ETH=lots"}, "CHAIN_ETH_SWEEP_MIN"),
    ({"chain_eth_rpc_url": "ftp://node"}, "CHAIN_ETH_RPC_URL"),
])
def test_config_mistakes_name_their_variable(values, variable):
    with pytest.raises(ConfigError, match=variable):
        load_config(_settings(**values))


@pytest.mark.parametrize("value", ["0x", "0x01", "12", "0xg", None, 12, "0x" + "f" * 65])
def test_malformed_quantities_are_garbage(value):
    with pytest.raises(Garbage, match="garbage"):
        quantity(value)


def test_hashes_and_addresses_are_checked():
    assert quantity("0x0") == 0 and quantity("0x1bc") == 444
    assert tx_hash("0x" + "AB" * 32) == "0x" + "ab" * 32
    for bad in ("0x" + "ab" * 31, "ab" * 32, None):
        with pytest.raises(Garbage):
            tx_hash(bad)
    with pytest.raises(Garbage):
        address("0x12")


def test_units_convert_exactly():
    assert to_amount(123456789012345678, 18) == D("0.123456789012345678")
    assert to_units(D("0.123456789012345678"), 18) == 123456789012345678
    assert to_units(D("250.5"), 6) == 250_500_000 and to_amount(1, 6) == D("0.000001")
    with pytest.raises(ValueError):
        to_units(D("1.0000001"), 6)


class _Fake(ChainAdapter):
    name = "fake"

    async def new_address(self, chain, asset):
        return "addr"

    async def incoming_transfers(self, chain, cursor, limit=500):
        return TransferPage([], "7")

    async def confirmations(self, chain, txids):
        return {t: 1 for t in txids}

    async def broadcast(self, chain, asset, address, amount, reference):
        return "tx"

    def real_chain(self, chain):
        return True


async def test_the_router_sends_each_chain_to_its_adapter_and_tolerates_unserved_ones():
    router = ChainRouter({"ethereum": _Fake()}, fallback=None)
    assert router.cursor_name("ethereum") == "fake" and router.cursor_name("bitcoin") == "none"
    assert router.real_chain("ethereum") and not router.real_chain("bitcoin")
    assert await router.new_address("ethereum", "ETH") == "addr"
    assert (await router.incoming_transfers("bitcoin", "3")).cursor == "3"  # nothing read, nothing skipped
    assert await router.confirmations("bitcoin", ["x"]) == {}
    with pytest.raises(ChainUnavailable):
        await router.new_address("bitcoin", "BTC")
    with pytest.raises(ChainUnavailable):  # transient: the withdrawal stays queued
        await router.broadcast("bitcoin", "BTC", "a", D(1), "withdrawal-1")


def test_node_urls_are_shown_without_their_api_key():
    from mycrypto.wallet.chain.evm.rpc import redacted

    assert redacted("https://mainnet.infura.io/v3/0123456789abcdef") == "https://mainnet.infura.io"
    assert redacted("http://user:secret@127.0.0.1:8545/?key=x") == "http://127.0.0.1:8545"
