"""The only place that holds EVM private keys: the hot wallet's key and the deposit addresses' seed.

Both arrive as ciphertexts (AES-256-GCM under DATA_ENCRYPTION_KEY, `common.crypto`, made by
`mycrypto chain encrypt-secret`), so they are encrypted at rest in the environment, the secret store
and any `.env`; they are decrypted here, in memory, at start-up. Nothing here logs or prints a key,
`repr()` shows only addresses, and errors never carry key material.

Only `evm/__init__.py` (the wiring) imports this module; everything else receives a `Signer` and can
do exactly two things with it: read public addresses and get a transaction signed (eth-account:
EIP-1559 typed transactions, RLP and secp256k1 done by the library). A test checks that no other
module imports it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bip_utils import Bip32Secp256k1, Bip39MnemonicValidator, Bip39SeedGenerator
from eth_account import Account

from ....common.crypto import decrypt, encrypt
from ....config import ConfigError
from .addresses import ACCOUNT_DEPTH, EXTERNAL_CHAIN, address_of_public_key

HOT_KEY_PURPOSE = "evm-hot-key"
DEPOSIT_SEED_PURPOSE = "evm-deposit-seed"
PURPOSES = {"hot-key": HOT_KEY_PURPOSE, "deposit-seed": DEPOSIT_SEED_PURPOSE}
ACCOUNT_PATH = "m/44'/60'/0'"


@dataclass(frozen=True, slots=True)
class SignedTx:
    raw: str   # 0x-hex of the signed transaction (public once sent)
    hash: str  # 0x-hex transaction hash


class Signer:
    """Signs for the hot wallet (`from_index=None`) and for deposit address `from_index` (sweeps)."""

    def __init__(self, chain_id: int, hot_key: bytes, deposit_seed: bytes | None) -> None:
        self.chain_id = chain_id
        self._hot = Account.from_key(hot_key)
        self.hot_address: str = self._hot.address
        self._account = None
        if deposit_seed is not None:
            self._account = Bip32Secp256k1.FromSeed(deposit_seed).DerivePath(ACCOUNT_PATH)
            assert self._account.Depth().ToInt() == ACCOUNT_DEPTH

    def __repr__(self) -> str:
        return f"Signer(chain_id={self.chain_id}, hot={self.hot_address}, sweeps={self.can_sweep})"

    @property
    def can_sweep(self) -> bool:
        return self._account is not None

    def deposit_xpub(self) -> str | None:
        """The account-level extended public key matching the seed (public material)."""
        return None if self._account is None else self._account.PublicKey().ToExtended()

    def deposit_address(self, index: int) -> str:
        key = self._deposit_key(index)
        return address_of_public_key(key.PublicKey().KeyObject().RawUncompressed().ToBytes())

    def sign(self, tx: dict[str, Any], from_index: int | None = None) -> SignedTx:
        """Sign an EIP-1559 transaction dict for this chain (chainId is forced to ours)."""
        tx = {**tx, "chainId": self.chain_id, "type": 2}
        if from_index is None:
            signed = self._hot.sign_transaction(tx)
        else:
            key = self._deposit_key(from_index)
            signed = Account.sign_transaction(tx, key.PrivateKey().Raw().ToBytes())
        return SignedTx("0x" + signed.raw_transaction.hex(), "0x" + signed.hash.hex())

    def _deposit_key(self, index: int) -> Any:
        if self._account is None:
            raise PermissionError("no deposit seed configured (CHAIN_ETH_DEPOSIT_SEED): cannot sweep")
        return self._account.ChildKey(EXTERNAL_CHAIN).ChildKey(index)


def encrypt_secret(master_key: Any, kind: str, plaintext: str) -> str:
    """`mycrypto chain encrypt-secret`: the ciphertext to put in CHAIN_ETH_HOT_KEY / CHAIN_ETH_DEPOSIT_SEED."""
    plaintext = plaintext.strip()
    if kind == "hot-key":
        _hot_key_bytes(plaintext)
    elif kind == "deposit-seed":
        _seed_bytes(plaintext)
    else:
        raise ConfigError(f"unknown secret kind {kind!r} (hot-key or deposit-seed)")
    return encrypt(master_key, PURPOSES[kind], plaintext)


def reencrypt_secret(master_key: Any, kind: str, token: str) -> str:
    """`mycrypto chain reencrypt-secret`: the same secret as a ciphertext under the active data key."""
    if kind not in PURPOSES:
        raise ConfigError(f"unknown secret kind {kind!r} (hot-key or deposit-seed)")
    variable = "CHAIN_ETH_HOT_KEY" if kind == "hot-key" else "CHAIN_ETH_DEPOSIT_SEED"
    return encrypt(master_key, PURPOSES[kind], _decrypt(master_key, PURPOSES[kind], token, variable))


def generate_keys(master_key: Any, words: int = 24) -> dict[str, str]:
    """Fresh keys for `mycrypto chain new-keys`: ciphertexts for the settings, public parts to show."""
    from bip_utils import Bip39MnemonicGenerator, Bip39WordsNum

    hot = Account.create()
    mnemonic = str(Bip39MnemonicGenerator().FromWordsNumber(Bip39WordsNum(words)))
    signer = Signer(1, bytes(hot.key), _seed_bytes(mnemonic))
    return {"CHAIN_ETH_HOT_KEY": encrypt(master_key, HOT_KEY_PURPOSE, "0x" + bytes(hot.key).hex()),
            "CHAIN_ETH_DEPOSIT_SEED": encrypt(master_key, DEPOSIT_SEED_PURPOSE, mnemonic),
            "CHAIN_ETH_DEPOSIT_XPUB": signer.deposit_xpub() or "", "hot_address": signer.hot_address}


def load_signer(settings: Any, chain_id: int) -> Signer | None:
    """The signer from the encrypted settings; None when no hot key is set (a watch-only process)."""
    hot = settings.chain_eth_hot_key.get_secret_value().strip()
    if not hot:
        return None
    master = settings.data_keys
    hot_key = _hot_key_bytes(_decrypt(master, HOT_KEY_PURPOSE, hot, "CHAIN_ETH_HOT_KEY"))
    seed_text = settings.chain_eth_deposit_seed.get_secret_value().strip()
    seed = None
    if seed_text:
        seed = _seed_bytes(_decrypt(master, DEPOSIT_SEED_PURPOSE, seed_text, "CHAIN_ETH_DEPOSIT_SEED"))
    return Signer(chain_id, hot_key, seed)


def _decrypt(master: Any, purpose: str, token: str, variable: str) -> str:
    try:
        return decrypt(master, purpose, token)
    except Exception:  # never echo the value: it is (or may be) a secret
        raise ConfigError(f"{variable} is not a ciphertext of `mycrypto chain encrypt-secret` under these "
                          "DATA_ENCRYPTION_KEYS") from None


def _hot_key_bytes(text: str) -> bytes:
    hexpart = text[2:] if text.lower().startswith("0x") else text
    try:
        key = bytes.fromhex(hexpart)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ConfigError("the hot-wallet key must be 32 bytes of hex (64 hex digits)")
    return key


def _seed_bytes(mnemonic: str) -> bytes:
    words = " ".join(mnemonic.split())
    if not Bip39MnemonicValidator().IsValid(words):
        raise ConfigError("the deposit seed must be a valid BIP-39 mnemonic")
    return Bip39SeedGenerator(words).Generate()
