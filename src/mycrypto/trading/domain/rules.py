"""Order rules checked BEFORE the matching core: sides, types, time in force, tick, lot, min/max
quantity, min notional, client order ids. Pure; amounts arrive as already-parsed `Decimal`s.

`validate_order` turns a request into an `OrderIntent` of integers (ticks, lots, quote minor units)
or raises `OrderRuleError` with a stable code. Nothing here rounds an amount the user asked for: a
price off the tick or a quantity off the lot is refused, not adjusted. The one exception is the
quote budget of a market buy (`quote_quantity`), which is a ceiling ("spend at most"): the engine
spends whole tick*lot steps of it and the unspendable dust is released with the rest of the hold.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from ...common.markets import MAX_PRICE_TICKS, MarketSpec, units_str
from .matching import BUY, FOK, GTC, IOC, SELL, STP_EXPIRE_BOTH, STP_EXPIRE_MAKER, STP_EXPIRE_TAKER, STP_NONE

LIMIT, MARKET = 0, 1
SIDES = {"buy": BUY, "sell": SELL}
SIDE_NAMES = ("buy", "sell")
TYPES = {"limit": LIMIT, "market": MARKET}
TYPE_NAMES = ("limit", "market")
TIFS = {"GTC": GTC, "IOC": IOC, "FOK": FOK}
TIF_NAMES = ("GTC", "IOC", "FOK")
STPS = {"expire_maker": STP_EXPIRE_MAKER, "expire_taker": STP_EXPIRE_TAKER,
        "expire_both": STP_EXPIRE_BOTH, "none": STP_NONE}
STP_NAMES = ("expire_maker", "expire_taker", "expire_both", "none")
DEFAULT_STP = "expire_maker"

# Binance's newClientOrderId alphabet, so the same ids work through the /api/v3 adapter.
CLIENT_ORDER_ID = re.compile(r"^[.A-Za-z0-9:/_-]{1,36}$")


class OrderRuleError(ValueError):
    """A request that breaks a market rule; `code` is the stable error code clients program against."""

    def __init__(self, code: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """A validated order in the engine's integers. Exactly one of qty_lots / quote_units is > 0."""

    side: int
    kind: int                # LIMIT or MARKET
    tif: int
    post_only: bool
    stp: int
    price_ticks: int         # 0 for market orders
    qty_lots: int            # 0 for a market buy by quote budget
    quote_units: int         # market buy budget in quote minor units, else 0
    client_order_id: str | None


def parse_choice(value: object, choices: dict[str, int], field: str, *, upper: bool = False,
                 default: str | None = None) -> int:
    if value is None and default is not None:
        value = default
    if not isinstance(value, str):
        raise OrderRuleError(f"invalid_{field}", f"{field} must be one of {sorted(choices)}.",
                             {"field": field})
    key = value.upper() if upper else value.lower()
    try:
        return choices[key]
    except KeyError:
        raise OrderRuleError(f"invalid_{field}", f"{field} must be one of {sorted(choices)}.",
                             {"field": field}) from None


def check_client_order_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not CLIENT_ORDER_ID.fullmatch(value):
        raise OrderRuleError("invalid_client_order_id",
                             "client_order_id must be 1-36 characters of A-Z a-z 0-9 . : / _ -.",
                             {"field": "client_order_id"})
    return value


def price_ticks(spec: MarketSpec, price: Decimal) -> int:
    ticks = price / spec.tick_size
    if ticks != ticks.to_integral_value():
        raise OrderRuleError("price_tick", f"price must be a multiple of the tick size {spec.tick_size.normalize()}.",
                             {"field": "price", "tick_size": str(spec.tick_size.normalize())})
    n = int(ticks)
    if n <= 0 or n > MAX_PRICE_TICKS:
        raise OrderRuleError("price_out_of_range", "price is out of range.", {"field": "price"})
    return n


def quantity_lots(spec: MarketSpec, quantity: Decimal, field: str = "quantity") -> int:
    lots = quantity / spec.lot_size
    if lots != lots.to_integral_value():
        raise OrderRuleError("quantity_step", f"{field} must be a multiple of the lot size {spec.lot_size.normalize()}.",
                             {"field": field, "lot_size": str(spec.lot_size.normalize())})
    n = int(lots)
    if n < spec.min_qty_lots:
        raise OrderRuleError("quantity_too_small", f"{field} is below the minimum {spec.min_qty.normalize()}.",
                             {"field": field, "min_qty": str(spec.min_qty.normalize())})
    if n > spec.max_qty_lots:
        raise OrderRuleError("quantity_too_large", f"{field} is above the maximum {spec.max_qty.normalize()}.",
                             {"field": field, "max_qty": str(spec.max_qty.normalize())})
    return n


