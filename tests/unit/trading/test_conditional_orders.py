"""Conditional orders in the matcher, no database: stop-limit / stop-market / take-profit placement
(holds from placement, never on the book), triggering by the trade that crosses the stop right after
the command that made it (same batch, deterministic order), OCO cancellation with hold release, and a
property: the same commands always give the same outcomes, and holds always equal open orders' holds."""
from collections import deque
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mycrypto.common.markets import MarketSpec
from mycrypto.trading.domain.conditional import (ConditionalBook, direction_for, market_buy_cap,
                                                 validate_conditional, would_trigger)
from mycrypto.trading.domain.matching import BUY, SELL, OrderBook
from mycrypto.trading.domain.rules import OrderRuleError, validate_order
from mycrypto.trading.domain.settlement import Batch
from mycrypto.trading.domain.triggers import ABOVE, BELOW
from mycrypto.trading.engine import Amend, Cancel, CancelAll, Place
from mycrypto.trading.engine.commands import PlaceOco
from mycrypto.trading.engine.matcher import BatchMatcher
from mycrypto.trading.errors import UntriggeredNotAmendable, WouldTriggerImmediately
from mycrypto.trading.results import OrderResult
from mycrypto.wallet.errors import InsufficientFunds

SPEC = MarketSpec.build(id=1, symbol="BTC-USDT", base="BTC", quote="USDT", base_decimals=8, quote_decimals=8,
                        tick_size=D("0.01"), lot_size=D("0.00001"), min_qty=D("0.00001"), max_qty=D("9000"),
                        min_notional=D("0"), maker_fee=D("0.0008"), taker_fee=D("0.0010"))
FEE_ACC = 999
RICH = 10**20


def acc(user, asset):
    return user * 10 + (1 if asset == "base" else 2)


def limit(user, side, price, qty, **kw):
    intent = validate_order(SPEC, side=side, type="limit", price=D(price), quantity=D(qty), **kw)
    return Place(user, intent, base_acc=acc(user, "base"), quote_acc=acc(user, "quote"))


def cond(user, kind, side, stop, qty, price=None):
    intent, ci = validate_conditional(SPEC, kind=kind, side=side, stop_price=D(stop), quantity=D(qty),
                                      price=None if price is None else D(price))
    return Place(user, intent, base_acc=acc(user, "base"), quote_acc=acc(user, "quote"), cond=ci)


def oco(user, side, qty, price, stop, stop_limit=None):
    lim = limit(user, side, price, qty)
    stop_leg = cond(user, "stop_limit" if stop_limit else "stop_market", side, stop, qty, stop_limit)
    return PlaceOco(user, lim, stop_leg)


class Market:
    """The engine's state between batches: book, open orders, conditional book, ids, and the running
    total of holds per account (what the ledger's `locked` would be)."""

    def __init__(self):
        self.book, self.orders, self.ids = OrderBook(), {}, deque(range(1, 10_000))
        self.conds = ConditionalBook()
        self.locked: dict[int, int] = {}

    def run(self, cmds, *, avail=None, ms=1_000):
        avail = avail if avail is not None else {acc(u, a): RICH for u in range(1, 10) for a in ("base", "quote")}
        batch = Batch(SPEC, FEE_ACC, self.orders, avail)
        outcomes = BatchMatcher(SPEC, self.book, self.orders, self.ids, batch, ms, existing={}, defer_short=False,
                                conds=self.conds).run(cmds)
        for o in batch.new_orders:
            o.is_new = False   # as prepare.py does once the batch is encoded
        for a, units in batch.holds.items():
            self.locked[a] = self.locked.get(a, 0) + units
        for t, legs in zip(batch.trades, batch.legs):   # fills consume the buyer's and seller's holds
            self.locked[legs[0]] -= legs[4]
            self.locked[legs[2]] -= legs[5]
        return outcomes, batch

    def holds_match(self):
        expected: dict[int, int] = {}
        for o in [*self.orders.values(), *self.conds.orders.values()]:
            expected[o.hold_acc] = expected.get(o.hold_acc, 0) + o.hold_rem
        return {a: v for a, v in self.locked.items() if v} == {a: v for a, v in expected.items() if v}


def test_directions_follow_binance():
    assert direction_for("stop_limit", SELL) == BELOW and direction_for("stop_limit", BUY) == ABOVE
    assert direction_for("take_profit_limit", SELL) == ABOVE and direction_for("take_profit_market", BUY) == BELOW
    assert would_trigger(BELOW, 100, 100) and not would_trigger(BELOW, 100, 101) and not would_trigger(ABOVE, 5, None)
    assert market_buy_cap(10_000, 50_000) == 10_500 and market_buy_cap(3, 50_000) == 4   # rounded up


