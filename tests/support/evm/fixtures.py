"""pytest fixtures for the real EVM node; import them into a conftest (`from tests.support.evm.fixtures import *`)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.evm.chain import DevChain
from tests.support.evm.contracts import compile_test_usdt
from tests.support.evm.node import start_node

USDT_SUPPLY = 10**9 * 10**6  # one billion test USDT, held by the node's account 0


@dataclass
class EvmChain:
    chain: DevChain
    token: str


def _world(kind: str) -> Iterator[EvmChain]:
    node = start_node(kind)
    try:
        chain = DevChain(node)
        token = chain.deploy_token(compile_test_usdt(), USDT_SUPPLY)
        for account in chain.accounts[1:4]:  # outside users' wallets hold test USDT too
            chain.wait(chain.send_token(token, account.address, 10**6 * 10**6))
        yield EvmChain(chain, token)
    finally:
        node.stop()


@pytest.fixture(scope="session")
def evm_chain() -> Iterator[EvmChain]:
    """One ganache node per test session, with the test USDT deployed."""
    yield from _world("ganache")


@pytest.fixture(scope="session")
def hardhat_chain() -> Iterator[EvmChain]:
    """A hardhat node (for what ganache gets wrong: fee replacements), with the test USDT deployed."""
    yield from _world("hardhat")


__all__ = ["EvmChain", "evm_chain", "hardhat_chain"]
