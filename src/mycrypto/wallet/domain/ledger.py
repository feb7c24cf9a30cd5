"""Double-entry ledger rules, pure: postings whose legs sum to zero per asset, and holds.

Every balance change is either
- a `Posting`: legs that move value between accounts (user, fees, chain_in, chain_out) and sum to
  zero per asset; each leg names the bucket (`available` or `locked`) of the account it changes; or
- a `Hold`: value moving between one account's `available` and `locked` (placing an order,
  requesting a withdrawal); the account's total does not change, so it is not a posting.

Invariants (checked by `mycrypto verify`): per account, available + locked == sum of its legs; per
asset, the sum over all accounts is zero; user balances are never negative; `locked` equals the
open orders' remaining holds plus pending withdrawals.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

AVAILABLE = "available"
LOCKED = "locked"
BUCKETS = (AVAILABLE, LOCKED)

POSTING_KINDS = ("deposit", "withdrawal", "trade", "faucet", "adjustment")

ZERO = Decimal(0)


class UnbalancedPosting(ValueError):
    """A posting whose legs do not sum to zero per asset (a programming error, never user input)."""


@dataclass(frozen=True, slots=True)
class Leg:
    account_id: int
    asset: str
    amount: Decimal  # signed: positive credits the account, negative debits it
    bucket: str = AVAILABLE


@dataclass(frozen=True, slots=True)
class Posting:
    kind: str
    ref_type: str
    ref_id: str
    legs: tuple[Leg, ...]
    memo: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in POSTING_KINDS:
            raise UnbalancedPosting(f"unknown posting kind {self.kind!r}")
        if len(self.legs) < 2:
            raise UnbalancedPosting("a posting needs at least two legs")
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for leg in self.legs:
            if leg.amount == 0:
                raise UnbalancedPosting("a leg of zero moves nothing; leave it out")
            if leg.bucket not in BUCKETS:
                raise UnbalancedPosting(f"unknown bucket {leg.bucket!r}")
            if not leg.amount.is_finite():
                raise UnbalancedPosting("leg amounts must be finite")
            totals[leg.asset] += leg.amount
        unbalanced = {a: t for a, t in totals.items() if t != 0}
        if unbalanced:
            raise UnbalancedPosting(f"legs do not balance: {unbalanced}")


@dataclass(frozen=True, slots=True)
class Hold:
    """Move `amount` from available to locked (positive) or back (negative) within one account."""

    account_id: int
    amount: Decimal


@dataclass
class BalanceDelta:
    available: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass
class Changes:
    """Net effect of postings and holds per account, applied in one statement in account-id order."""

    deltas: dict[int, BalanceDelta] = field(default_factory=dict)

    def add_leg(self, leg: Leg) -> None:
        d = self.deltas.setdefault(leg.account_id, BalanceDelta())
        if leg.bucket == AVAILABLE:
            d.available += leg.amount
        else:
            d.locked += leg.amount

    def add_hold(self, hold: Hold) -> None:
        d = self.deltas.setdefault(hold.account_id, BalanceDelta())
        d.available -= hold.amount
        d.locked += hold.amount


def net_changes(postings: Iterable[Posting] = (), holds: Iterable[Hold] = ()) -> Changes:
    changes = Changes()
    for posting in postings:
        for leg in posting.legs:
            changes.add_leg(leg)
    for hold in holds:
        if hold.amount != 0:
            changes.add_hold(hold)
    return changes
