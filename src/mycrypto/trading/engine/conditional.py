"""Conditional orders inside a market's sequencer: placement, triggering and OCO cancellation, as a
part of `BatchMatcher` (matcher.py), so they are ordered with the commands deterministically.

After every command of a batch, `settle_conditions` feeds the trades that command produced to the
market's `ConditionalBook` (domain/conditional.py) in trade id order. For each trade, first the OCO
siblings of the orders it filled are cancelled, then the trigger book says which untriggered orders the
trade's price fires (in order id order); each fired order runs at once as a live order (limit at its
price, market as IOC/market) - its own trades are fed the same way after the ones already pending. All
of it happens before the batch's next command, so "the trade that crossed the stop" and "the order the
stop became" are always in one batch, in one commit, in this order.

An untriggered order holds its funds from placement (like the limit order it becomes; a market buy at
its IOC price bound) and lives only in the conditional book, not in the matching book nor in the
engine's open-order map, so the matching core never sees it.
"""
from __future__ import annotations

from typing import Any

from ...wallet.errors import InsufficientFunds
from ..domain.conditional import OCO_LIMIT, Condition, direction_for, is_limit_kind, would_trigger
from ..domain.matching import BUY, D_IOC, D_MARKET, IOC
from ..domain.rules import LIMIT, MARKET
from ..domain.settlement import ST_CANCELED, InsufficientHold, OrderState, initial_hold
from ..errors import (DuplicateClientOrderId, MarketHalted, OrderNotFound, PostOnlyWouldTake, UntriggeredNotAmendable,
                      WouldTriggerImmediately)
from ..results import OrderResult, result_from_state
from .commands import REQUEUE, Place, PlaceOco

REASON_OCO = "oco"   # the order was cancelled because its OCO sibling filled, triggered or was cancelled


class Deferred:
    """An outcome whose results are read only after the command's triggers and OCO cancellations ran."""

    __slots__ = ("orders",)

    def __init__(self, orders: list[OrderState]) -> None:
        self.orders = orders


