"""Holds, fees and the mapping of matching-engine events to ledger settlements. Pure integers.

Amounts are integer minor units of the asset (10^-decimals); a trade's cost price*qty is exact
(see `market.py`), only fees round.

Holds (what placing an order moves from available to locked):
    sell (limit or market by quantity)  qty in base
    buy limit                           cost(price, qty) + ceil(cost * fee_rate)
    buy market by quote budget          budget + ceil(budget * fee_rate)
    buy market by base quantity         executed as IOC at the price of the deepest level needed to
                                        fill it at that moment (`worst_price`); hold as a buy limit
                                        at that price
where fee_rate is the worse of taker and maker (`MarketSpec.hold_ppm`).

Fees (docs/adr/0004): both sides pay in the QUOTE asset; the buyer pays cost + fee, the seller gets
cost - fee. Fees round UP (the exchange's favour) *cumulatively per order*: after every fill the
order's total fee is ceil(sum of cost_i * rate_i), and the trade carries the difference. A one-fill
order pays exactly ceil(cost * rate); an order filled in many pieces never pays more than if it had
filled at once, which is what makes the hold above always sufficient (a per-fill ceiling would not be:
n small fills can round up n times).

Hold bookkeeping: `hold_rem` of an order is what is still locked for it. Each fill consumes from it
(buyer: cost + fee, seller: qty); when a buy order rests, any excess over what its remainder can still
need (price improvement, the fee rounding already paid) is released at once; when an order closes
(filled, cancelled, expired) the rest is released. So after every batch, for every account, locked ==
sum of its open orders' hold_rem (+ pending withdrawals) - the invariant `mycrypto verify` checks.
"""
from __future__ import annotations

from decimal import Decimal

from ...common.markets import PPM, MarketSpec
from ...wallet.domain.ledger import AVAILABLE, LOCKED, Hold, Leg, Posting
from .matching import BUY, CANCELED, EV_AMENDED, EV_DONE, EV_FILL, EV_RESTED, EXPIRED, FILLED, REJECTED

# trade.order_status values
NEW, PARTIALLY_FILLED, ST_FILLED, ST_CANCELED, ST_EXPIRED, ST_REJECTED = (
    "new", "partially_filled", "filled", "canceled", "expired", "rejected")
OPEN_STATUSES = (NEW, PARTIALLY_FILLED)
_DONE_STATUS = {FILLED: ST_FILLED, CANCELED: ST_CANCELED, EXPIRED: ST_EXPIRED, REJECTED: ST_REJECTED}


class SettlementError(RuntimeError):
    """An internal invariant broke (a hold would go negative...): a bug; the batch must not commit."""


class InsufficientHold(Exception):
    """The user's available balance cannot cover the hold; `asset` names it."""

    def __init__(self, asset: str) -> None:
        super().__init__(asset)
        self.asset = asset


def ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