def test_validation_refuses_what_cannot_work():
    with pytest.raises(OrderRuleError) as e:
        validate_conditional(SPEC, kind="stop_limit", side="sell", stop_price=None, price=D("1"), quantity=D("1"))
    assert e.value.code == "missing_stop_price"
    with pytest.raises(OrderRuleError) as e:
        validate_conditional(SPEC, kind="stop_limit", side="sell", stop_price=D("1.001"), price=D("1"),
                             quantity=D("1"))
    assert e.value.code == "price_tick"
    with pytest.raises(OrderRuleError) as e:
        validate_conditional(SPEC, kind="stop_market", side="sell", stop_price=D("1"), price=D("1"), quantity=D("1"))
    assert e.value.code == "price_not_allowed"
    with pytest.raises(OrderRuleError) as e:
        validate_conditional(SPEC, kind="stop_limit", side="buy", stop_price=D("1"), price=D("1"), quantity=D("1"),
                             post_only=True)
    assert e.value.code == "invalid_post_only"


def test_a_stop_limit_holds_at_placement_stays_off_the_book_and_triggers_right_after_the_crossing_trade():
    m = Market()
    m.run([limit(1, "sell", "100", "1"), limit(2, "buy", "100", "1")])     # last price 100
    [stop], batch = m.run([cond(3, "stop_limit", "sell", "95", "2", price="94")])
    assert isinstance(stop, OrderResult) and stop.to_dict()["status"] == "untriggered"
    assert stop.to_dict()["type"] == "stop_limit" and stop.to_dict()["stop_price"] == "95"
    assert batch.holds == {acc(3, "base"): 2 * 10**8} and stop.hold_remaining == D("2")
    assert m.book.snapshot() == [] and stop.order_id in m.conds.orders
    # a bid at 94 rests; a trade at 96 does not cross; then a trade at 95 does, and the stop (limit 94)
    # runs at once in the same batch, before the next command: it fills against the 94 bid
    outcomes, batch = m.run([limit(4, "buy", "94", "1"),
                             limit(5, "sell", "96", "0.1"), limit(6, "buy", "96", "0.1"),
                             limit(5, "sell", "95", "0.1"), limit(6, "buy", "95", "0.1"),
                             limit(7, "buy", "93", "5")])
    prices = [t[4] for t in batch.trades]
    assert prices == [9600, 9500, 9400]            # the stop's fill comes right after the crossing trade
    stop_trade = batch.trades[2]
    assert stop_trade[1] == stop.order_id and stop_trade[2] == outcomes[0].order_id
    assert stop.order_id not in m.conds.orders
    state = m.orders[stop.order_id]                 # 1 of 2 filled, the rest rests as an ask at 94
    assert state.filled == 100_000 and state.cond.triggered_ms == 1_000 and state.cond.trigger_trade_id == batch.trades[1][0]
    assert any(row[1] == stop.order_id for row in m.book.snapshot())
    assert m.holds_match()


def test_refused_when_already_triggered_and_not_amendable():
    m = Market()
    m.run([limit(1, "sell", "100", "1"), limit(2, "buy", "100", "1")])
    [out], _ = m.run([cond(3, "stop_limit", "sell", "100", "1", price="99")])
    assert isinstance(out, WouldTriggerImmediately)
    [out], _ = m.run([cond(3, "take_profit_limit", "sell", "101", "1", price="101")])
    [amend], _ = m.run([Amend(3, out.order_id, 50_000)])
    assert isinstance(amend, UntriggeredNotAmendable)


def test_insufficient_funds_are_refused_at_placement():
    m = Market()
    [out], _ = m.run([cond(3, "stop_limit", "sell", "95", "2", price="94")], avail={acc(3, "base"): 10**8})
    assert isinstance(out, InsufficientFunds)


