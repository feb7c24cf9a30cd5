"""What the trade service returns: orders, fills and user trades, independent of HTTP.

Values are kept as the engine's integers plus the market's spec; Decimal properties give exact
amounts (for the /api/v3 adapter) and `to_dict()` gives the JSON shape of /api/v1/trade (amounts as
strings, times in epoch ms). An `OrderResult` carries everything a Binance order response needs:
order id, client id, status, executed quantity, cumulative quote quantity, fills with price,
quantity, commission, commission asset and trade id, and transaction time.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..common.markets import MarketSpec
from .domain.rules import SIDE_NAMES, STP_NAMES, TIF_NAMES, TYPE_NAMES
from .domain.settlement import OPEN_STATUSES, OrderState


@dataclass(frozen=True, slots=True)
class FillResult:
    trade_id: int
    price_ticks: int
    qty_lots: int
    cost_units: int
    commission_units: int
    is_maker: bool
    time_ms: int
    spec: MarketSpec

    @property
    def price(self) -> Decimal:
        return self.spec.price(self.price_ticks)

    @property
    def quantity(self) -> Decimal:
        return self.spec.qty(self.qty_lots)

    @property
    def quote_quantity(self) -> Decimal:
        return self.spec.quote_amount(self.cost_units)

    @property
    def commission(self) -> Decimal:
        return self.spec.quote_amount(self.commission_units)

    @property
    def commission_asset(self) -> str:
        return self.spec.quote

    def to_dict(self) -> dict[str, Any]:
        s = self.spec
        return {"trade_id": self.trade_id, "price": s.price_str(self.price_ticks), "quantity": s.qty_str(self.qty_lots),
                "quote_quantity": s.quote_str(self.cost_units), "commission": s.quote_str(self.commission_units),
                "commission_asset": s.quote, "is_maker": self.is_maker, "time": self.time_ms}


@dataclass(frozen=True, slots=True)
class OrderResult:
    order_id: int
    user_id: int
    client_order_id: str | None
    spec: MarketSpec
    side: str                  # buy | sell
    type: str                  # limit | market
    time_in_force: str
    post_only: bool
    stp: str
    price_ticks: int           # 0 for market orders
    qty_lots: int              # 0 for market buys by quote amount
    quote_qty_units: int       # the budget of a market buy by quote amount, else 0
    filled_lots: int
    filled_quote_units: int
    fee_units: int
    hold_amount_units: int
    hold_remaining_units: int
    status: str
    reason: str | None
    created_ms: int
    updated_ms: int
    fills: tuple[FillResult, ...] | None = None
    created: bool = True       # False: an earlier order with this client_order_id, returned unchanged
    # conditional orders (docs/trading.md): the kind (stop_limit, ..., or "limit" for an OCO limit leg),
    # the stop price, the OCO sibling, when it triggered (None: not yet)
    cond_kind: str | None = None
    stop_ticks: int = 0
    oco_order_id: int | None = None
    triggered_ms: int | None = None

    @property
    def order_type(self) -> str:
        """The type as the client placed it: limit, market, stop_limit, stop_market, take_profit_..."""
        return self.cond_kind if self.cond_kind not in (None, "limit") else self.type

    @property
    def untriggered(self) -> bool:
        return self.cond_kind not in (None, "limit") and self.triggered_ms is None

    @property
    def stop_price(self) -> Decimal | None:
        return self.spec.price(self.stop_ticks) if self.stop_ticks else None

    # ---------------------------------------------------------------- exact values
    @property
    def symbol(self) -> str:
        return self.spec.symbol

    @property
    def price(self) -> Decimal | None:
        return self.spec.price(self.price_ticks) if self.price_ticks else None

    @property
    def quantity(self) -> Decimal | None:
        return self.spec.qty(self.qty_lots) if self.qty_lots else None

    @property
    def quote_quantity(self) -> Decimal | None:
        return self.spec.quote_amount(self.quote_qty_units) if self.quote_qty_units else None

    @property
    def executed_quantity(self) -> Decimal:
        return self.spec.qty(self.filled_lots)

    @property
    def cumulative_quote(self) -> Decimal:
        return self.spec.quote_amount(self.filled_quote_units)

    @property
    def fee_total(self) -> Decimal:
        return self.spec.quote_amount(self.fee_units)

    @property
    def fee_asset(self) -> str:
        return self.spec.quote

    @property
    def hold_asset(self) -> str:
        return self.spec.quote if self.side == "buy" else self.spec.base

    def _hold(self, units: int) -> Decimal:
        return self.spec.quote_amount(units) if self.side == "buy" else self.spec.base_amount(units)

    @property
    def hold_amount(self) -> Decimal:
        return self._hold(self.hold_amount_units)

    @property
    def hold_remaining(self) -> Decimal:
        return self._hold(self.hold_remaining_units)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def to_dict(self) -> dict[str, Any]:
        s = self.spec
        hold = s.quote_str if self.side == "buy" else s.base_str
        out: dict[str, Any] = {
            "order_id": self.order_id, "client_order_id": self.client_order_id, "symbol": s.symbol,
            "side": self.side, "type": self.type, "time_in_force": self.time_in_force,
            "post_only": self.post_only, "stp": self.stp,
            "price": s.price_str(self.price_ticks) if self.price_ticks else None,
            "quantity": s.qty_str(self.qty_lots) if self.qty_lots else None,
            "quote_quantity": s.quote_str(self.quote_qty_units) if self.quote_qty_units else None,
            "executed_quantity": s.qty_str(self.filled_lots),
            "cumulative_quote": s.quote_str(self.filled_quote_units),
            "fee_total": s.quote_str(self.fee_units), "fee_asset": s.quote,
            "status": "untriggered" if self.untriggered and self.status == "new" else self.status,
            "reason": self.reason,
            "hold_asset": self.hold_asset, "hold_amount": hold(self.hold_amount_units),
            "hold_remaining": hold(self.hold_remaining_units),
            "created_at": self.created_ms, "updated_at": self.updated_ms,
        }
        if self.cond_kind is not None:
            out["type"] = self.order_type
            out["stop_price"] = s.price_str(self.stop_ticks) if self.stop_ticks else None
            out["triggered_at"] = self.triggered_ms
            out["oco_order_id"] = self.oco_order_id
        if self.fills is not None:
            out["fills"] = [f.to_dict() for f in self.fills]
        return out


def result_from_state(spec: MarketSpec, o: OrderState, fills: list[tuple] | None = None) -> OrderResult:
    """Freeze an engine order state (fills: the taker's (trade_id, px, q, cost, fee) tuples)."""
    fr = None
    if fills is not None:
        ms = o.updated_ms
        fr = tuple(FillResult(t[0], t[1], t[2], t[3], t[4], False, ms, spec) for t in fills)
    return OrderResult(
        o.id, o.user_id, o.coid, spec, SIDE_NAMES[o.side], TYPE_NAMES[o.kind], TIF_NAMES[o.tif], o.post_only,
        STP_NAMES[o.stp], o.price if o.kind == 0 else 0, o.qty, o.quote_qty, o.filled, o.filled_quote, o.fee,
        o.hold_amount, o.hold_rem, o.status, o.reason, o.created_ms, o.updated_ms, fr, True,
        *_cond_fields(o.cond))


def _cond_fields(c: Any) -> tuple:
    if c is None:
        return (None, 0, None, None)
    return (c.kind, c.stop_ticks, c.oco, c.triggered_ms)


def _units(value: Decimal | None, decimals: int) -> int:
    return int(value.scaleb(decimals)) if value else 0


def result_from_row(spec: MarketSpec, r: Any, fills: list[Any] | None = None, created: bool = True) -> OrderResult:
    """An order row (repository.ORDER_COLUMNS) and optionally its trade rows."""
    side = r["side"]
    hold_dec = spec.quote_decimals if side == "buy" else spec.base_decimals
    fr = None
    if fills is not None:
        fr = tuple(_fill_from_trade(spec, t, r["id"]) for t in fills)
    return OrderResult(
        r["id"], r["user_id"], r["client_order_id"], spec, side, r["type"], r["time_in_force"], r["post_only"],
        r["stp"], int(r["price"] / spec.tick_size) if r["price"] is not None else 0,
        int(r["quantity"] / spec.lot_size) if r["quantity"] is not None else 0,
        _units(r["quote_quantity"], spec.quote_decimals), int(r["filled_quantity"] / spec.lot_size),
        _units(r["filled_quote"], spec.quote_decimals), _units(r["fee_total"], spec.quote_decimals),
        _units(r["hold_amount"], hold_dec), _units(r["hold_remaining"], hold_dec), r["status"], r["reason"],
        r["created_ms"], r["updated_ms"], fr, created, r.get("cond_kind"),
        int(r["stop_price"] / spec.tick_size) if r.get("stop_price") is not None else 0, r.get("oco_order_id"),
        r.get("triggered_ms"))


def _fill_from_trade(spec: MarketSpec, t: Any, order_id: int) -> FillResult:
    is_maker = t["maker_order_id"] == order_id
    buyer_side = (t["taker_side"] == "buy") != is_maker
    fee = t["buyer_fee"] if buyer_side else t["seller_fee"]
    return FillResult(t["id"], int(t["price"] / spec.tick_size), int(t["quantity"] / spec.lot_size),
                      _units(t["quote_quantity"], spec.quote_decimals), _units(fee, spec.quote_decimals),
                      is_maker, t["ms"], spec)


@dataclass(frozen=True, slots=True)
class UserTrade:
    """One trade from the point of view of one of its sides (Binance myTrades)."""

    trade_id: int
    order_id: int
    spec: MarketSpec
    side: str
    is_maker: bool
    price_ticks: int
    qty_lots: int
    cost_units: int
    fee_units: int
    time_ms: int

    @property
    def symbol(self) -> str:
        return self.spec.symbol

    @property
    def price(self) -> Decimal:
        return self.spec.price(self.price_ticks)

    @property
    def quantity(self) -> Decimal:
        return self.spec.qty(self.qty_lots)

    @property
    def quote_quantity(self) -> Decimal:
        return self.spec.quote_amount(self.cost_units)

    @property
    def commission(self) -> Decimal:
        return self.spec.quote_amount(self.fee_units)

    @property
    def commission_asset(self) -> str:
        return self.spec.quote

    @property
    def is_buyer(self) -> bool:
        return self.side == "buy"

    def to_dict(self) -> dict[str, Any]:
        s = self.spec
        return {"trade_id": self.trade_id, "order_id": self.order_id, "symbol": s.symbol, "side": self.side,
                "is_maker": self.is_maker, "price": s.price_str(self.price_ticks), "quantity": s.qty_str(self.qty_lots),
                "quote_quantity": s.quote_str(self.cost_units), "commission": s.quote_str(self.fee_units),
                "commission_asset": s.quote, "time": self.time_ms}


def user_trades_from_row(spec: MarketSpec, t: Any, user_id: int) -> list[UserTrade]:
    """A trade row as the user's side(s): two entries if the user was both buyer and seller."""
    out = []
    taker_buy = t["taker_side"] == "buy"
    for side, uid, fee in (("buy", t["buyer_user_id"], t["buyer_fee"]), ("sell", t["seller_user_id"], t["seller_fee"])):
        if uid != user_id:
            continue
        is_taker = (side == "buy") == taker_buy
        order_id = t["taker_order_id"] if is_taker else t["maker_order_id"]
        out.append(UserTrade(t["id"], order_id, spec, side, not is_taker, int(t["price"] / spec.tick_size),
                             int(t["quantity"] / spec.lot_size), _units(t["quote_quantity"], spec.quote_decimals),
                             _units(fee, spec.quote_decimals), t["ms"]))
    return out


@dataclass(frozen=True, slots=True)
class OcoResult:
    """An OCO pair as placed: its list id (the lower order id) and its two orders (stop leg first)."""

    order_list_id: int
    orders: tuple[OrderResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"order_list_id": self.order_list_id, "orders": [o.to_dict() for o in self.orders]}
