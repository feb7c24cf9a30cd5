"""Withdrawal rules: validation of a request, the state machine, and the ledger effects of each step.

States (docs/wallet.md has the diagram):

    requested --approve--> approved --broadcast--> broadcast --mined--> confirmed
        |                     |
        +--reject/cancel------+--reject/cancel/fail--> rejected | cancelled | failed

- On request, amount + fee moves from the user's `available` to `locked` (a hold, not a posting).
- `broadcast` is the only step that moves money: one posting takes amount + fee from the user's
  locked bucket, gives `amount` to chain_out (coins that left) and `fee` to the fee account.
- rejected / failed / cancelled release the hold; each is reachable only from a holding state, and
  the service changes the status with the row locked, so a hold is released exactly once. A
  broadcast withdrawal whose transaction was mined but reverted becomes failed too: its posting is
  reversed (`reversal_posting`), once, by the chain adapter's custody step.
- A user may cancel only before broadcast; an admin approves requested ones above the asset's
  auto-approve threshold (at or under it they are approved on request).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .assets import AssetRules, check_address
from .errors import RuleViolation
from .ledger import LOCKED, Hold, Leg, Posting

REQUESTED, APPROVED, BROADCAST, CONFIRMED = "requested", "approved", "broadcast", "confirmed"
REJECTED, FAILED, CANCELLED = "rejected", "failed", "cancelled"
STATUSES = (REQUESTED, APPROVED, BROADCAST, CONFIRMED, REJECTED, FAILED, CANCELLED)

HOLDING = frozenset({REQUESTED, APPROVED})          # amount + fee is locked
RELEASING = frozenset({REJECTED, FAILED, CANCELLED})  # end states that give the hold back
POSTED = frozenset({BROADCAST, CONFIRMED})          # the ledger posting exists
FINAL = frozenset({CONFIRMED, REJECTED, FAILED, CANCELLED})
# Statuses that count toward the daily limit: everything except the ones that moved nothing.
COUNTS_TOWARD_LIMIT = frozenset(STATUSES) - RELEASING

TRANSITIONS: dict[str, frozenset[str]] = {
    REQUESTED: frozenset({APPROVED, REJECTED, CANCELLED}),
    APPROVED: frozenset({BROADCAST, REJECTED, CANCELLED, FAILED}),
    BROADCAST: frozenset({CONFIRMED, FAILED}),  # failed: mined but reverted (the posting is reversed)
    CONFIRMED: frozenset(),
    REJECTED: frozenset(),
    FAILED: frozenset(),
    CANCELLED: frozenset(),
}


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def check_transition(current: str, target: str) -> None:
    if not can_transition(current, target):
        verb = {CANCELLED: "cancel", APPROVED: "approve", REJECTED: "reject"}.get(target, f"move to {target}")
        raise RuleViolation("invalid_withdrawal_state",
                            f"Cannot {verb} a withdrawal that is {current}.",
                            details={"status": current, "target": target})


@dataclass(frozen=True, slots=True)
class WithdrawalPlan:
    asset: str
    address: str
    amount: Decimal
    fee: Decimal
    auto_approve: bool

    @property
    def hold(self) -> Decimal:
        return self.amount + self.fee

    @property
    def initial_status(self) -> str:
        return APPROVED if self.auto_approve else REQUESTED


def plan_withdrawal(asset: AssetRules, address: str, amount: Decimal,
                    withdrawn_last_24h: Decimal) -> WithdrawalPlan:
    """Validate a request against the asset's rules; the amount was already parsed exactly.

    `withdrawn_last_24h` is the sum of the user's withdrawals of this asset in the last 24 hours
    that were not rejected, failed or cancelled (the caller reads it with the user row locked).
    Whether the balance suffices is decided by the ledger when the hold is applied.
    """
    if not asset.withdraw_enabled:
        raise RuleViolation("withdrawals_disabled", f"{asset.code} withdrawals are suspended.",
                            details={"asset": asset.code})
    check_address(asset, address)
    if amount <= 0:
        raise RuleViolation("invalid_amount", "amount must be greater than zero.", details={"field": "amount"})
    if amount < asset.min_withdrawal:
        raise RuleViolation("amount_below_minimum",
                            f"The minimum {asset.code} withdrawal is {asset.min_withdrawal.normalize():f}.",
                            details={"asset": asset.code, "min_withdrawal": asset.min_withdrawal})
    remaining = asset.daily_withdrawal_limit - withdrawn_last_24h
    if amount > remaining:
        raise RuleViolation("daily_limit_exceeded",
                            f"This exceeds your 24-hour {asset.code} withdrawal limit.",
                            details={"asset": asset.code, "daily_limit": asset.daily_withdrawal_limit,
                                     "remaining": max(remaining, Decimal(0))})
    return WithdrawalPlan(asset=asset.code, address=address, amount=amount, fee=asset.withdrawal_fee,
                          auto_approve=amount <= asset.withdrawal_auto_approve_max)


def hold(account_id: int, amount: Decimal, fee: Decimal) -> Hold:
    """Lock amount + fee on request."""
    return Hold(account_id, amount + fee)


def release(account_id: int, amount: Decimal, fee: Decimal) -> Hold:
    """Give the hold back (rejected, failed, cancelled)."""
    return Hold(account_id, -(amount + fee))


def broadcast_posting(withdrawal_id: int, asset: str, amount: Decimal, fee: Decimal, *, user_account: int,
                      chain_out_account: int, fees_account: int) -> Posting:
    """The coins leave: the user's locked amount + fee goes to chain_out (amount) and fees (fee)."""
    legs = [Leg(user_account, asset, -(amount + fee), LOCKED), Leg(chain_out_account, asset, amount)]
    if fee > 0:  # a zero leg moves nothing and is refused by the ledger
        legs.append(Leg(fees_account, asset, fee))
    return Posting("withdrawal", "withdrawal", str(withdrawal_id), tuple(legs))


def reversal_posting(withdrawal_id: int, asset: str, amount: Decimal, fee: Decimal, *, user_account: int,
                     chain_out_account: int, fees_account: int) -> Posting:
    """A sent withdrawal reverted on chain: the coins never left, so amount + fee go back to the user."""
    legs = [Leg(user_account, asset, amount + fee), Leg(chain_out_account, asset, -amount)]
    if fee > 0:
        legs.append(Leg(fees_account, asset, -fee))
    return Posting("withdrawal", "withdrawal_reversal", str(withdrawal_id), tuple(legs))
