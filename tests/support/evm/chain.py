"""Driving a development node from tests: the outside world's wallets (the node's funded deterministic
accounts) sending ETH and tokens, mining, snapshots/reverts for reorganisations, blacklisting.

Independent from the adapter's own RPC code on purpose (plain httpx + eth-account), so the tests do
not check the adapter with itself.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from eth_abi import encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from tests.support.evm.node import DevNode

Account.enable_unaudited_hdwallet_features()
WEI = Decimal(10) ** 18


class RpcFailed(RuntimeError):
    pass


class DevChain:
    def __init__(self, node: DevNode) -> None:
        self.node = node
        self.url = node.url
        self.kind = node.kind
        self.chain_id = node.chain_id
        self.accounts = [Account.from_mnemonic(node.mnemonic, account_path=f"m/44'/60'/0'/0/{i}") for i in range(10)]
        self.client = httpx.Client(timeout=30)
        self.raw: dict[str, str] = {}  # hash -> signed bytes of what we sent (to send it again after a reorg)

    def rpc(self, method: str, *params: Any) -> Any:
        answer = self.client.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                  "params": list(params)}).json()
        if "error" in answer:
            raise RpcFailed(f"{method}: {answer['error'].get('message')}")
        return answer["result"]

    # ------------------------------------------------------------------ reading
    def head(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def block_hash(self, number: int) -> str | None:
        block = self.rpc("eth_getBlockByNumber", hex(number), False)
        return None if block is None else block["hash"]

    def balance(self, address: str) -> Decimal:
        return Decimal(int(self.rpc("eth_getBalance", address, "latest"), 16)) / WEI

    def token_balance(self, token: str, owner: str) -> int:
        data = "0x" + (function_signature_to_4byte_selector("balanceOf(address)") + encode(["address"], [owner])).hex()
        return int(self.rpc("eth_call", {"to": token, "data": data}, "latest"), 16)

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        return self.rpc("eth_getTransactionReceipt", tx_hash)

    # ------------------------------------------------------------------ writing (as outside wallets)
    def send(self, sender: Any, to: str | None, value: int = 0, data: str = "0x", gas: int | None = None,
             tip: int = 10**9) -> str:
        base = int(self.rpc("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
        nonce = int(self.rpc("eth_getTransactionCount", sender.address, "pending"), 16)
        tx = {"type": 2, "chainId": self.chain_id, "nonce": nonce, "value": value, "data": data,
              "maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}
        if to is not None:
            tx["to"] = to_checksum_address(to)
        if gas is None:
            estimate = {"from": sender.address, "value": hex(value), "data": data}
            if to is not None:
                estimate["to"] = tx["to"]
            gas = int(int(self.rpc("eth_estimateGas", estimate), 16) * 1.3)
        tx["gas"] = gas
        signed = sender.sign_transaction(tx)
        raw = "0x" + signed.raw_transaction.hex()
        tx_hash = self.rpc("eth_sendRawTransaction", raw)
        self.raw[tx_hash] = raw
        return tx_hash

    def resend(self, tx_hash: str) -> str:
        """The very same signed transaction again (as a node re-including it in a new branch would)."""
        return self.rpc("eth_sendRawTransaction", self.raw[tx_hash])

    def send_eth(self, to: str, eth: str | Decimal, sender: Any = None) -> str:
        return self.send(sender or self.accounts[1], to, int(Decimal(eth) * WEI), gas=21_000)

    def deploy_token(self, artifact: dict[str, Any], supply_units: int, sender: Any = None) -> str:
        sender = sender or self.accounts[0]
        data = artifact["bytecode"] + encode(["uint256"], [supply_units]).hex()
        tx_hash = self.send(sender, None, 0, data, gas=3_000_000)
        self.wait(tx_hash)
        return to_checksum_address(self.receipt(tx_hash)["contractAddress"])

    def call_token(self, token: str, signature: str, types: list[str], args: list[Any], sender: Any = None,
                   gas: int | None = None, tip: int = 10**9) -> str:
        data = "0x" + (function_signature_to_4byte_selector(signature) + encode(types, args)).hex()
        return self.send(sender or self.accounts[0], token, 0, data, gas=gas, tip=tip)

    def send_token(self, token: str, to: str, units: int, sender: Any = None) -> str:
        return self.call_token(token, "transfer(address,uint256)", ["address", "uint256"],
                               [to_checksum_address(to), units], sender)

    def blacklist(self, token: str, who: str) -> str:
        return self.call_token(token, "addBlackList(address)", ["address"], [to_checksum_address(who)])

    # ------------------------------------------------------------------ mining and reorganising
    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.rpc("evm_mine")

    def snapshot(self) -> str:
        return self.rpc("evm_snapshot")

    def revert(self, snapshot_id: str) -> None:
        if not self.rpc("evm_revert", snapshot_id):
            raise RpcFailed("evm_revert refused")

    def automine(self, on: bool) -> None:
        if self.kind == "ganache":
            self.rpc("miner_start" if on else "miner_stop")
        else:
            self.rpc("evm_setAutomine", on)

    def wait(self, tx_hash: str, blocks: int = 0) -> dict[str, Any]:
        receipt = self.receipt(tx_hash)
        if receipt is None:
            self.mine()
            receipt = self.receipt(tx_hash)
        if receipt is None:
            raise RpcFailed(f"{tx_hash} was not mined")
        self.mine(blocks)
        return receipt
