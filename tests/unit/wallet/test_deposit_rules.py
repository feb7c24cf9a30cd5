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
