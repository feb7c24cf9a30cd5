"""The chain adapter interface: what a real node or custodian integration implements.

The wallet never talks to a blockchain directly; it calls one `ChainAdapter`, chosen at start-up
(`chain.build_adapter`). The built-in `SimulatorChain` implements it on PostgreSQL for development
and tests; a production integration (bitcoind + an Ethereum node, or a custodian's API) implements
the same five methods and is named by `CHAIN_ADAPTER=package.module:factory`.

Contract (each point is relied upon by the watcher and the withdrawal processor):
- `new_address` returns a fresh address the adapter will report incoming transfers for; it must
  match the asset's `address_pattern`.
- `incoming_transfers(chain, cursor)` lists transfers to the adapter's addresses that appeared after
  `cursor` (None = from the beginning), oldest first, with a cursor to continue from. A transfer may
  be reported again (the wallet is idempotent on chain, txid, vout); one must never be skipped.
  Amounts are exact in the chain's precision; the wallet rounds them down to the asset's decimals.
- `confirmations(chain, txids)` gives the current confirmation count of each txid (0 = in the
  mempool); a txid the chain does not know is left out of the result.
- `broadcast(...)` sends a withdrawal and returns its txid. It MUST be idempotent on `reference`:
  the wallet may call it again for the same withdrawal after a crash, and must get the same txid,
  never a second payment. `BroadcastRejected` means "will never succeed" (the withdrawal fails
  and its hold is released); any other exception is treated as transient and retried later.

Optional hooks (defaults do nothing; the EVM adapter, wallet/chain/evm, implements them):
- `cursor_name(chain)` names the watcher's stored cursor (one adapter may serve several chains).
- `check_withdrawal(...)` refuses what only the chain knows is wrong (a checksum, our own address,
  more decimals than the token has) with a `RuleViolation`, before anything is held.
- `maintain()` runs custody work once per background round (fee bumps, sweeps, network fees).
- `real_chain(chain)` says the coins are real (the dev faucet refuses to mint them).
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from decimal import Decimal


class ChainError(Exception):
    """The chain (node, custodian) could not do what was asked."""


class ChainUnavailable(ChainError):
    """Transient: try again later."""


class BroadcastRejected(ChainError):
    """Permanent: this withdrawal will never be sent (invalid address on chain, policy refusal...)."""


@dataclass(frozen=True, slots=True)
class Transfer:
    chain: str
    txid: str
    vout: int
    address: str
    asset: str
    amount: Decimal
    confirmations: int


@dataclass(frozen=True, slots=True)
class TransferPage:
    transfers: list[Transfer]
    cursor: str | None  # pass back to continue; None when nothing was read


class ChainAdapter(abc.ABC):
    """One integration with the outside world's chains."""

    name: str = "adapter"

    @abc.abstractmethod
    async def new_address(self, chain: str, asset: str) -> str:
        """A fresh deposit address on `chain` for `asset`."""

    @abc.abstractmethod
    async def incoming_transfers(self, chain: str, cursor: str | None, limit: int = 500) -> TransferPage:
        """Transfers to our addresses after `cursor`, oldest first."""

    @abc.abstractmethod
    async def confirmations(self, chain: str, txids: list[str]) -> dict[str, int]:
        """{txid: confirmations} for the txids the chain knows."""

    @abc.abstractmethod
    async def broadcast(self, chain: str, asset: str, address: str, amount: Decimal, reference: str) -> str:
        """Send `amount` of `asset` to `address`; idempotent on `reference`; returns the txid."""

    def cursor_name(self, chain: str) -> str:
        """The key of the watcher's cursor for `chain` (wallet.chain_cursor.adapter)."""
        return self.name

    def real_chain(self, chain: str) -> bool:
        """True when `chain` is a real network (its coins cannot be minted by a faucet)."""
        return False

    async def check_withdrawal(self, chain: str, asset: str, address: str, amount: Decimal) -> None:
        """Raise `wallet.domain.errors.RuleViolation` for a withdrawal the chain would refuse."""

    async def maintain(self) -> dict[str, object]:
        """Custody work once per background round; returns what it did (empty = nothing)."""
        return {}

    async def close(self) -> None:
        """Release connections; the default has none."""