class OrderState:
    """The mutable state of one order while the engine owns it (open orders + this batch's new ones)."""

    __slots__ = ("id", "user_id", "side", "kind", "tif", "post_only", "stp", "price", "qty", "quote_qty",
                 "filled", "filled_quote", "fee", "fee_exact", "hold_acc", "hold_amount", "hold_rem",
                 "status", "reason", "coid", "base_acc", "quote_acc", "created_ms", "updated_ms", "is_new",
                 "limit_price", "cond")

    def __init__(self, id: int, user_id: int, side: int, kind: int, *, tif: int, post_only: bool, stp: int,
                 price: int, qty: int, quote_qty: int, base_acc: int, quote_acc: int, coid: str | None,
                 created_ms: int, filled: int = 0, filled_quote: int = 0, fee: int = 0, fee_exact: int = 0,
                 hold_amount: int = 0, hold_rem: int = 0, status: str = NEW, reason: str | None = None,
                 is_new: bool = True, limit_price: int = 0, updated_ms: int | None = None) -> None:
        self.id = id
        self.user_id = user_id
        self.side = side
        self.kind = kind
        self.tif = tif
        self.post_only = post_only
        self.stp = stp
        self.price = price               # ticks; 0 for market orders
        self.qty = qty                   # lots (current total after amends); 0 for budget buys
        self.quote_qty = quote_qty       # quote units (budget buys), else 0
        self.filled = filled             # lots
        self.filled_quote = filled_quote  # quote units
        self.fee = fee                   # quote units charged so far
        self.fee_exact = fee_exact       # exact fee so far, in quote units * PPM
        self.hold_acc = quote_acc if side == BUY else base_acc
        self.hold_amount = hold_amount
        self.hold_rem = hold_rem
        self.status = status
        self.reason = reason
        self.coid = coid
        self.base_acc = base_acc
        self.quote_acc = quote_acc
        self.created_ms = created_ms
        self.updated_ms = created_ms if updated_ms is None else updated_ms
        self.is_new = is_new
        self.limit_price = limit_price or price   # the price a buy's hold is computed at
        self.cond = None   # a conditional order's domain.conditional.Condition (None: a plain order)

    @property
    def remaining(self) -> int:
        return self.qty - self.filled

    def add_fee(self, exact: int) -> int:
        """Accrue `exact` (quote units * PPM); return the fee to charge now (cumulative ceiling)."""
        self.fee_exact += exact
        total = -((-self.fee_exact) // PPM)
        charged = total - self.fee
        self.fee = total
        return charged


def buy_hold_needed(spec: MarketSpec, order: OrderState, rem_lots: int) -> int:
    """Quote units a buy order still needs to have locked to settle `rem_lots` more lots at worst."""
    cost = order.limit_price * rem_lots * spec.quote_per_ticklot
    return cost + ceil_div(order.fee_exact + cost * spec.hold_ppm, PPM) - order.fee


def initial_hold(spec: MarketSpec, side: int, price_ticks: int, qty_lots: int, quote_units: int) -> int:
    """The hold for a new order (see the module docstring)."""
    if side != BUY:
        return qty_lots * spec.base_per_lot
    if quote_units:
        return quote_units + ceil_div(quote_units * spec.hold_ppm, PPM)
    cost = price_ticks * qty_lots * spec.quote_per_ticklot
    return cost + ceil_div(cost * spec.hold_ppm, PPM)


def worst_price(asks: list[tuple[int, int, int]], qty_lots: int) -> tuple[int, int]:
    """(price of the deepest level a buy of `qty_lots` reaches, lots available up to it) over the
    ask levels (price, qty, count) best-first; the last level's price if the book cannot fill it."""
    need = qty_lots
    price = 0
    for price, level_qty, _count in asks:
        need -= level_qty
        if need <= 0:
            return price, qty_lots
    return price, qty_lots - need


class Batch:
    """Everything one group-commit batch changes, built while the engine runs its commands.

    `orders` is the engine's map of open orders (id -> OrderState); it is updated in place (a failed
    commit rebuilds it from the database). `avail` holds the available balances (minor units) read at
    the start of the batch for every account a command of the batch may hold; it is kept current
    (holds, releases, credits) so later commands in the batch see earlier ones.
    """

    __slots__ = ("spec", "fee_acc", "orders", "avail", "new_orders", "touched", "trades", "legs", "holds",
                 "book_changed", "hold_quote")

    def __init__(self, spec: MarketSpec, fee_acc: int, orders: dict[int, OrderState],
                 avail: dict[int, int]) -> None:
        self.spec = spec
        self.fee_acc = fee_acc
        self.orders = orders
        self.avail = avail
        self.new_orders: list[OrderState] = []
        self.touched: dict[int, OrderState] = {}   # pre-existing orders changed in this batch
        # (trade_id, taker_oid, maker_oid, taker_side, price, qty, cost, buyer_uid, seller_uid,
        #  buyer_fee, seller_fee, ms)
        self.trades: list[tuple] = []
        self.legs: list[tuple] = []     # per trade: (buyer_q, buyer_b, seller_b, seller_q, cost+bf, base, cost-sf, fees)
        self.holds: dict[int, int] = {}  # account -> net units locked (+) / released (-)
        self.hold_quote: set[int] = set()  # accounts in `holds` that are quote-asset accounts
        self.book_changed = False

    # ------------------------------------------------------------------ holds
    def place_hold(self, order: OrderState, units: int, asset: str) -> None:
        """Lock `units` for a new order, refusing (InsufficientHold) if available cannot cover it."""
        acc = order.hold_acc
        if units:
            available = self.avail.get(acc, 0)
            if available < units:
                raise InsufficientHold(asset)
            self.avail[acc] = available - units
            self.holds[acc] = self.holds.get(acc, 0) + units
            if order.side == BUY:
                self.hold_quote.add(acc)
        order.hold_amount = units
        order.hold_rem = units

    def _release(self, order: OrderState, units: int) -> None:
        if units <= 0:
            if units < 0:
                raise SettlementError(f"order {order.id}: negative release {units}")
            return
        if units > order.hold_rem:
            raise SettlementError(f"order {order.id}: release {units} > hold {order.hold_rem}")
        order.hold_rem -= units
        acc = order.hold_acc
        self.holds[acc] = self.holds.get(acc, 0) - units
        if order.side == BUY:
            self.hold_quote.add(acc)
        if acc in self.avail:
            self.avail[acc] += units

    def add_new(self, order: OrderState) -> None:
        self.new_orders.append(order)

    def _touch(self, order: OrderState, ms: int) -> None:
        order.updated_ms = ms
        if not order.is_new:
            self.touched[order.id] = order

    # ------------------------------------------------------------------ events
    def apply(self, events: list, taker: OrderState | None, ms: int, fills: list | None = None) -> None:
        """Settle the engine's events for one command. `fills` (if given) collects the taker's fills
        as (trade_id, price, qty, cost, fee) for the response."""
        orders = self.orders
        for ev in events:
            kind = ev[0]
            if kind == EV_FILL:
                _, tid, t_oid, m_oid, px, q, t_side, _m_rem = ev
                if taker is None or t_oid != taker.id:
                    raise SettlementError(f"fill for unexpected taker {t_oid}")
                maker = orders[m_oid]
                fee = self._fill(taker, maker, tid, px, q, t_side, ms)
                if fills is not None:
                    fills.append((tid, px, q, px * q * self.spec.quote_per_ticklot, fee))
            elif kind == EV_RESTED:
                _, oid, side, _px, rem = ev
                order = taker if taker is not None and taker.id == oid else None
                if order is None or order.remaining != rem:
                    raise SettlementError(f"unexpected rest of order {oid}")
                orders[oid] = order
                self.book_changed = True
                if side == BUY:
                    self._release(order, order.hold_rem - buy_hold_needed(self.spec, order, rem))
            elif kind == EV_DONE:
                oid, reason = ev[1], ev[2]
                order = taker if taker is not None and taker.id == oid else orders.get(oid)
                if order is None:
                    raise SettlementError(f"done for unknown order {oid}")
                if oid in orders:
                    del orders[oid]
                    self.book_changed = True
                order.status = _DONE_STATUS[reason]
                if len(ev) > 4:
                    order.reason = ev[4]
                self._release(order, order.hold_rem)
                self._touch(order, ms)
            elif kind == EV_AMENDED:
                _, oid, new_rem = ev
                order = orders[oid]
                order.qty = order.filled + new_rem
                self.book_changed = True
                if order.side == BUY:
                    self._release(order, order.hold_rem - buy_hold_needed(self.spec, order, new_rem))
                else:
                    self._release(order, order.hold_rem - new_rem * self.spec.base_per_lot)
                self._touch(order, ms)

    def _fill(self, taker: OrderState, maker: OrderState, tid: int, px: int, q: int, taker_side: int,
              ms: int) -> int:
        spec = self.spec
        cost = px * q * spec.quote_per_ticklot
        base_units = q * spec.base_per_lot
        if taker_side == BUY:
            buyer, seller = taker, maker
            bf = buyer.add_fee(cost * spec.taker_ppm)
            sf = seller.add_fee(cost * spec.maker_ppm)
            taker_fee = bf
        else:
            buyer, seller = maker, taker
            bf = buyer.add_fee(cost * spec.maker_ppm)
            sf = seller.add_fee(cost * spec.taker_ppm)
            taker_fee = sf
        buyer.hold_rem -= cost + bf
        seller.hold_rem -= base_units
        if buyer.hold_rem < 0 or seller.hold_rem < 0:
            raise SettlementError(f"trade {tid}: hold would go negative (buyer {buyer.id} {buyer.hold_rem}, "
                                  f"seller {seller.id} {seller.hold_rem})")
        for o in (buyer, seller):
            o.filled += q
            o.filled_quote += cost
            if o.status == NEW:
                o.status = PARTIALLY_FILLED
        self._touch(maker, ms)
        taker.updated_ms = ms
        proceeds = cost - sf
        self.trades.append((tid, taker.id, maker.id, taker_side, px, q, cost, buyer.user_id, seller.user_id,
                            bf, sf, ms))
        self.legs.append((buyer.quote_acc, buyer.base_acc, seller.base_acc, seller.quote_acc,
                          cost + bf, base_units, proceeds, bf + sf))
        avail = self.avail
        if buyer.base_acc in avail:
            avail[buyer.base_acc] += base_units
        if seller.quote_acc in avail:
            avail[seller.quote_acc] += proceeds
        return taker_fee

    # ------------------------------------------------------------------ ledger objects
    def postings(self) -> list[Posting]:
        """One balanced posting per trade (kind 'trade', ref '<market_id>:<trade_id>')."""
        spec = self.spec
        base, quote = spec.base, spec.quote
        qd, bd = -spec.quote_decimals, -spec.base_decimals
        fee_acc = self.fee_acc
        prefix = f"{spec.id}:"
        out = []
        for trade, (bq, bb, sb, sq, paid, base_units, proceeds, fees) in zip(self.trades, self.legs):
            b = Decimal(base_units).scaleb(bd)
            legs = [Leg(bq, quote, Decimal(-paid).scaleb(qd), LOCKED),
                    Leg(bb, base, b, AVAILABLE),
                    Leg(sb, base, -b, LOCKED)]
            if proceeds:
                legs.append(Leg(sq, quote, Decimal(proceeds).scaleb(qd), AVAILABLE))
            if fees:
                legs.append(Leg(fee_acc, quote, Decimal(fees).scaleb(qd), AVAILABLE))
            out.append(Posting("trade", "trade", prefix + str(trade[0]), tuple(legs)))
        return out

    def hold_changes(self) -> list[Hold]:
        """The batch's net hold change per account (positive locks, negative releases)."""
        qd, bd = -self.spec.quote_decimals, -self.spec.base_decimals
        quote = self.hold_quote
        return [Hold(acc, Decimal(units).scaleb(qd if acc in quote else bd))
                for acc, units in self.holds.items() if units]

    @property
    def empty(self) -> bool:
        return not (self.new_orders or self.touched or self.trades or self.holds)
