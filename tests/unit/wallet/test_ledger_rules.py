"""The ledger's pure rules: postings balance per asset; holds never change an account's total."""
from decimal import Decimal as D

import pytest
from hypothesis import given, strategies as st

from mycrypto.wallet.domain.ledger import LOCKED, Hold, Leg, Posting, UnbalancedPosting, net_changes

amounts = st.decimals(min_value=D("0.00000001"), max_value=D("1000000"), places=8)


@given(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 6), amounts), min_size=1, max_size=20),
       st.lists(st.tuples(st.integers(1, 6), amounts), max_size=10))
def test_net_changes_of_balanced_postings_sum_to_zero_and_holds_keep_totals(moves, holds):
    postings = [Posting("adjustment", "t", str(i), (Leg(a, "BTC", -x), Leg(b, "BTC", x, LOCKED if a == b else "available")))
                for i, (a, b, x) in enumerate(moves)]
    with_holds = net_changes(postings, [Hold(acc, x) for acc, x in holds])
    without = net_changes(postings)
    assert sum(d.available + d.locked for d in with_holds.deltas.values()) == 0
    for acc, d in with_holds.deltas.items():
        base = without.deltas.get(acc)
        total = (base.available + base.locked) if base else 0
        assert d.available + d.locked == total  # a hold only moves value between buckets


@pytest.mark.parametrize("legs", [
    (Leg(1, "BTC", D("1")), Leg(2, "BTC", D("-0.99999999"))),
    (Leg(1, "BTC", D("1")), Leg(2, "ETH", D("-1"))),
    (Leg(1, "BTC", D("1")),),
    (Leg(1, "BTC", D("0")), Leg(2, "BTC", D("0"))),
    (Leg(1, "BTC", D("NaN")), Leg(2, "BTC", D("1"))),
    (Leg(1, "BTC", D("1"), "frozen"), Leg(2, "BTC", D("-1"))),
])
def test_unbalanced_or_malformed_postings_are_refused(legs):
    with pytest.raises(UnbalancedPosting):
        Posting("adjustment", "t", "1", legs)


def test_unknown_kind_is_refused():
    with pytest.raises(UnbalancedPosting):
        Posting("gift", "t", "1", (Leg(1, "BTC", D("1")), Leg(2, "BTC", D("-1"))))
