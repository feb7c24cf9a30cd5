"""Trade use cases, independent of HTTP: place, cancel, amend, query orders and trades, halt markets,
and the market-data getters. The /api/v1/trade router and the Binance-compatible /api/v3 adapter
are both thin layers over `TradeService`.

Commands that change a book (place, cancel, cancel-all, amend) go to the market's engine (this
process's sequencer, see engine/) and return only after the batch that contains them committed.
If another replica owns the market, `NotOwnerHere` tells the caller where to forward the request.
Reads of orders and trades come from the database (committed state, keyset pagination).
"""
from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from ..auth.audit import record as audit
from ..auth.principal import Principal
from ..common.bounds import MAX_DB_ID, MAX_TIME_MS
from ..common.errors import AppError, Forbidden
from ..common.markets import HALTED, TRADING, MarketSpec
from ..common.money import parse_amount
from ..marketdata.service import Candle, MarketDataService
from ..marketdata.views import DepthSnapshot, PublicTrade, Ticker
from . import repository as repo
from .domain.conditional import KINDS as CONDITIONAL_KINDS
from .domain.conditional import STOP_LIMIT, STOP_MARKET, validate_conditional
from .domain.rules import OrderRuleError, quantity_lots, validate_order
from .domain.settlement import OPEN_STATUSES
from .engine import Amend, Cancel, CancelAll, Duplicate, Place
from .engine.commands import PlaceOco
from .errors import (DuplicateClientOrderId, InvalidCursor, InvalidOrder, InvalidParameter, MarketHalted,
                     MarketNotFound, NotOwnerHere, OrderNotFound, OrderNotOpen, UnknownMarket)
from .registry import EngineRegistry
from .results import OcoResult, OrderResult, UserTrade, result_from_row, user_trades_from_row
from .schemas import PlaceOcoRequest, PlaceOrderRequest