def test_a_stop_market_buy_holds_at_its_cap_and_executes_as_ioc_up_to_it():
    m = Market()
    m.run([limit(1, "sell", "100", "1"), limit(2, "buy", "100", "1")])
    [stop], batch = m.run([cond(3, "stop_market", "buy", "110", "1")])
    cap_cost = 11_550 * 100_000 * SPEC.quote_per_ticklot       # 110 * 1.05 = 115.50
    assert batch.holds[acc(3, "quote")] == cap_cost + -(-cap_cost * SPEC.hold_ppm // 1_000_000)
    # asks at 112 (0.5) and 120 (5); a trade at 110 fires the stop: it buys 0.5 at 112 and the rest expires
    outcomes, batch = m.run([limit(1, "sell", "112", "0.5"), limit(1, "sell", "120", "5"),
                             limit(4, "sell", "110", "0.1"), limit(5, "buy", "110", "0.1")])
    state_trades = [t for t in batch.trades if t[1] == stop.order_id]
    assert [(t[4], t[5]) for t in state_trades] == [(11_200, 50_000)]
    assert stop.order_id not in m.orders and stop.order_id not in m.conds.orders
    assert m.holds_match()


def test_cancel_releases_the_hold_and_cancel_all_includes_untriggered_orders():
    m = Market()
    [a, b], batch = m.run([cond(3, "stop_limit", "sell", "95", "1", price="94"),
                           cond(3, "take_profit_market", "sell", "120", "1")])
    [c], batch = m.run([Cancel(3, a.order_id)])
    assert c.status == "canceled" and c.hold_remaining == 0 and batch.holds == {acc(3, "base"): -10**8}
    [all_], batch = m.run([CancelAll(3)])
    assert [o.order_id for o in all_] == [b.order_id] and not m.conds.orders
    assert m.holds_match()


def test_oco_limit_fill_cancels_the_stop_and_releases_its_hold():
    m = Market()
    m.run([limit(1, "sell", "100", "1"), limit(2, "buy", "100", "1")])
    [pair], batch = m.run([oco(3, "sell", "1", "110", "90", stop_limit="89")])
    stop, lim = pair
    assert stop.to_dict()["status"] == "untriggered" and lim.status == "new"
    assert stop.oco_order_id == lim.order_id and lim.oco_order_id == stop.order_id
    assert batch.holds == {acc(3, "base"): 2 * 10**8}         # each leg holds its own quantity
    [buy], batch = m.run([limit(4, "buy", "110", "0.3")])     # partly fills the limit leg
    assert stop.order_id not in m.conds.orders
    cancelled = next(o for o in batch.new_orders + list(batch.touched.values()) if o.id == stop.order_id)
    assert cancelled.status == "canceled" and cancelled.reason == "oco" and cancelled.hold_rem == 0
    assert m.holds_match()


def test_oco_stop_trigger_cancels_the_limit_leg():
    m = Market()
    m.run([limit(1, "sell", "100", "1"), limit(2, "buy", "100", "1")])
    [pair], _ = m.run([oco(3, "sell", "1", "110", "90")])
    stop, lim = pair
    _, batch = m.run([limit(4, "buy", "85", "3"), limit(5, "sell", "90", "0.1"), limit(6, "buy", "90", "0.1")])
    assert lim.order_id not in m.orders and m.orders.get(stop.order_id) is None   # limit cancelled, stop sold
    stop_fills = [t for t in batch.trades if t[1] == stop.order_id]
    assert sum(t[5] for t in stop_fills) == 100_000 and stop_fills[0][4] == 8_500
    touched = {o.id: o for o in batch.touched.values()}
    assert touched[lim.order_id].status == "canceled" and touched[lim.order_id].reason == "oco"
    assert m.holds_match()


def test_oco_refused_as_a_whole_when_funds_cover_only_one_leg():
    m = Market()
    [out], batch = m.run([oco(3, "sell", "1", "110", "90")], avail={acc(3, "base"): 10**8})
    assert isinstance(out, InsufficientFunds) and batch.empty and not m.conds.orders


_user = st.integers(1, 4)
_px = st.integers(90, 110)
_qty = st.integers(1, 5)


@st.composite
def _command(draw):
    kind = draw(st.sampled_from(["limit", "limit", "limit", "stop_limit", "stop_market", "take_profit_limit",
                                 "oco", "cancel"]))
    user, side, px, qty = draw(_user), draw(st.sampled_from(["buy", "sell"])), draw(_px), draw(_qty)
    return (kind, user, side, px, qty, draw(_px), draw(st.integers(1, 60)))


def _build(spec_cmd):
    kind, user, side, px, qty, px2, oid = spec_cmd
    q = str(D(qty) / 10)
    if kind == "limit":
        return limit(user, side, str(px), q)
    if kind == "cancel":
        return Cancel(user, oid)
    if kind == "oco":
        hi, lo = max(px, px2), min(px, px2)
        if hi == lo:
            hi += 1
        return oco(user, side, q, str(hi if side == "sell" else lo), str(lo if side == "sell" else hi))
    return cond(user, kind, side, str(px), q, price=str(px2) if kind.endswith("limit") else None)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_command(), min_size=1, max_size=6), min_size=1, max_size=8))
def test_same_commands_same_outcomes_and_holds_always_match_open_orders(batches):
    def play():
        m = Market()
        log = []
        for i, b in enumerate(batches):
            outcomes, batch = m.run([_build(c) for c in b], ms=1_000 + i)
            log.append(([o.to_dict() if isinstance(o, OrderResult) else
                         [x.to_dict() for x in o] if isinstance(o, list) else type(o).__name__ for o in outcomes],
                        batch.trades))
            assert m.holds_match()
        return log, m.book.snapshot(), sorted(m.conds.orders)

    assert play() == play()
