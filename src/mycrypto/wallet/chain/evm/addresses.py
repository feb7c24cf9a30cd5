"""Ethereum addresses: EIP-55 checksums and deposit addresses derived from public material only.

Deposit addresses follow BIP-44 (m/44'/60'/0'/0/i). The watcher needs only the account-level
extended public key (`CHAIN_ETH_DEPOSIT_XPUB`, m/44'/60'/0'): the external chain 0 and each index i
are non-hardened, so BIP-32 public derivation (bip_utils) gives every address without any private
key. The private keys (for sweeps) live in `signer.py`, which derives the same addresses from the seed.
"""
from __future__ import annotations

from functools import lru_cache

from bip_utils import Bip32KeyError, Bip32Secp256k1
from eth_utils import is_checksum_address, is_hex_address, keccak, to_checksum_address

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ACCOUNT_DEPTH = 3  # m/44'/60'/0'
EXTERNAL_CHAIN = 0


def checksum(address: str) -> str:
    """The EIP-55 form of a hex address; a mixed-case address must already carry a valid checksum."""
    if not isinstance(address, str) or not is_hex_address(address):
        raise ValueError(f"{address!r} is not a 0x-prefixed 40-hex-digit address")
    if address[2:] != address[2:].lower() and address[2:] != address[2:].upper() and not is_checksum_address(address):
        raise ValueError(f"{address!r} has a wrong EIP-55 checksum (a typo?)")
    return to_checksum_address(address)


def is_checksummed(address: str) -> bool:
    """Exactly the EIP-55 form (what we require of withdrawal addresses: a typo is caught)."""
    return isinstance(address, str) and is_hex_address(address) and is_checksum_address(address)


def address_of_public_key(uncompressed: bytes) -> str:
    """The address of a secp256k1 public key (65 bytes, 0x04 || X || Y): last 20 bytes of keccak(X || Y)."""
    if len(uncompressed) != 65 or uncompressed[0] != 4:
        raise ValueError("expected an uncompressed public key")
    return to_checksum_address(keccak(uncompressed[1:])[-20:])


class DepositAddresses:
    """index -> address, from the account-level xpub (public derivation, no secrets)."""

    def __init__(self, account_xpub: str) -> None:
        try:
            account = Bip32Secp256k1.FromExtendedKey(account_xpub)
        except Exception as exc:  # bip_utils raises several types for a malformed key
            raise ValueError(f"not an extended public key: {exc}") from None
        if not account.IsPublicOnly():
            raise ValueError("give the extended PUBLIC key (xpub...), never the private one")
        if account.Depth().ToInt() != ACCOUNT_DEPTH:
            raise ValueError(f"expected the account-level key m/44'/60'/0' (depth {ACCOUNT_DEPTH}), "
                             f"got depth {account.Depth().ToInt()}")
        self._chain = account.ChildKey(EXTERNAL_CHAIN)
        self.xpub = account_xpub

    @lru_cache(maxsize=100_000)  # noqa: B019 - one instance per process; derivation is ~0.2 ms
    def address(self, index: int) -> str:
        if not 0 <= index < 2**31:
            raise ValueError("address index out of range")
        try:
            key = self._chain.ChildKey(index)
        except Bip32KeyError as exc:  # astronomically rare invalid child: the caller skips the index
            raise ValueError(str(exc)) from None
        return address_of_public_key(key.PublicKey().KeyObject().RawUncompressed().ToBytes())
