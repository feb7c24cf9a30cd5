"""Deposit states and the credit posting (pure rules)."""
from decimal import Decimal as D

from hypothesis import given, strategies as st

from mycrypto.wallet.domain import deposits as d


def test_pending_until_the_required_confirmations():
    assert d.status_after(d.PENDING, 0, 2) == d.PENDING
    assert d.status_after(d.PENDING, 1, 2) == d.PENDING
    assert d.status_after(d.PENDING, 2, 2) == d.CONFIRMED
    assert d.status_after(d.PENDING, 7, 2) == d.CONFIRMED


@given(st.sampled_from(d.STATUSES), st.integers(0, 100), st.integers(1, 50))
def test_status_never_moves_backwards(current, confirmations, required):
    order = {d.PENDING: 0, d.CONFIRMED: 1, d.CREDITED: 2}
    assert order[d.status_after(current, confirmations, required)] >= order[current]


def test_credit_posting_takes_from_chain_in_and_balances():
    p = d.credit_posting(9, "ETH", D("1.5"), user_account=10, chain_in_account=3)
    assert (p.kind, p.ref_type, p.ref_id) == ("deposit", "deposit", "9")
    assert {(leg.account_id, leg.amount, leg.bucket) for leg in p.legs} == {
        (10, D("1.5"), "available"), (3, D("-1.5"), "available")}


def test_credited_amount_rounds_down_to_the_assets_unit():
    assert d.credited_amount(D("1.234567891234567891"), 8) == D("1.23456789")   # wei reported, 8 kept
    assert d.credited_amount(D("0.999999999999999999"), 8) == D("0.99999999")   # never rounded up
    assert d.credited_amount(D("0.000000009"), 8) == 0                           # dust: not a deposit
    assert d.credited_amount(D("2.5"), 8) == D("2.5")                             # exact amounts unchanged
    assert d.credited_amount(D("12345678901234567890.123456789012345678"), 8) == (
        D("12345678901234567890.12345678"))                                      # NUMERIC(38, 18) fits


@given(st.decimals(min_value=0, max_value=10**9, places=18, allow_nan=False), st.integers(0, 18))
def test_credited_amount_is_never_more_than_arrived_and_loses_less_than_one_unit(amount, decimals):
    credited = d.credited_amount(amount, decimals)
    assert 0 <= amount - credited < D(1).scaleb(-decimals)
