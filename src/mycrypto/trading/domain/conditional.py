"""Conditional orders (stop-limit, stop-market, take-profit(-limit), OCO pairs): their rules and the
book of untriggered ones a market's engine keeps. Pure: no I/O, no clock.

Semantics (docs/trading.md "Conditional orders"):

- the watched series is the market's trade price in ticks, element = trade id: one `TriggerBook`
  (triggers.py, the same machinery as price alerts) per market, fed every trade of a matched batch in
  trade id order, inside the market's sequencer;
- direction: a stop BUY fires when the price rises to its stop price (ABOVE), a stop SELL when it
  falls to it (BELOW); take-profit is the mirror (BUY: BELOW, SELL: ABOVE);
- an order whose condition is already met by the last trade price is refused (`would_trigger`);
  with no trade yet, the first trade only places it (as for alerts: triggers.py);
- once fired, an order becomes a live order: limit kinds at their limit price, market kinds as a
  market order; a market BUY executes as IOC up to `exec_limit_ticks` = stop * (1 + slippage cap),
  the price its hold was computed at, so the hold always covers it;
- an OCO pair links two orders of one user; when either gets a fill or fires, or is cancelled, the
  other is cancelled.
"""
from __future__ import annotations

from dataclasses import dataclass

from decimal import Decimal

from ...common.markets import MAX_PRICE_TICKS, PPM, MarketSpec
from .matching import BUY
from .rules import OrderIntent, OrderRuleError, check_notional, validate_order
from .triggers import ABOVE, BELOW, Fired, Trigger, TriggerBook

STOP_LIMIT, STOP_MARKET, TAKE_PROFIT_LIMIT, TAKE_PROFIT_MARKET = (
    "stop_limit", "stop_market", "take_profit_limit", "take_profit_market")
KINDS = (STOP_LIMIT, STOP_MARKET, TAKE_PROFIT_LIMIT, TAKE_PROFIT_MARKET)
OCO_LIMIT = "limit"   # the plain limit leg of an OCO pair (no trigger)
# A triggered stop/take-profit market BUY pays at most stop * (1 + 5 %): its hold is computed at that
# price (a hold must bound the cost), and it executes as IOC up to it (what is not filled there expires).
MARKET_BUY_SLIPPAGE_PPM = 50_000
DIRECTION_NAMES = {ABOVE: "above", BELOW: "below"}
DIRECTIONS = {"above": ABOVE, "below": BELOW}


def is_limit_kind(kind: str) -> bool:
    return kind in (STOP_LIMIT, TAKE_PROFIT_LIMIT)


def direction_for(kind: str, side: int) -> int:
    """Which way the price must cross for `kind` on `side` (see the module docstring)."""
    stop = kind in (STOP_LIMIT, STOP_MARKET)
    return (ABOVE if side == BUY else BELOW) if stop else (BELOW if side == BUY else ABOVE)


def would_trigger(direction: int, stop_ticks: int, last_ticks: int | None) -> bool:
    if last_ticks is None:
        return False
    return last_ticks >= stop_ticks if direction == ABOVE else last_ticks <= stop_ticks