class ConditionalMatching:
    """The conditional-order half of BatchMatcher (it provides spec, book, orders, ids, batch, ms,
    defer_short, existing, conds, trades_seen)."""

    __slots__ = ()

    # ------------------------------------------------------------------ placement
    def place_conditional(self, cmd: Place) -> Any:
        it, ci = cmd.intent, cmd.cond
        direction = direction_for(ci.kind, it.side)
        if would_trigger(direction, ci.stop_ticks, self.conds.last):
            raise WouldTriggerImmediately()
        order = self._conditional_state(cmd, Condition(ci.kind, direction, ci.stop_ticks, ci.exec_limit_ticks))
        hold = initial_hold(self.spec, it.side, order.limit_price, it.qty_lots, 0)
        if not self._hold(order, hold):
            return self._requeue_or_refuse(order)
        self.batch.add_new(order)
        self.conds.add(order)
        return result_from_state(self.spec, order)

    def place_oco(self, cmd: PlaceOco) -> Any:
        """A limit leg and a conditional leg, linked; both hold (each its own funds), all or nothing."""
        if self.spec.halted:
            raise MarketHalted()
        lim, stop = cmd.limit, cmd.stop
        for leg in (lim, stop):
            coid = leg.intent.client_order_id
            if coid is not None and ((leg.user_id, coid) in self.existing or (leg.user_id, coid) in self.seen):
                raise DuplicateClientOrderId()
        it = lim.intent
        if it.post_only:   # the limit leg is maker-only (as Binance's LIMIT_MAKER leg): refused if it would take
            best = self.book.best_ask() if it.side == BUY else self.book.best_bid()
            if best is not None and (best <= it.price_ticks if it.side == BUY else best >= it.price_ticks):
                raise PostOnlyWouldTake()
        ci = stop.cond
        direction = direction_for(ci.kind, stop.intent.side)
        if would_trigger(direction, ci.stop_ticks, self.conds.last):
            raise WouldTriggerImmediately()
        s_order = self._conditional_state(stop, Condition(ci.kind, direction, ci.stop_ticks, ci.exec_limit_ticks))
        l_order = self._conditional_state(lim, Condition(OCO_LIMIT, None, 0, triggered_ms=self.ms))
        spec = self.spec
        s_hold = initial_hold(spec, stop.intent.side, s_order.limit_price, stop.intent.qty_lots, 0)
        l_hold = initial_hold(spec, lim.intent.side, l_order.limit_price, lim.intent.qty_lots, 0)
        if self.batch.avail.get(s_order.hold_acc, 0) < s_hold + l_hold:   # checked first: all or nothing
            self.ids.appendleft(l_order.id)
            return self._requeue_or_refuse(s_order)
        self._hold(s_order, s_hold)
        self._hold(l_order, l_hold)
        for leg in (lim, stop):
            if leg.intent.client_order_id is not None:
                self.seen[(leg.user_id, leg.intent.client_order_id)] = len(self.outcomes)
        s_order.cond.oco, l_order.cond.oco = l_order.id, s_order.id
        self.batch.add_new(s_order)
        self.batch.add_new(l_order)
        self.conds.add(s_order)
        self.conds.link(s_order.id, l_order.id)
        evs = self.book.limit(l_order.id, lim.user_id, it.side, it.price_ticks, it.qty_lots, it.tif, it.post_only,
                              it.stp)
        self.batch.apply(evs, l_order, self.ms, None)
        return Deferred([s_order, l_order])

    def _conditional_state(self, cmd: Place, cond: Condition) -> OrderState:
        it = cmd.intent
        kind = LIMIT if cond.kind == OCO_LIMIT or is_limit_kind(cond.kind) else MARKET
        limit_price = it.price_ticks if kind == LIMIT else (cond.exec_limit_ticks if it.side == BUY else 0)
        order = OrderState(self.ids.popleft(), cmd.user_id, it.side, kind, tif=it.tif, post_only=it.post_only,
                           stp=it.stp, price=it.price_ticks if kind == LIMIT else 0, qty=it.qty_lots, quote_qty=0,
                           base_acc=cmd.base_acc, quote_acc=cmd.quote_acc, coid=it.client_order_id,
                           created_ms=self.ms, limit_price=limit_price)
        order.cond = cond
        return order

    def _hold(self, order: OrderState, units: int) -> bool:
        try:
            self.batch.place_hold(order, units, self.spec.quote if order.side == BUY else self.spec.base)
        except InsufficientHold:
            return False
        return True

    def _requeue_or_refuse(self, order: OrderState) -> Any:
        self.ids.appendleft(order.id)   # unused: keep ids dense-ish and in order
        if self.defer_short:
            return REQUEUE
        asset = self.spec.quote if order.side == BUY else self.spec.base
        raise InsufficientFunds(f"Insufficient {asset} balance.", details={"asset": asset})

    # ------------------------------------------------------------------ cancel / amend
    def cancel_untriggered(self, user_id: int, order_id: int) -> OrderResult:
        order = self.conds.orders[order_id]
        if order.user_id != user_id:
            raise OrderNotFound()
        self._close_untriggered(order, None)
        self._cancel_sibling(order.id)
        return result_from_state(self.spec, order)

    def cancel_all_untriggered(self, user_id: int) -> list[OrderResult]:
        mine = sorted((o for o in self.conds.orders.values() if o.user_id == user_id), key=lambda o: o.id)
        out = []
        for order in mine:
            if order.id in self.conds.orders:   # (not cancelled already as a sibling)
                out.append(self.cancel_untriggered(user_id, order.id))
        return out

    def refuse_untriggered_amend(self, user_id: int, order_id: int) -> None:
        if self.conds.orders[order_id].user_id != user_id:
            raise OrderNotFound()
        raise UntriggeredNotAmendable()

    def _close_untriggered(self, order: OrderState, reason: str | None) -> None:
        self.conds.remove(order.id)
        self.batch._release(order, order.hold_rem)
        order.status = ST_CANCELED
        order.reason = reason
        self.batch._touch(order, self.ms)

    def _cancel_sibling(self, order_id: int) -> None:
        """Cancel the OCO sibling of `order_id` (if it has one still open)."""
        sib = self.conds.unlink(order_id)
        if sib is None:
            return
        if sib in self.conds.orders:
            self._close_untriggered(self.conds.orders[sib], REASON_OCO)
            return
        order = self.orders.get(sib)
        if order is not None:
            self.batch.apply(self.book.cancel(sib), None, self.ms)
            order.reason = REASON_OCO

    # ------------------------------------------------------------------ after every command
    def settle_conditions(self) -> None:
        """Feed the trades since the last call to the trigger book; cancel OCO siblings; run fired orders."""
        trades = self.batch.trades
        conds = self.conds
        while self.trades_seen < len(trades):
            t = trades[self.trades_seen]
            self.trades_seen += 1
            if conds.oco:
                for oid in (t[1], t[2]):
                    if oid in conds.oco:
                        self._cancel_sibling(oid)
            for fired in conds.trade(t[4], t[0], t[11]):
                self._run_fired(fired.key, fired.seq, fired.ms)

    def _run_fired(self, oid: int, trade_id: int, ms: int) -> None:
        order = self.conds.orders.pop(oid)
        c = order.cond
        c.triggered_ms, c.trigger_trade_id, c.fire_pending = ms, trade_id, True
        self._cancel_sibling(oid)
        book, it_side = self.book, order.side
        if order.kind == LIMIT:
            evs = book.limit(oid, order.user_id, it_side, order.price, order.remaining, order.tif, order.post_only,
                             order.stp)
        elif it_side == BUY:
            evs = book.limit(oid, order.user_id, BUY, order.limit_price, order.remaining, IOC, False, order.stp)
        else:
            evs = book.market(oid, order.user_id, it_side, qty=order.remaining, stp=order.stp)
        self.batch.apply(evs, order, self.ms, None)
        if order.kind != LIMIT and order.reason == D_IOC:
            order.reason = D_MARKET
        self.batch._touch(order, self.ms)


def resolve_deferred(spec, outcome: Any) -> Any:
    """A Deferred outcome as the results of its orders (read after the triggers of its command ran)."""
    if type(outcome) is Deferred:
        return [result_from_state(spec, o) for o in outcome.orders]
    return outcome
