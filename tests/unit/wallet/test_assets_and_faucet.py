"""Address formats per asset (the seeded patterns), simulator addresses, and faucet caps."""
from decimal import Decimal as D

import pytest

from mycrypto.wallet.chain.simulator import _random_address, _random_txid
from mycrypto.wallet.domain import faucet
from mycrypto.wallet.domain.assets import is_valid_address
from mycrypto.wallet.domain.errors import RuleViolation

BTC = r"^((bc1|tb1|bcrt1)[02-9ac-hj-np-z]{11,71}|[13mn2][1-9A-HJ-NP-Za-km-z]{25,34})$"
ETH = r"^0x[0-9a-fA-F]{40}$"


@pytest.mark.parametrize("pattern, address, ok", [
    (BTC, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", True),
    (BTC, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", True),
    (BTC, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdb", False),  # 'b' is not bech32
    (BTC, "0x52908400098527886E0F7030069857D2E4169EE7", False),
    (BTC, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq\n", False),
    (ETH, "0x52908400098527886E0F7030069857D2E4169EE7", True),
    (ETH, "52908400098527886E0F7030069857D2E4169EE7", False),
    (ETH, "0x52908400098527886E0F7030069857D2E4169EE", False),
    (ETH, "0x52908400098527886E0F7030069857D2E4169EEG", False),
    (ETH, None, False),
    (ETH, 12345, False),
])
def test_address_patterns(pattern, address, ok):
    assert is_valid_address(pattern, address) is ok


@pytest.mark.parametrize("chain, pattern", [("bitcoin", BTC), ("ethereum", ETH)])
def test_simulator_addresses_match_the_asset_patterns(chain, pattern):
    addresses = {_random_address(chain) for _ in range(200)}
    assert len(addresses) == 200
    assert all(is_valid_address(pattern, a) for a in addresses)
    assert len(_random_txid(chain)) in (64, 66)


def test_faucet_grants_the_cap_by_default_and_refuses_more():
    assert faucet.grant_amount("BTC", None) == D("1")
    assert faucet.grant_amount("USDT", D("250.5")) == D("250.5")
    assert faucet.grant_amount("NEWCOIN", None) == faucet.DEFAULT_CAP
    with pytest.raises(RuleViolation) as exc:
        faucet.grant_amount("BTC", D("1.00000001"))
    assert exc.value.code == "faucet_limit"


def test_faucet_posting_balances_against_chain_in():
    p = faucet.faucet_posting("u:1", "ETH", D("2"), user_account=5, chain_in_account=1)
    assert p.kind == "faucet" and sum(leg.amount for leg in p.legs) == 0
