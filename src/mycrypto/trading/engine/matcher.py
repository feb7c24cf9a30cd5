"""Matching one batch of commands against the book: the engine's decisions, with no I/O.

`BatchMatcher.run` takes the batch's commands in order and returns one outcome per command: an
`OrderResult` (or a list of them for a cancel-all), a `Duplicate` for a client order id that already
names an order, an `AppError` the client gets (refused; nothing changed), or `REQUEUE` for a placement
that looked short of funds only because the batch before it has not committed yet (the sequencer runs
it again after that commit). Every accepted command has changed the book, the orders and `batch`
(holds, fills, settlements), which the sequencer then encodes and commits.

The balances, the existing client order ids, the clock and the order ids are read or allocated by the
caller and passed in, so the same inputs always give the same outcomes (tests/unit/trading).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...common.errors import AppError
from ...common.markets import MarketSpec
from ...wallet.errors import InsufficientFunds
from ..domain.conditional import ConditionalBook
from ..domain.matching import BUY, D_IOC, D_MARKET, D_NO_LIQUIDITY, EV_DONE, EXPIRED, IOC, OrderBook
from ..domain.rules import LIMIT, OrderRuleError, check_notional
from ..domain.settlement import Batch, InsufficientHold, OrderState, SettlementError, initial_hold, worst_price
from ..errors import InvalidAmend, InvalidOrder, MarketHalted, OrderNotFound, OrderNotOpen, PostOnlyWouldTake
from ..results import OrderResult, result_from_state
from .commands import REQUEUE, Amend, Cancel, CancelAll, Duplicate, Place, PlaceOco
from .conditional import ConditionalMatching, resolve_deferred



@dataclass(frozen=True, slots=True)
class _SameAs:
    index: int


class BatchMatcher(ConditionalMatching):
    """Runs one batch against the engine's book and order states (which it changes in place); conditional
    orders (stop, take-profit, OCO) are the part in conditional.py."""

    __slots__ = ("spec", "book", "orders", "ids", "batch", "ms", "defer_short", "existing", "seen", "outcomes",
                 "conds", "trades_seen")

    def __init__(self, spec: MarketSpec, book: OrderBook, orders: dict[int, OrderState], ids: deque[int],
                 batch: Batch, ms: int, *, existing: dict[tuple[int, str], int], defer_short: bool,
                 conds: ConditionalBook | None = None) -> None:
        self.spec = spec
        self.book = book
        self.orders = orders
        self.ids = ids                # pre-allocated order ids, used in order (an unused one goes back)
        self.batch = batch
        self.ms = ms
        self.defer_short = defer_short
        self.existing = existing      # (user, client order id) -> order id, already in the database
        self.seen: dict[tuple[int, str], int] = {}   # (user, client order id) -> index of its first command
        self.outcomes: list[Any] = []
        self.conds = conds if conds is not None else ConditionalBook()   # untriggered orders, OCO links
        self.trades_seen = 0          # batch.trades fed to the trigger book so far

    def run(self, cmds: list) -> list:
        """One outcome per command, in order (see the module docstring)."""
        outcomes = self.outcomes
        for cmd in cmds:
            handler = _HANDLERS.get(type(cmd))
            if handler is None:
                raise TypeError(f"unknown command {cmd!r}")
            try:
                outcomes.append(handler(self, cmd))
            except AppError as exc:
                outcomes.append(exc)
            # the triggers and OCO cancellations this command's trades cause, before the next command
            self.settle_conditions()
            outcomes[-1] = resolve_deferred(self.spec, outcomes[-1])
        # duplicates of an order placed earlier in this same batch
        for i, outcome in enumerate(outcomes):
            if type(outcome) is _SameAs:
                first = outcomes[outcome.index]
                outcomes[i] = (first if first is REQUEUE else
                               Duplicate(first.order_id) if isinstance(first, OrderResult) else first)
        return outcomes

    # ------------------------------------------------------------------ one handler per command
    def cancel(self, cmd: Cancel) -> OrderResult:
        if cmd.order_id in self.conds.orders:
            return self.cancel_untriggered(cmd.user_id, cmd.order_id)
        order = self._owned(cmd.user_id, cmd.order_id)
        self.batch.apply(self.book.cancel(order.id), None, self.ms)
        if self.conds.oco:
            self._cancel_sibling(order.id)
        return result_from_state(self.spec, order)

    def cancel_all(self, cmd: CancelAll) -> list[OrderResult]:
        out = self.cancel_all_untriggered(cmd.user_id) if self.conds.orders else []
        evs = self.book.cancel_all(cmd.user_id)
        orders = [self.orders[ev[1]] for ev in evs]
        self.batch.apply(evs, None, self.ms)
        for o in orders:
            if o.id in self.conds.oco:
                self._cancel_sibling(o.id)
        return out + [result_from_state(self.spec, o) for o in orders]

    def amend(self, cmd: Amend) -> OrderResult:
        if cmd.order_id in self.conds.orders:
            self.refuse_untriggered_amend(cmd.user_id, cmd.order_id)
        order = self._owned(cmd.user_id, cmd.order_id)
        if cmd.new_qty_lots == order.qty:
            # already this total quantity: a retried amend (its answer lost) is answered with the order as
            # it is, not refused - a 400 would tell the client its amend failed although it took effect
            return result_from_state(self.spec, order)
        new_rem = cmd.new_qty_lots - order.filled
        evs = self.book.amend(order.id, new_rem) if new_rem > 0 else []
        if not evs:
            raise InvalidAmend()
        self.batch.apply(evs, None, self.ms)
        return result_from_state(self.spec, order)

    def place(self, cmd: Place) -> Any:
        """A placement: a Duplicate for a known client order id, REQUEUE when deferred, else its result."""
        it = cmd.intent
        coid = it.client_order_id
        if coid is not None:
            key = (cmd.user_id, coid)
            if key in self.existing:
                return Duplicate(self.existing[key])
            first = self.seen.get(key)
            if first is not None:
                return _SameAs(first)   # resolved to the first order's outcome by run()
            self.seen[key] = len(self.outcomes)
        spec = self.spec
        if spec.halted:
            raise MarketHalted()
        if cmd.cond is not None:
            return self.place_conditional(cmd)
        book = self.book
        batch = self.batch
        ms = self.ms
        side = it.side
        limit_price = it.price_ticks
        if it.kind == LIMIT:
            if it.post_only:
                best = book.best_ask() if side == BUY else book.best_bid()
                if best is not None and (best <= limit_price if side == BUY else best >= limit_price):
                    raise PostOnlyWouldTake()
        elif it.qty_lots:
            # market by base quantity: the notional rule is checked against the best opposite price
            bids, asks = book.depth(1)
            top = asks if side == BUY else bids
            if top:
                try:
                    check_notional(spec, spec.cost_units(top[0][0], it.qty_lots))
                except OrderRuleError as err:
                    raise InvalidOrder.from_rule(err) from None
                if side == BUY:
                    limit_price = self._worst_ask(it.qty_lots)
        oid = self.ids.popleft()
        order = OrderState(oid, cmd.user_id, side, it.kind, tif=it.tif, post_only=it.post_only, stp=it.stp,
                           price=it.price_ticks, qty=it.qty_lots, quote_qty=it.quote_units, base_acc=cmd.base_acc,
                           quote_acc=cmd.quote_acc, coid=it.client_order_id, created_ms=ms, limit_price=limit_price)
        hold = initial_hold(spec, side, limit_price, it.qty_lots, it.quote_units)
        try:
            batch.place_hold(order, hold, spec.quote if side == BUY else spec.base)
        except InsufficientHold as exc:
            self.ids.appendleft(oid)   # unused: keep ids dense-ish and in order
            if self.defer_short:
                return REQUEUE
            raise InsufficientFunds(f"Insufficient {exc.asset} balance.", details={"asset": exc.asset}) from None
        batch.add_new(order)
        if it.kind == LIMIT:
            evs = book.limit(oid, cmd.user_id, side, it.price_ticks, it.qty_lots, it.tif, it.post_only, it.stp)
        elif it.quote_units:
            budget = it.quote_units // spec.quote_per_ticklot
            evs = (book.market(oid, cmd.user_id, BUY, quote_budget=budget, stp=it.stp) if budget
                   else [(EV_DONE, oid, EXPIRED, 0, D_NO_LIQUIDITY)])
        elif side == BUY:
            # executed as IOC at the deepest price needed: the hold above bounds its cost
            evs = (book.limit(oid, cmd.user_id, BUY, limit_price, it.qty_lots, IOC, False, it.stp) if limit_price
                   else [(EV_DONE, oid, EXPIRED, it.qty_lots, D_NO_LIQUIDITY)])
        else:
            evs = book.market(oid, cmd.user_id, side, qty=it.qty_lots, stp=it.stp)
        fills: list[tuple] = []
        batch.apply(evs, order, ms, fills)
        if order.kind != LIMIT and order.reason == D_IOC:
            order.reason = D_MARKET
        if order.status == "rejected":
            raise SettlementError(f"engine rejected validated order {oid}: {evs}")
        return result_from_state(spec, order, fills)

    # ------------------------------------------------------------------ helpers
    def _worst_ask(self, qty_lots: int) -> int:
        n = 16
        while True:
            _, asks = self.book.depth(n)
            price, available = worst_price(asks, qty_lots)
            if available >= qty_lots or len(asks) < n:
                return price
            n *= 4

    def _owned(self, user_id: int, order_id: int) -> OrderState:
        order = self.orders.get(order_id)
        if order is None or order.user_id != user_id:
            raise OrderNotOpen() if order is None else OrderNotFound()
        return order


# the command dispatch: command type -> its handler
_HANDLERS: dict[type, Callable[[BatchMatcher, Any], Any]] = {
    Place: BatchMatcher.place, Cancel: BatchMatcher.cancel, CancelAll: BatchMatcher.cancel_all,
    Amend: BatchMatcher.amend, PlaceOco: BatchMatcher.place_oco,
}
