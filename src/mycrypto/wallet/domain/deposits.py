"""Deposit rules: pending -> confirmed -> credited, and the posting that credits a deposit.

A deposit is recorded `pending` when the chain adapter first reports the transfer (even with zero
confirmations, so the user sees it coming), becomes `confirmed` once its confirmations reach the
asset's requirement, and `credited` when the posting chain_in -> user available commits. The
deposit is identified by (chain, txid, vout), so seeing the same transfer again changes nothing,
and the credit is a conditional status change taken with the row locked: exactly once.
Deposits do not require a verified email; withdrawals do.
"""
from __future__ import annotations

from decimal import Decimal

from .ledger import Leg, Posting

PENDING, CONFIRMED, CREDITED = "pending", "confirmed", "credited"
STATUSES = (PENDING, CONFIRMED, CREDITED)


def status_after(current: str, confirmations: int, required: int) -> str:
    """The status a deposit should have with `confirmations`; never moves backwards."""
    if current == CREDITED:
        return CREDITED
    if current == CONFIRMED or confirmations >= required:
        return CONFIRMED
    return PENDING


def credit_posting(deposit_id: int, asset: str, amount: Decimal, *, user_account: int,
                   chain_in_account: int) -> Posting:
    """chain_in (coins that came from outside) -> the user's available balance."""
    return Posting("deposit", "deposit", str(deposit_id), (
        Leg(user_account, asset, amount),
        Leg(chain_in_account, asset, -amount),
    ))
