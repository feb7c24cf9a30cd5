"""EVM e2e fixtures: the real ganache node of the session (tests/support/evm)."""
from tests.support.evm.fixtures import *  # noqa: F403 - evm_chain, hardhat_chain