def market_buy_cap(stop_ticks: int, slippage_ppm: int) -> int:
    """The highest price (ticks) a triggered market buy may pay: stop * (1 + cap), rounded up."""
    return -((-stop_ticks * (PPM + slippage_ppm)) // PPM)


@dataclass(frozen=True, slots=True)
class ConditionalIntent:
    """What a validated conditional placement adds to its `OrderIntent`."""

    kind: str
    stop_ticks: int
    exec_limit_ticks: int = 0    # market buys: the IOC price bound (and the hold's price)


@dataclass(slots=True)
class Condition:
    """The condition of one order (kept on its OrderState as `cond`)."""

    kind: str
    direction: int | None        # None for an OCO limit leg
    stop_ticks: int
    exec_limit_ticks: int = 0
    oco: int | None = None       # the sibling's order id
    triggered_ms: int | None = None
    trigger_trade_id: int | None = None
    persisted: bool = False      # its row is (being) written: a later triggering is an UPDATE
    fire_pending: bool = False   # triggered since its row was last written

    @property
    def untriggered(self) -> bool:
        return self.direction is not None and self.triggered_ms is None


class ConditionalBook:
    """The untriggered conditional orders of one market (id -> the engine's OrderState), their
    triggers on the trade price, and the OCO links between open orders."""

    __slots__ = ("triggers", "orders", "oco")

    def __init__(self, last_price_ticks: int | None = None) -> None:
        self.triggers = TriggerBook(last_price_ticks)
        self.orders: dict[int, object] = {}
        self.oco: dict[int, int] = {}          # order id -> sibling id, both directions, open pairs only

    @property
    def last(self) -> int | None:
        return self.triggers.last

    def add(self, order) -> None:
        """Wait for `order.cond` to fire."""
        c = order.cond
        self.orders[order.id] = order
        self.triggers.add(Trigger(order.id, c.direction, c.stop_ticks))

    def link(self, a: int, b: int) -> None:
        self.oco[a] = b
        self.oco[b] = a

    def unlink(self, oid: int) -> int | None:
        """Forget `oid`'s pair; return its sibling's id."""
        sib = self.oco.pop(oid, None)
        if sib is not None:
            self.oco.pop(sib, None)
        return sib

    def remove(self, oid: int):
        """Stop waiting for `oid` (cancelled); its OrderState, or None."""
        self.triggers.remove(oid)
        return self.orders.pop(oid, None)

    def trade(self, price_ticks: int, trade_id: int, ms: int) -> list[Fired]:
        """One trade of the market: the orders it fires, in order id order (they leave the book)."""
        return self.triggers.update(price_ticks, trade_id, ms)

    def __len__(self) -> int:
        return len(self.orders)


def stop_ticks(spec: MarketSpec, stop_price: Decimal | None) -> int:
    if stop_price is None:
        raise OrderRuleError("missing_stop_price", "A stop or take-profit order needs a stop_price.",
                             {"field": "stop_price"})
    ticks = stop_price / spec.tick_size
    if ticks != ticks.to_integral_value():
        raise OrderRuleError("price_tick",
                             f"stop_price must be a multiple of the tick size {spec.tick_size.normalize()}.",
                             {"field": "stop_price", "tick_size": str(spec.tick_size.normalize())})
    n = int(ticks)
    if n <= 0 or n > MAX_PRICE_TICKS:
        raise OrderRuleError("price_out_of_range", "stop_price is out of range.", {"field": "stop_price"})
    return n


def validate_conditional(spec: MarketSpec, *, kind: str, side: object, stop_price: Decimal | None,
                         price: Decimal | None, quantity: Decimal | None, quote_quantity: Decimal | None = None,
                         time_in_force: object = None, post_only: object = False, stp: object = None,
                         client_order_id: object = None) -> tuple[OrderIntent, ConditionalIntent]:
    """Check a stop / take-profit order request; return the order it becomes and its condition."""
    if post_only:
        raise OrderRuleError("invalid_post_only", "Stop and take-profit orders cannot be post-only.",
                             {"field": "post_only"})
    stop = stop_ticks(spec, stop_price)
    if is_limit_kind(kind):
        intent = validate_order(spec, side=side, type="limit", time_in_force=time_in_force, stp=stp, price=price,
                                quantity=quantity, quote_quantity=quote_quantity, client_order_id=client_order_id)
        return intent, ConditionalIntent(kind, stop)
    if quote_quantity is not None:
        raise OrderRuleError("quote_quantity_not_allowed", "Stop and take-profit market orders take a quantity.",
                             {"field": "quote_quantity"})
    intent = validate_order(spec, side=side, type="market", time_in_force=time_in_force, stp=stp, price=price,
                            quantity=quantity, client_order_id=client_order_id)
    check_notional(spec, spec.cost_units(stop, intent.qty_lots))
    cap = market_buy_cap(stop, MARKET_BUY_SLIPPAGE_PPM) if intent.side == BUY else 0
    if cap > MAX_PRICE_TICKS:
        raise OrderRuleError("price_out_of_range", "stop_price is out of range.", {"field": "stop_price"})
    return intent, ConditionalIntent(kind, stop, cap)
