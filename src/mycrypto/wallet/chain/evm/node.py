"""Typed reads and writes on an EVM node: blocks, logs, receipts, balances, fees, sending.

Built on `rpc.RpcClient`; every field used later is parsed and checked here (`rpc.quantity`, ...), so
the rest of the adapter works with plain Python values. Addresses are lower case internally.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from . import erc20
from .rpc import Garbage, RpcClient, RpcError, address, data, mapping, quantity, tx_hash

DEFAULT_TIP = 10**9  # 1 gwei when the node does not suggest a priority fee


@dataclass(frozen=True, slots=True)
class Tx:
    hash: str
    sender: str
    to: str | None
    value: int


@dataclass(frozen=True, slots=True)
class Block:
    number: int
    hash: str
    parent_hash: str
    base_fee: int
    txs: tuple[Tx, ...] = ()


@dataclass(frozen=True, slots=True)
class Log:
    contract: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    sender: str
    to: str
    units: int


@dataclass(frozen=True, slots=True)
class Receipt:
    tx_hash: str
    block_number: int
    block_hash: str
    success: bool
    gas_used: int
    gas_price: int  # effective price per gas actually paid (wei)


def _block(raw: Any, full: bool) -> Block | None:
    if raw is None:
        return None
    b = mapping(raw, "block")
    txs: list[Tx] = []
    if full:
        items = b.get("transactions")
        if not isinstance(items, list):
            raise Garbage("bad block transactions")
        for t in items:
            t = mapping(t, "transaction")
            to = t.get("to")
            txs.append(Tx(tx_hash(t.get("hash")), address(t.get("from"), "from"),
                          None if to is None else address(to, "to"), quantity(t.get("value"), "value")))
    return Block(quantity(b.get("number"), "block number"), tx_hash(b.get("hash"), "block hash"),
                 tx_hash(b.get("parentHash"), "parent hash"), quantity(b.get("baseFeePerGas", "0x0"), "base fee"),
                 tuple(txs))


def _receipt(raw: Any) -> Receipt | None:
    if raw is None:
        return None
    r = mapping(raw, "receipt")
    if r.get("blockNumber") is None:  # some nodes return pending receipts: not mined yet
        return None
    return Receipt(tx_hash(r.get("transactionHash")), quantity(r.get("blockNumber"), "block number"),
                   tx_hash(r.get("blockHash"), "block hash"), quantity(r.get("status"), "status") == 1,
                   quantity(r.get("gasUsed"), "gas used"),
                   quantity(r.get("effectiveGasPrice", r.get("gasPrice")), "effective gas price"))


class Node:
    def __init__(self, rpc: RpcClient) -> None:
        self.rpc = rpc

    async def chain_id(self) -> int:
        return quantity(await self.rpc.call("eth_chainId"), "chain id")

    async def head(self) -> int:
        return quantity(await self.rpc.call("eth_blockNumber"), "block number")

    async def block(self, number: int | str, full: bool = False) -> Block | None:
        tag = number if isinstance(number, str) else hex(number)
        return _block(await self.rpc.call("eth_getBlockByNumber", tag, full), full)

    async def blocks(self, numbers: Sequence[int], full: bool = False) -> list[Block | None]:
        answers = await self.rpc.batch([("eth_getBlockByNumber", [hex(n), full]) for n in numbers])
        out = []
        for n, answer in zip(numbers, answers):
            if isinstance(answer, RpcError):
                raise answer
            block = _block(answer, full)
            if block is not None and block.number != n:
                raise Garbage(f"asked for block {n}, got {block.number}")
            out.append(block)
        return out

    async def transfer_logs(self, first: int, last: int, contracts: Sequence[str]) -> list[Log]:
        if not contracts:
            return []
        raw = await self.rpc.call("eth_getLogs", {"fromBlock": hex(first), "toBlock": hex(last),
                                                  "address": list(contracts), "topics": [erc20.TRANSFER_TOPIC]})
        if not isinstance(raw, list):
            raise Garbage("bad logs")
        out = []
        for item in raw:
            item = mapping(item, "log")
            if item.get("removed"):
                continue
            topics = item.get("topics")
            if not isinstance(topics, list) or len(topics) != 3 or str(topics[0]).lower() != erc20.TRANSFER_TOPIC:
                continue  # not an ERC-20 Transfer (ERC-721 has 4 topics)
            try:
                sender, to = erc20.topic_address(str(topics[1]).lower()), erc20.topic_address(str(topics[2]).lower())
                units = erc20.decode_uint(data(item.get("data")))
            except ValueError as exc:
                raise Garbage(f"bad Transfer log: {exc}") from None
            out.append(Log(address(item.get("address"), "log address"), quantity(item.get("blockNumber")),
                           tx_hash(item.get("blockHash")), tx_hash(item.get("transactionHash")),
                           quantity(item.get("logIndex"), "log index"), sender, to, units))
        return out

    async def receipts(self, hashes: Iterable[str]) -> dict[str, Receipt | None]:
        hashes = list(dict.fromkeys(hashes))
        answers = await self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        out: dict[str, Receipt | None] = {}
        for h, answer in zip(hashes, answers):
            if isinstance(answer, RpcError):
                raise answer
            out[h] = _receipt(answer)
        return out

    async def known(self, hashes: Iterable[str]) -> dict[str, bool]:
        """Whether the node has each transaction (in its pool or a block)."""
        hashes = list(dict.fromkeys(hashes))
        answers = await self.rpc.batch([("eth_getTransactionByHash", [h]) for h in hashes])
        return {h: a is not None and not isinstance(a, RpcError) for h, a in zip(hashes, answers)}

    async def balances(self, addresses: Sequence[str], block: int | str = "latest") -> list[int]:
        tag = block if isinstance(block, str) else hex(block)
        answers = await self.rpc.batch([("eth_getBalance", [a, tag]) for a in addresses])
        return [_ok(quantity, a, "balance") for a in answers]

    async def balance(self, who: str, block: int | str = "latest") -> int:
        return (await self.balances([who], block))[0]

    async def token_balances(self, contract: str, owners: Sequence[str], block: int | str = "latest") -> list[int]:
        tag = block if isinstance(block, str) else hex(block)
        answers = await self.rpc.batch([("eth_call", [{"to": contract, "data": erc20.balance_of_data(o)}, tag])
                                        for o in owners])
        return [_ok(_uint, a, "token balance") for a in answers]

    async def token_decimals(self, contract: str) -> int:
        return _uint(await self.rpc.call("eth_call", {"to": contract, "data": erc20.decimals_data()}, "latest"),
                     "decimals")

    async def nonce(self, who: str, tag: str = "latest") -> int:
        return quantity(await self.rpc.call("eth_getTransactionCount", who, tag), "nonce")

    async def has_code(self, who: str) -> bool:
        return data(await self.rpc.call("eth_getCode", who, "latest"), "code") != "0x"

    async def fees(self) -> tuple[int, int]:
        """(base fee of the latest block, suggested priority fee) in wei."""
        latest = await self.block("latest")
        if latest is None:
            raise Garbage("no latest block")
        try:
            tip = quantity(await self.rpc.call("eth_maxPriorityFeePerGas"), "priority fee")
        except RpcError:  # not every node implements it
            tip = DEFAULT_TIP
        return latest.base_fee, tip

    async def estimate_gas(self, tx: dict[str, Any]) -> int:
        """Raises RpcError when the call would revert."""
        return quantity(await self.rpc.call("eth_estimateGas", tx), "gas estimate")

    async def send_raw(self, raw: str) -> str:
        return tx_hash(await self.rpc.call("eth_sendRawTransaction", raw), "transaction hash")


def _uint(value: Any, what: str) -> int:
    try:
        return erc20.decode_uint(data(value, what))
    except ValueError:
        raise Garbage(f"bad {what}") from None


def _ok(parse: Any, answer: Any, what: str) -> int:
    if isinstance(answer, RpcError):
        raise answer
    return parse(answer, what)
