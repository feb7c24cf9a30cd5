"""The few ERC-20 calls and the Transfer event, encoded and decoded with eth-abi (no hand-written ABI)."""
from __future__ import annotations

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak

TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
_TRANSFER = function_signature_to_4byte_selector("transfer(address,uint256)")
_BALANCE_OF = function_signature_to_4byte_selector("balanceOf(address)")
_DECIMALS = function_signature_to_4byte_selector("decimals()")


def transfer_data(to: str, units: int) -> str:
    return "0x" + (_TRANSFER + encode(["address", "uint256"], [to, units])).hex()


def balance_of_data(owner: str) -> str:
    return "0x" + (_BALANCE_OF + encode(["address"], [owner])).hex()


def decimals_data() -> str:
    return "0x" + _DECIMALS.hex()


def decode_uint(result: str) -> int:
    raw = bytes.fromhex(result[2:])
    if len(raw) != 32:
        raise ValueError("expected one 32-byte word")
    return decode(["uint256"], raw)[0]


def topic_address(topic: str) -> str:
    """An indexed address topic (32 bytes, left-padded) -> 0x + 40 hex (lower case)."""
    if len(topic) != 66 or int(topic[2:26], 16) != 0:
        raise ValueError("not an address topic")
    return "0x" + topic[26:]
