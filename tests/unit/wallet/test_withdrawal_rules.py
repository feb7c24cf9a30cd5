"""Withdrawal validation, the state machine and the ledger effect of each step (pure rules)."""
from decimal import Decimal as D

import pytest

from mycrypto.wallet.domain import withdrawals as w
from mycrypto.wallet.domain.assets import AssetRules
from mycrypto.wallet.domain.errors import RuleViolation
from mycrypto.wallet.domain.ledger import LOCKED, net_changes

BTC = AssetRules(code="BTC", name="Bitcoin", decimals=8, chain="bitcoin", confirmations_required=2,
                 address_pattern=r"^((bc1|tb1|bcrt1)[02-9ac-hj-np-z]{11,71}|[13mn2][1-9A-HJ-NP-Za-km-z]{25,34})$",
                 min_withdrawal=D("0.0001"), withdrawal_fee=D("0.00002"), daily_withdrawal_limit=D("5"),
                 withdrawal_auto_approve_max=D("0.5"))
ADDR = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def refused(code, *args):
    with pytest.raises(RuleViolation) as exc:
        w.plan_withdrawal(*args)
    assert exc.value.code == code
    return exc.value


def test_a_valid_request_holds_amount_plus_fee():
    plan = w.plan_withdrawal(BTC, ADDR, D("0.3"), D("0"))
    assert plan.fee == D("0.00002") and plan.hold == D("0.30002")
    assert plan.auto_approve and plan.initial_status == w.APPROVED


@pytest.mark.parametrize("amount, auto", [(D("0.5"), True), (D("0.50000001"), False), (D("2"), False)])
def test_auto_approval_up_to_the_threshold_inclusive(amount, auto):
    plan = w.plan_withdrawal(BTC, ADDR, amount, D("0"))
    assert plan.auto_approve is auto
    assert plan.initial_status == (w.APPROVED if auto else w.REQUESTED)


@pytest.mark.parametrize("address", ["", " " + ADDR, ADDR + " ", "0x" + "a" * 40, "bc1", "bc1qb" + "I" * 20,
                                     ADDR.upper(), "x" * 200, "bc1q\n" + "a" * 20])
def test_malformed_addresses_are_refused(address):
    refused("invalid_address", BTC, address, D("0.1"), D("0"))


def test_below_minimum_is_refused_and_the_minimum_itself_is_allowed():
    refused("amount_below_minimum", BTC, ADDR, D("0.00009999"), D("0"))
    assert w.plan_withdrawal(BTC, ADDR, D("0.0001"), D("0")).amount == D("0.0001")


def test_daily_limit_counts_what_was_already_withdrawn():
    assert w.plan_withdrawal(BTC, ADDR, D("1"), D("4")).amount == D("1")  # exactly up to the limit
    err = refused("daily_limit_exceeded", BTC, ADDR, D("1.00000001"), D("4"))
    assert err.details["remaining"] == D("1")
    err = refused("daily_limit_exceeded", BTC, ADDR, D("0.1"), D("6"))  # never a negative "remaining"
    assert err.details["remaining"] == D("0")


def test_disabled_asset_is_refused_first():
    from dataclasses import replace

    refused("withdrawals_disabled", replace(BTC, withdraw_enabled=False), "nonsense", D("0.1"), D("0"))


ALL = w.STATUSES


@pytest.mark.parametrize("current", ALL)
@pytest.mark.parametrize("target", ALL)
def test_transition_table(current, target):
    allowed = {
        (w.REQUESTED, w.APPROVED), (w.REQUESTED, w.REJECTED), (w.REQUESTED, w.CANCELLED),
        (w.APPROVED, w.BROADCAST), (w.APPROVED, w.REJECTED), (w.APPROVED, w.CANCELLED), (w.APPROVED, w.FAILED),
        (w.BROADCAST, w.CONFIRMED), (w.BROADCAST, w.FAILED),  # failed: mined but reverted (posting reversed)
    }
    assert w.can_transition(current, target) is ((current, target) in allowed)
    if (current, target) not in allowed:
        with pytest.raises(RuleViolation) as exc:
            w.check_transition(current, target)
        assert exc.value.code == "invalid_withdrawal_state"


def test_releasing_states_are_reachable_only_from_holding_states():
    for target in w.RELEASING:
        sources = {s for s in ALL if w.can_transition(s, target)}
        # broadcast -> failed gives the money back by reversing the posting, not by releasing a hold
        assert sources <= w.HOLDING | ({w.BROADCAST} if target == w.FAILED else set()), target
    # and nothing leaves a final state, so a hold can be released at most once
    for final in w.FINAL:
        assert not any(w.can_transition(final, t) for t in ALL)


def test_a_user_can_cancel_only_before_broadcast():
    assert {s for s in ALL if w.can_transition(s, w.CANCELLED)} == {w.REQUESTED, w.APPROVED}


def test_hold_and_release_cancel_out():
    changes = net_changes(holds=[w.hold(7, D("1"), D("0.1")), w.release(7, D("1"), D("0.1"))])
    assert changes.deltas[7].available == 0 and changes.deltas[7].locked == 0


def test_reversal_posting_undoes_the_broadcast_posting():
    sent = w.broadcast_posting(42, "ETH", D("1"), D("0.0005"), user_account=1, chain_out_account=2, fees_account=3)
    back = w.reversal_posting(42, "ETH", D("1"), D("0.0005"), user_account=1, chain_out_account=2, fees_account=3)
    total = net_changes([sent, back])
    assert total.deltas[1].available == D("1.0005") and total.deltas[1].locked == D("-1.0005")
    assert total.deltas[2].available == 0 and total.deltas[3].available == 0
    assert back.kind == "withdrawal" and back.ref_type == "withdrawal_reversal"


def test_broadcast_posting_moves_locked_funds_to_chain_out_and_fees():
    p = w.broadcast_posting(42, "BTC", D("1"), D("0.00002"), user_account=1, chain_out_account=2, fees_account=3)
    assert p.kind == "withdrawal" and p.ref_type == "withdrawal" and p.ref_id == "42"
    assert {(leg.account_id, leg.amount, leg.bucket) for leg in p.legs} == {
        (1, D("-1.00002"), LOCKED), (2, D("1"), "available"), (3, D("0.00002"), "available")}
    assert sum(leg.amount for leg in p.legs) == 0


def test_broadcast_posting_without_fee_has_no_zero_leg():
    p = w.broadcast_posting(1, "BTC", D("1"), D("0"), user_account=1, chain_out_account=2, fees_account=3)
    assert len(p.legs) == 2 and all(leg.amount != 0 for leg in p.legs)