def check_notional(spec: MarketSpec, notional_units: int) -> None:
    if notional_units < spec.min_notional_units:
        raise OrderRuleError("notional_too_small",
                             f"price * quantity is below the minimum notional {spec.min_notional.normalize()} {spec.quote}.",
                             {"min_notional": units_str(spec.min_notional_units, spec.quote_decimals)})


def validate_order(spec: MarketSpec, *, side: object, type: object, time_in_force: object = None,
                   post_only: object = False, stp: object = None, price: Decimal | None = None,
                   quantity: Decimal | None = None, quote_quantity: Decimal | None = None,
                   client_order_id: object = None) -> OrderIntent:
    """Check a parsed order request against the market's rules; return its integer form."""
    side_n = parse_choice(side, SIDES, "side")
    kind = parse_choice(type, TYPES, "type")
    stp_n = parse_choice(stp, STPS, "stp", default=DEFAULT_STP)
    if not isinstance(post_only, bool):
        raise OrderRuleError("invalid_post_only", "post_only must be true or false.", {"field": "post_only"})
    coid = check_client_order_id(client_order_id)
    if kind == LIMIT:
        tif = parse_choice(time_in_force, TIFS, "time_in_force", upper=True, default="GTC")
        if price is None:
            raise OrderRuleError("missing_price", "A limit order needs a price.", {"field": "price"})
        if quote_quantity is not None:
            raise OrderRuleError("quote_quantity_not_allowed", "quote_quantity is only for market buys.",
                                 {"field": "quote_quantity"})
        if quantity is None:
            raise OrderRuleError("missing_quantity", "A limit order needs a quantity.", {"field": "quantity"})
        if post_only and tif != GTC:
            raise OrderRuleError("invalid_post_only", "post_only orders must be GTC.", {"field": "post_only"})
        ticks = price_ticks(spec, price)
        lots = quantity_lots(spec, quantity)
        check_notional(spec, spec.cost_units(ticks, lots))
        return OrderIntent(side_n, LIMIT, tif, post_only, stp_n, ticks, lots, 0, coid)
    # market order: never rests, so it is immediate-or-cancel whatever time_in_force says (GTC/IOC
    # accepted for client convenience); FOK and post-only make no sense for it
    if time_in_force is not None:
        tif_n = parse_choice(time_in_force, TIFS, "time_in_force", upper=True)
        if tif_n == FOK:
            raise OrderRuleError("invalid_time_in_force", "Market orders are immediate-or-cancel; FOK is not "
                                 "supported for them.", {"field": "time_in_force"})
    if post_only:
        raise OrderRuleError("invalid_post_only", "Market orders cannot be post-only.", {"field": "post_only"})
    if price is not None:
        raise OrderRuleError("price_not_allowed", "Market orders take no price.", {"field": "price"})
    if quantity is not None and quote_quantity is not None:
        raise OrderRuleError("ambiguous_quantity", "Give quantity or quote_quantity, not both.",
                             {"field": "quote_quantity"})
    if quote_quantity is not None:
        if side_n != BUY:
            raise OrderRuleError("quote_quantity_not_allowed", "quote_quantity is only for market buys.",
                                 {"field": "quote_quantity"})
        units = quote_quantity.scaleb(spec.quote_decimals)
        if units != units.to_integral_value():
            raise OrderRuleError("amount_precision",
                                 f"quote_quantity has more than {spec.quote_decimals} decimal places.",
                                 {"field": "quote_quantity", "max_decimals": spec.quote_decimals})
        units_n = int(units)
        check_notional(spec, units_n)
        if units_n > spec.max_qty_lots * MAX_PRICE_TICKS * spec.quote_per_ticklot:
            raise OrderRuleError("quote_quantity_too_large", "quote_quantity is out of range.",
                                 {"field": "quote_quantity"})
        return OrderIntent(side_n, MARKET, IOC, False, stp_n, 0, 0, units_n, coid)
    if quantity is None:
        raise OrderRuleError("missing_quantity", "A market order needs quantity (or quote_quantity for buys).",
                             {"field": "quantity"})
    lots = quantity_lots(spec, quantity)
    return OrderIntent(side_n, MARKET, IOC, False, stp_n, 0, lots, 0, coid)
