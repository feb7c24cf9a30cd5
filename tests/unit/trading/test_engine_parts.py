"""The engine's jobs that need no database, tested on their own: matching a batch against the book
(engine/matcher.py: outcomes, duplicates, the deferral of a short placement, refusals) and the command
queue (engine/commands.py: order, bound, answers)."""
import asyncio
from collections import deque
from decimal import Decimal as D

import pytest

from mycrypto.common.markets import MarketSpec
from mycrypto.trading.domain.matching import SELL, OrderBook
from mycrypto.trading.domain.rules import validate_order
from mycrypto.trading.domain.settlement import Batch
from mycrypto.trading.engine import Amend, Cancel, CancelAll, Duplicate, Place
from mycrypto.trading.engine.commands import CommandQueue, answer, fail
from mycrypto.trading.engine.matcher import REQUEUE, BatchMatcher
from mycrypto.trading.errors import (EngineOverloaded, InvalidAmend, MarketHalted, MarketUnavailable, OrderNotFound,
                                     OrderNotOpen, PostOnlyWouldTake)
from mycrypto.trading.results import OrderResult
from mycrypto.wallet.errors import InsufficientFunds

SPEC = MarketSpec.build(id=1, symbol="BTC-USDT", base="BTC", quote="USDT", base_decimals=8, quote_decimals=8,
                        tick_size=D("0.01"), lot_size=D("0.00001"), min_qty=D("0.00001"), max_qty=D("9000"),
                        min_notional=D("0"), maker_fee=D("0.0008"), taker_fee=D("0.0010"))
FEE_ACC = 999
RICH = 10**20   # minor units: more than any order here needs


def place(user, side, price, qty, coid=None, **kw):
    intent = validate_order(SPEC, side=side, type="limit", price=D(price), quantity=D(qty), client_order_id=coid,
                            **kw)
    return Place(user, intent, base_acc=user * 10 + 1, quote_acc=user * 10 + 2)


class Market:
    """A book, its order states and a stock of order ids, as the engine keeps them between batches."""

    def __init__(self, spec=SPEC):
        self.spec, self.book, self.orders, self.ids = spec, OrderBook(), {}, deque(range(1, 100))

    def run(self, cmds, *, avail=None, existing=None, defer_short=False, ms=1_000):
        avail = avail if avail is not None else {u * 10 + a: RICH for u in range(1, 10) for a in (1, 2)}
        batch = Batch(self.spec, FEE_ACC, self.orders, avail)
        matcher = BatchMatcher(self.spec, self.book, self.orders, self.ids, batch, ms,
                               existing=existing or {}, defer_short=defer_short)
        return matcher.run(cmds), batch


def test_a_batch_places_matches_and_settles_in_order():
    market = Market()
    outcomes, batch = market.run([place(1, "sell", "100", "1"), place(2, "buy", "100", "0.4")])
    sell, buy = outcomes
    assert isinstance(sell, OrderResult) and isinstance(buy, OrderResult)
    assert (sell.order_id, buy.order_id) == (1, 2)
    assert buy.status == "filled" and buy.executed_quantity == D("0.4")
    assert len(batch.trades) == 1 and len(batch.postings()) == 1
    assert market.book.snapshot() == [(1, 1, SELL, 10_000, 60_000)]


def test_the_same_inputs_give_the_same_outcomes():
    cmds = lambda: [place(1, "sell", "100", "1"), place(2, "buy", "101", "2"), place(3, "sell", "99", "0.5")]  # noqa: E731
    a, b = Market(), Market()
    assert [o.to_dict() for o in a.run(cmds())[0]] == [o.to_dict() for o in b.run(cmds())[0]]
    assert a.book.snapshot() == b.book.snapshot()


def test_client_order_ids_already_used_or_repeated_in_the_batch_are_duplicates():
    market = Market()
    outcomes, _ = market.run([place(1, "buy", "100", "1", coid="a"), place(1, "buy", "100", "1", coid="a"),
                              place(1, "buy", "100", "1", coid="old")], existing={(1, "old"): 77})
    first, again, old = outcomes
    assert isinstance(first, OrderResult)
    assert again == Duplicate(first.order_id) and old == Duplicate(77)
    assert len(market.book.snapshot()) == 1   # placed once


def test_a_placement_short_of_funds_is_deferred_when_pipelined_and_refused_otherwise():
    poor = {11: 0, 12: 0}
    market = Market()
    [outcome], batch = market.run([place(1, "buy", "100", "1")], avail=poor, defer_short=True)
    assert outcome is REQUEUE and batch.empty
    assert market.ids[0] == 1   # the order id it took went back, in order
    [outcome], _ = market.run([place(1, "buy", "100", "1")], avail=poor)
    assert isinstance(outcome, InsufficientFunds)


def test_refusals_are_outcomes_and_change_nothing():
    market = Market()
    [resting], _ = market.run([place(1, "sell", "100", "1")])
    before = market.book.snapshot()
    outcomes, batch = market.run([
        Cancel(2, resting.order_id),                     # someone else's order
        Cancel(1, 12345),                                # no such open order
        Amend(1, resting.order_id, 200_000),             # an amend may only reduce
        place(2, "buy", "100", "1", post_only=True),     # would take
    ])
    assert [type(o) for o in outcomes] == [OrderNotFound, OrderNotOpen, InvalidAmend, PostOnlyWouldTake]
    assert batch.empty and market.book.snapshot() == before
    # the current quantity again (a retried amend): answered with the order as it is, nothing changes
    [same], batch = market.run([Amend(1, resting.order_id, 100_000)])
    assert same.order_id == resting.order_id and same.quantity == resting.quantity
    assert batch.empty and market.book.snapshot() == before


def test_cancel_amend_and_cancel_all():
    market = Market()
    a, b = market.run([place(1, "sell", "100", "1"), place(1, "sell", "101", "1")])[0]
    amended, cancelled = market.run([Amend(1, a.order_id, 50_000), Cancel(1, b.order_id)])[0]
    assert amended.quantity == D("0.5") and cancelled.status == "canceled"
    [everything] = market.run([CancelAll(1)])[0]
    assert [o.order_id for o in everything] == [a.order_id] and market.book.snapshot() == []


def test_a_halted_market_refuses_placements_and_unknown_commands_are_bugs():
    market = Market(SPEC.with_status("halted"))
    [outcome], _ = market.run([place(1, "buy", "100", "1")])
    assert isinstance(outcome, MarketHalted)
    with pytest.raises(TypeError):
        market.run([object()])


async def test_the_queue_is_fifo_bounded_and_puts_back_in_front():
    queue = CommandQueue(max_len=3)
    cmds = [Cancel(1, i) for i in range(3)]
    futures = [queue.put(c) for c in cmds]
    with pytest.raises(EngineOverloaded):
        queue.put(Cancel(1, 99))
    first_two = queue.take(2)
    assert first_two == cmds[:2] and len(queue) == 1
    queue.put_front(first_two)
    assert queue.take(10) == cmds and not queue
    answer(cmds[:1], ["done"])
    fail(cmds, MarketUnavailable())
    assert futures[0].result() == "done"            # an answered command keeps its answer
    assert isinstance(futures[1].exception(), MarketUnavailable)


async def test_the_sequencer_sleeps_until_a_command_arrives_and_fail_all_empties_the_queue():
    queue = CommandQueue()
    waiting = asyncio.create_task(queue.wait())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    fut = queue.put(Cancel(1, 1))
    await asyncio.wait_for(waiting, 1)
    queue.fail_all(MarketUnavailable())
    assert not queue and isinstance(fut.exception(), MarketUnavailable)
