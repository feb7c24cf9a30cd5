"""Deposit rules: pending -> confirmed -> credited, and the posting that credits a deposit.

A deposit is recorded `pending` when the chain adapter first reports the transfer (even with zero
confirmations, so the user sees it coming), becomes `confirmed` once its confirmations reach the
asset's requirement, and `credited` when the posting chain_in -> user available commits. The
deposit is identified by (chain, txid, vout), so seeing the same transfer again changes nothing,
and the credit is a conditional status change taken with the row locked: exactly once.
Deposits do not require a verified email; withdrawals do.

Rounding rule: a chain may report more decimals than MyCrypto keeps for the asset (an Ethereum node
reports wei, 18 decimals; ETH has 8 here). A deposit is recorded and credited in whole units of the
asset, rounded DOWN (`credited_amount`, the payout rule of `common.money`): never more than arrived.
A transfer worth less than one unit credits nothing and is not recorded.
"""
from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, localcontext

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


def credited_amount(amount: Decimal, decimals: int) -> Decimal:
    """What a transfer of `amount` credits: rounded down to the asset's smallest unit (0 = dust)."""
    with localcontext() as ctx:
        ctx.prec = 60  # NUMERIC(38, 18) amounts fit; the default 28 digits might not
        return amount.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)


def credit_posting(deposit_id: int, asset: str, amount: Decimal, *, user_account: int,
                   chain_in_account: int) -> Posting:
    """chain_in (coins that came from outside) -> the user's available balance."""
    return Posting("deposit", "deposit", str(deposit_id), (
        Leg(user_account, asset, amount),
        Leg(chain_in_account, asset, -amount),
    ))