T = TypeVar("T")
ORDER_STATUSES = ("new", "partially_filled", "filled", "canceled", "rejected", "expired")
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _encode_cursor(*parts: int) -> str:
    return base64.urlsafe_b64encode(":".join(map(str, parts)).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, n: int) -> tuple[int, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = tuple(int(p) for p in raw.split(":"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor() from None
    if len(parts) != n or not 0 <= parts[0] <= MAX_TIME_MS or not all(0 <= p <= MAX_DB_ID for p in parts):
        raise InvalidCursor()
    return parts


def _time_param(ms: int | None, name: str) -> int | None:
    """An epoch-ms time filter the database can represent (0 .. year 9999), else 400 invalid_<name>."""
    if ms is not None and not 0 <= ms <= MAX_TIME_MS:
        raise InvalidParameter(f"{name} must be epoch milliseconds between 0 and {MAX_TIME_MS}.",
                               code=f"invalid_{name}")
    return ms


def check_from_id(from_id: int | None) -> int | None:
    if from_id is not None and not 0 <= from_id <= MAX_DB_ID:
        raise InvalidParameter(f"from_id must be between 0 and {MAX_DB_ID}.", code="invalid_from_id")
    return from_id


def _order_id(order_id: int | None) -> int | None:
    """An order id that cannot exist (outside BIGINT) is simply not found."""
    if order_id is not None and not 0 < order_id <= MAX_DB_ID:
        raise OrderNotFound()
    return order_id


def _amount(value: Any, field: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        if not value.is_finite() or value <= 0:
            raise InvalidOrder(f"{field} must be a positive amount.", code="invalid_amount", details={"field": field})
        return value
    return parse_amount(value, field=field)


class TradeService:
    def __init__(self, db: Any, registry: EngineRegistry, marketdata: MarketDataService) -> None:
        self.db = db
        self.registry = registry
        self.marketdata = marketdata

    # ------------------------------------------------------------------ markets
    def market(self, symbol: str, *, for_path: bool = False) -> MarketSpec:
        """The market's rules (404 unknown_market for a path, 400 for a request body)."""
        spec = self.registry.spec(symbol) if isinstance(symbol, str) else None
        if spec is None:
            raise (MarketNotFound if for_path else UnknownMarket)()
        return spec

    def markets(self) -> list[MarketSpec]:
        return sorted(self.registry.specs.values(), key=lambda s: s.id)

    @staticmethod
    def server_time_ms() -> int:
        return time.time_ns() // 1_000_000

    async def _engine(self, spec: MarketSpec) -> Any:
        engine = self.registry.engine(spec.id)
        if engine is None:
            url = self.registry.owner_url(spec.id)
            if url is None:
                await self.registry.refresh_owners()
                url = self.registry.owner_url(spec.id)
            raise NotOwnerHere(spec.symbol, url)
        return engine

    # ------------------------------------------------------------------ commands
    async def place_order(self, principal: Principal, req: PlaceOrderRequest) -> OrderResult:
        """Validate, hold, match, settle and commit one order; `created` is False for a repeated client id."""
        principal.require_verified()
        principal.require("trade")
        spec = self.market(req.symbol)
        if spec.halted:
            raise MarketHalted()
        cond = None
        try:
            if isinstance(req.type, str) and req.type.lower() in CONDITIONAL_KINDS:
                intent, cond = validate_conditional(
                    spec, kind=req.type.lower(), side=req.side, stop_price=_amount(req.stop_price, "stop_price"),
                    price=_amount(req.price, "price"), quantity=_amount(req.quantity, "quantity"),
                    quote_quantity=_amount(req.quote_quantity, "quote_quantity"), time_in_force=req.time_in_force,
                    post_only=req.post_only, stp=req.stp, client_order_id=req.client_order_id)
            else:
                if req.stop_price is not None:
                    raise OrderRuleError("stop_price_not_allowed", "stop_price is only for stop and take-profit "
                                         "orders.", {"field": "stop_price"})
                intent = validate_order(
                    spec, side=req.side, type=req.type, time_in_force=req.time_in_force, post_only=req.post_only,
                    stp=req.stp, price=_amount(req.price, "price"), quantity=_amount(req.quantity, "quantity"),
                    quote_quantity=_amount(req.quote_quantity, "quote_quantity"),
                    client_order_id=req.client_order_id)
        except OrderRuleError as err:
            raise InvalidOrder.from_rule(err) from None
        engine = await self._engine(spec)
        base_acc, quote_acc = await self.registry.accounts.pair(principal.user_id, spec)
        outcome = await engine.submit(Place(principal.user_id, intent, base_acc, quote_acc, cond=cond))
        if type(outcome) is Duplicate:
            return await self._duplicate(principal, spec, req, outcome.order_id)
        return outcome

    async def place_oco(self, principal: Principal, req: PlaceOcoRequest) -> OcoResult:
        """Place an OCO pair (a limit leg and a stop leg, linked: docs/trading.md), both or neither."""
        principal.require_verified()
        principal.require("trade")
        spec = self.market(req.symbol)
        if spec.halted:
            raise MarketHalted()
        price, stop_price = _amount(req.price, "price"), _amount(req.stop_price, "stop_price")
        stop_limit = _amount(req.stop_limit_price, "stop_limit_price")
        quantity = _amount(req.quantity, "quantity")
        try:
            # the limit leg is maker-only (Binance's LIMIT_MAKER leg): an OCO never trades on placement
            limit_intent = validate_order(spec, side=req.side, type="limit", price=price, quantity=quantity,
                                          post_only=True, stp=req.stp, client_order_id=req.limit_client_order_id)
            stop_intent, cond = validate_conditional(
                spec, kind=STOP_LIMIT if stop_limit is not None else STOP_MARKET, side=req.side,
                stop_price=stop_price, price=stop_limit, quantity=quantity, stp=req.stp,
                time_in_force=req.stop_time_in_force if stop_limit is not None else None,
                client_order_id=req.stop_client_order_id)
        except OrderRuleError as err:
            raise InvalidOrder.from_rule(err) from None
        sell = limit_intent.side != 0
        if (limit_intent.price_ticks <= cond.stop_ticks) if sell else (limit_intent.price_ticks >= cond.stop_ticks):
            raise InvalidOrder("An OCO sell needs price above stop_price; a buy, price below stop_price.",
                               code="invalid_oco_prices", details={"field": "stop_price"})
        if req.limit_client_order_id is not None and req.limit_client_order_id == req.stop_client_order_id:
            raise InvalidOrder("The two legs need different client order ids.", code="duplicate_client_order_id",
                               details={"field": "stop_client_order_id"})
        engine = await self._engine(spec)
        base_acc, quote_acc = await self.registry.accounts.pair(principal.user_id, spec)
        uid = principal.user_id
        outcome = await engine.submit(PlaceOco(uid, Place(uid, limit_intent, base_acc, quote_acc),
                                               Place(uid, stop_intent, base_acc, quote_acc, cond=cond)))
        return OcoResult(min(o.order_id for o in outcome), tuple(outcome))

    async def _duplicate(self, principal: Principal, spec: MarketSpec, req: PlaceOrderRequest,
                         order_id: int) -> OrderResult:
        row = await repo.order_by_id(self.db, order_id)
        if row is None or row["user_id"] != principal.user_id:  # cannot happen: the id came from our lookup
            raise OrderNotFound()
        existing = await self._result(row)
        if not _same_request(existing, spec, req):
            raise DuplicateClientOrderId(details={"order_id": order_id})
        return _with(existing, created=False)

    async def cancel_order(self, principal: Principal, order_id: int | None = None,
                           client_order_id: str | None = None, symbol: str | None = None) -> OrderResult:
        """Cancel one open order of the caller (404 for an order that is not theirs)."""
        principal.require("trade")
        order_id = await self._resolve(principal, _order_id(order_id), client_order_id, symbol)
        engine = self.registry.engine_with_open_order(order_id)
        if engine is None:
            spec = await self._open_order_market(principal, order_id, symbol)
            engine = await self._engine(spec)
        return await engine.submit(Cancel(principal.user_id, order_id))

    async def cancel_all(self, principal: Principal, symbol: str | None = None) -> list[OrderResult]:
        """Cancel every open order of the caller (in one market, or in all markets)."""
        principal.require("trade")
        specs = [self.market(symbol)] if symbol is not None else self.markets()
        out: list[OrderResult] = []
        remote: list[MarketSpec] = []
        for spec in specs:
            engine = self.registry.engine(spec.id)
            if engine is None:
                if symbol is not None or await self._has_open_orders(principal.user_id, spec.id):
                    remote.append(spec)
                continue
            out.extend(await engine.submit(CancelAll(principal.user_id)))
        if remote:
            # markets owned elsewhere: the caller forwards one request per market
            await self._engine(remote[0])
        return out

    async def amend_order(self, principal: Principal, order_id: int, quantity: Any) -> OrderResult:
        """Reduce an open order's total quantity (keeps its time priority)."""
        principal.require("trade")
        _order_id(order_id)
        engine = self.registry.engine_with_open_order(order_id)
        spec = engine.spec if engine is not None else await self._open_order_market(principal, order_id, None)
        qty = _amount(quantity, "quantity")
        try:
            lots = qty / spec.lot_size
            if lots != lots.to_integral_value():
                quantity_lots(spec, qty)  # raises quantity_step with the standard message
        except OrderRuleError as err:
            raise InvalidOrder.from_rule(err) from None
        engine = engine or await self._engine(spec)
        return await engine.submit(Amend(principal.user_id, order_id, int(lots)))

    async def _resolve(self, principal: Principal, order_id: int | None, client_order_id: str | None,
                       symbol: str | None) -> int:
        if order_id is not None:
            return order_id
        if client_order_id is None:
            raise InvalidParameter("Give an order id or a client_order_id.", code="missing_order_id")
        row = await repo.order_by_client_id(self.db, principal.user_id, client_order_id)
        if row is None or (symbol is not None and self.market(symbol).id != row["market_id"]):
            raise OrderNotFound()
        return row["id"]

    async def _open_order_market(self, principal: Principal, order_id: int, symbol: str | None) -> MarketSpec:
        row = await repo.order_locator(self.db, order_id)
        if row is None or row["user_id"] != principal.user_id:
            raise OrderNotFound()   # never reveal another user's order
        spec = self.registry.specs.get(row["market_id"])
        if spec is None or (symbol is not None and spec.symbol != symbol):
            raise OrderNotFound()
        if row["status"] not in OPEN_STATUSES:
            raise OrderNotOpen(details={"status": row["status"]})
        return spec

    async def _has_open_orders(self, user_id: int, market_id: int) -> bool:
        return bool(await self.db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM trade.spot_order WHERE user_id = $1 AND market_id = $2 "
            "AND status IN ('new', 'partially_filled'))", user_id, market_id))

    async def has_open_orders(self, principal: Principal, symbol: str) -> bool:
        return await self._has_open_orders(principal.user_id, self.market(symbol).id)

    # ------------------------------------------------------------------ queries
    async def _result(self, row: Any, with_fills: bool = True) -> OrderResult:
        spec = self.registry.specs[row["market_id"]]
        fills = await repo.order_fills(self.db, row["market_id"], row["id"]) if with_fills else None
        return result_from_row(spec, row, fills)

    async def get_order(self, principal: Principal, order_id: int | None = None,
                        client_order_id: str | None = None, with_fills: bool = True) -> OrderResult:
        """One of the caller's orders by id or client order id (404 otherwise)."""
        if order_id is not None:
            row = await repo.order_by_id(self.db, _order_id(order_id))
        elif client_order_id is not None:
            row = await repo.order_by_client_id(self.db, principal.user_id, client_order_id)
        else:
            raise InvalidParameter("Give an order id or a client_order_id.", code="missing_order_id")
        if row is None or row["user_id"] != principal.user_id:
            raise OrderNotFound()
        return await self._result(row, with_fills)

    async def open_orders(self, principal: Principal, symbol: str | None = None,
                          limit: int = MAX_PAGE) -> list[OrderResult]:
        """The newest `limit` (at most MAX_PAGE) open orders: every list the API answers has a cap."""
        market_id = self.market(symbol).id if symbol is not None else None
        rows = await repo.open_orders(self.db, principal.user_id, market_id, _limit(limit))
        return [result_from_row(self.registry.specs[r["market_id"]], r) for r in rows]

    async def order_history(self, principal: Principal, *, symbol: str | None = None,
                            status: str | list[str] | None = None, start_ms: int | None = None,
                            end_ms: int | None = None, limit: int = 100, cursor: str | None = None) -> Page[OrderResult]:
        """The caller's orders, newest first, with a keyset cursor for the next page."""
        market_id = self.market(symbol).id if symbol is not None else None
        statuses = [status] if isinstance(status, str) else status
        if statuses and any(s not in ORDER_STATUSES and s != "untriggered" for s in statuses):
            raise InvalidParameter(f"status must be one of {', '.join(ORDER_STATUSES)}, untriggered.",
                                   code="invalid_status")
        limit = _limit(limit)
        before = _decode_cursor(cursor, 2) if cursor else None
        rows = await repo.order_history(self.db, principal.user_id, market_id=market_id, statuses=statuses,
                                        start_ms=_time_param(start_ms, "start_time"),
                                        end_ms=_time_param(end_ms, "end_time"), before=before, limit=limit + 1)
        items = [result_from_row(self.registry.specs[r["market_id"]], r) for r in rows[:limit]]
        nxt = _encode_cursor(rows[limit - 1]["created_ms"], rows[limit - 1]["id"]) if len(rows) > limit else None
        return Page(items, nxt)

    async def my_trades(self, principal: Principal, *, symbol: str | None = None, start_ms: int | None = None,
                        end_ms: int | None = None, limit: int = 100, cursor: str | None = None) -> Page[UserTrade]:
        """The caller's trades (either side), newest first, with fees and maker/taker role."""
        market_id = self.market(symbol).id if symbol is not None else None
        limit = _limit(limit)
        before = _decode_cursor(cursor, 3) if cursor else None
        rows = await repo.my_trades(self.db, principal.user_id, market_id=market_id,
                                    start_ms=_time_param(start_ms, "start_time"),
                                    end_ms=_time_param(end_ms, "end_time"), before=before, limit=limit + 1)
        items: list[UserTrade] = []
        for r in rows[:limit]:
            items.extend(user_trades_from_row(self.registry.specs[r["market_id"]], r, principal.user_id))
        nxt = None
        if len(rows) > limit:
            last = rows[limit - 1]
            nxt = _encode_cursor(last["ms"], last["market_id"], last["id"])
        return Page(items, nxt)

    async def orders_from(self, principal: Principal, symbol: str, *, from_id: int | None, start_ms: int | None,
                          end_ms: int | None, limit: int) -> list[OrderResult]:
        """The caller's orders in one market, oldest first, from an order id and/or a creation time
        (both bounds inclusive; the Binance adapter's allOrders)."""
        spec = self.market(symbol)
        rows = await repo.orders_ascending(self.db, principal.user_id, spec.id, from_id=from_id, start_ms=start_ms,
                                           end_ms=end_ms, limit=limit)
        return [result_from_row(spec, r) for r in rows]

    async def trades_from(self, principal: Principal, symbol: str, *, from_id: int | None, order_id: int | None,
                          start_ms: int | None, end_ms: int | None, limit: int) -> list[UserTrade]:
        """The caller's trades in one market, oldest first, from a trade id, a time, or of one order
        (the Binance adapter's myTrades); a trade between two of the caller's orders appears twice."""
        spec = self.market(symbol)
        rows = await repo.user_trades_ascending(self.db, principal.user_id, spec.id, from_id=from_id,
                                                order_id=order_id, start_ms=start_ms, end_ms=end_ms, limit=limit)
        return [t for r in rows for t in user_trades_from_row(spec, r, principal.user_id)]

    # ------------------------------------------------------------------ admin
    async def set_market_status(self, symbol: str, halted: bool, *, actor_user_id: int | None = None,
                                reason: str | None = None, ip: str | None = None,
                                user_agent: str | None = None) -> MarketSpec:
        """Halt (refuse new orders, allow cancels) or resume a market; audit-logged."""
        spec = self.market(symbol, for_path=True)
        status = HALTED if halted else TRADING
        async with self.db.unit_of_work() as uow:
            previous = await repo.set_market_status(uow.conn, spec.id, status)
            await audit(uow.conn, "market_halted" if halted else "market_resumed", user_id=actor_user_id,
                        actor_user_id=actor_user_id, ip=ip, user_agent=user_agent,
                        details={"symbol": spec.symbol, "previous": previous, "reason": reason})
            await uow.commit()
        self.registry.set_status(spec.id, status)
        return self.registry.specs[spec.id]

    # ------------------------------------------------------------------ market data
    async def depth(self, symbol: str, limit: int = 100) -> DepthSnapshot:
        return await self.marketdata.depth(self.market(symbol, for_path=True), _depth_limit(limit))

    async def recent_trades(self, symbol: str, limit: int = 500, from_id: int | None = None,
                            start_ms: int | None = None, end_ms: int | None = None) -> list[PublicTrade]:
        return await self.marketdata.recent_trades(self.market(symbol, for_path=True), _limit(limit),
                                                   check_from_id(from_id), start_ms, end_ms)

    async def public_trades_from(self, symbol: str, *, from_id: int | None, start_ms: int | None,
                                 end_ms: int | None, limit: int, newest: bool = False) -> list[PublicTrade]:
        """A market's trades from the database, oldest first (see MarketDataService.trades_from)."""
        return await self.marketdata.trades_from(self.market(symbol), from_id=from_id, start_ms=start_ms,
                                                 end_ms=end_ms, limit=limit, newest=newest)

    async def ticker(self, symbol: str) -> Ticker:
        return await self.marketdata.ticker(self.market(symbol, for_path=True))

    async def tickers(self) -> list[Ticker]:
        return [await self.marketdata.ticker(s) for s in self.markets()]

    async def candles(self, symbol: str, interval: str, start_ms: int | None = None, end_ms: int | None = None,
                      limit: int = 500) -> list[Candle]:
        from ..marketdata.candles import BadInterval

        spec = self.market(symbol, for_path=True)
        start_ms, end_ms = _time_param(start_ms, "start_time"), _time_param(end_ms, "end_time")
        try:
            return await self.marketdata.candles(spec, interval, start_ms, end_ms, limit)
        except BadInterval:
            raise InvalidParameter("interval must look like 1m, 5m, 15m, 1h, 4h, 1d (or any Nm/Nh/Nd/Nw).",
                                   code="invalid_interval") from None


def _limit(limit: int) -> int:
    if not isinstance(limit, int) or limit < 1 or limit > MAX_PAGE:
        raise InvalidParameter(f"limit must be between 1 and {MAX_PAGE}.", code="invalid_limit")
    return limit


def _depth_limit(limit: int) -> int:
    if not isinstance(limit, int) or limit < 1 or limit > 5000:
        raise InvalidParameter("depth must be between 1 and 5000.", code="invalid_depth")
    return limit


def _with(result: OrderResult, **changes: Any) -> OrderResult:
    from dataclasses import replace

    return replace(result, **changes)


def _same_request(o: OrderResult, spec: MarketSpec, req: PlaceOrderRequest) -> bool:
    """Does a repeated client order id describe the same order as the stored one?"""
    def same_amount(stored: Decimal | None, given: Any) -> bool:
        if given is None:
            return stored is None
        try:
            return stored is not None and Decimal(str(given)) == stored
        except ArithmeticError:
            return False

    return (o.spec.id == spec.id and str(req.side).lower() == o.side and str(req.type).lower() == o.order_type
            and same_amount(o.stop_price, req.stop_price)
            and same_amount(o.price, req.price) and same_amount(o.quantity, req.quantity)
            and same_amount(o.quote_quantity, req.quote_quantity))


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("Administrators only.", code="admin_required")


__all__ = ["TradeService", "Page", "PlaceOrderRequest", "AppError"]
