"""EVM keys and addresses: BIP-32/44 public derivation matches the seed's, EIP-55, secrets stay secret."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import SecretStr

from mycrypto.common.crypto import encrypt
from mycrypto.config import ConfigError, Settings
from mycrypto.wallet.chain.evm import addresses
from mycrypto.wallet.chain.evm import signer as signer_module

# hardhat's well-known test mnemonic: m/44'/60'/0'/0/0 and /1 are its first two accounts
MNEMONIC = "test test test test test test test test test test test junk"
XPUB = ("xpub6Ce9NcJvTk36xtLSrJLZqE7wtgA5deCeYs7rSQtreh4cj6ByPtrg9sD7V2FNFLPnf8heNP3FGkeV9qwfzvZNSd54JoNXVsXFYSYwHs"
        "nJxqP")
FIRST = ["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"]
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # account 0's private key
MASTER = "a-test-data-encryption-key-of-enough-length-0123456789"


def test_public_derivation_gives_the_bip44_addresses_without_any_secret():
    derive = addresses.DepositAddresses(XPUB)
    assert [derive.address(i) for i in range(2)] == FIRST


def test_the_signer_derives_the_same_addresses_from_the_seed_and_signs_for_them():
    s = signer_module.Signer(31337, bytes.fromhex(KEY[2:]), signer_module._seed_bytes(MNEMONIC))
    assert s.deposit_xpub() == XPUB and s.hot_address == FIRST[0]
    assert [s.deposit_address(i) for i in range(2)] == FIRST
    signed = s.sign({"nonce": 0, "to": FIRST[1], "value": 1, "gas": 21000, "maxFeePerGas": 2, "maxPriorityFeePerGas": 1,
                     "data": "0x"}, from_index=1)
    assert signed.raw.startswith("0x02") and len(signed.hash) == 66  # an EIP-1559 (type 2) transaction
    assert "ac0974" not in repr(s) and KEY[2:] not in str(vars(s))


@pytest.mark.parametrize("bad, why", [
    ("xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi",
     "PUBLIC"),
    ("xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8",
     "depth"),
    ("not a key", "extended public key"),
])
def test_a_wrong_xpub_is_refused(bad, why):
    with pytest.raises(ValueError, match=why):
        addresses.DepositAddresses(bad)


def test_eip55_checksums():
    assert addresses.is_checksummed(FIRST[0]) and not addresses.is_checksummed(FIRST[0].lower())
    assert addresses.checksum(FIRST[0].lower()) == FIRST[0]
    with pytest.raises(ValueError, match="checksum"):
        addresses.checksum("0x" + FIRST[0][2:].swapcase())  # every letter's case flipped: a wrong checksum
    with pytest.raises(ValueError):
        addresses.checksum("0x1234")


def _settings(**values):
    return Settings(_env_file=None, data_encryption_key=SecretStr(MASTER), **values)


def test_keys_are_read_only_as_ciphertexts_of_this_data_key():
    hot = encrypt(MASTER, signer_module.HOT_KEY_PURPOSE, KEY)
    seed = encrypt(MASTER, signer_module.DEPOSIT_SEED_PURPOSE, MNEMONIC)
    s = signer_module.load_signer(_settings(chain_eth_hot_key=hot, chain_eth_deposit_seed=seed), 1)
    assert s.hot_address == FIRST[0] and s.can_sweep
    assert signer_module.load_signer(_settings(), 1) is None  # no key: a watch-only process
    for value, variable in ((KEY, "CHAIN_ETH_HOT_KEY"),  # plaintext is refused
                            (encrypt("another data key, also long enough!!", "evm-hot-key", KEY), "CHAIN_ETH_HOT_KEY"),
                            (encrypt(MASTER, signer_module.DEPOSIT_SEED_PURPOSE, KEY), "CHAIN_ETH_HOT_KEY")):
        with pytest.raises(ConfigError, match=variable) as exc:
            signer_module.load_signer(_settings(chain_eth_hot_key=value), 1)
        assert "ac0974" not in str(exc.value)
    with pytest.raises(ConfigError, match="BIP-39"):
        signer_module.encrypt_secret(MASTER, "deposit-seed", "not twelve valid words")
    with pytest.raises(ConfigError, match="32 bytes"):
        signer_module.encrypt_secret(MASTER, "hot-key", "0x1234")


def test_generated_keys_decrypt_to_a_working_signer():
    keys = signer_module.generate_keys(MASTER)
    s = signer_module.load_signer(_settings(chain_eth_hot_key=keys["CHAIN_ETH_HOT_KEY"],
                                            chain_eth_deposit_seed=keys["CHAIN_ETH_DEPOSIT_SEED"]), 1)
    assert s.hot_address == keys["hot_address"] and s.deposit_xpub() == keys["CHAIN_ETH_DEPOSIT_XPUB"]
    assert addresses.DepositAddresses(keys["CHAIN_ETH_DEPOSIT_XPUB"]).address(7) == s.deposit_address(7)


def test_no_module_but_the_wiring_imports_the_signer():
    root = Path(signer_module.__file__).resolve().parents[4]  # src/mycrypto/..
    offenders = []
    for path in root.rglob("*.py"):
        if path.name == "signer.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n == "signer" or n.endswith(".signer") for n in names):
                offenders.append(str(path.relative_to(root)))
    assert offenders == ["mycrypto/wallet/chain/evm/__init__.py"] * len(offenders) and offenders
