"""Binance use cases over the platform's services: one method per /api/v3 endpoint, taking checked
`Params` (and the caller's `Principal` for signed endpoints) and returning Binance-shaped JSON.

Orders, cancels and every read of orders, trades and market data go through `TradeService` (the
same engine, ledger and ownership checks as /api/v1/trade); balances come from the wallet's ledger
accounts (`wallet.ledger.balances`). What this module adds is Binance's vocabulary: BTCUSDT
symbols, BUY/SELL and LIMIT/LIMIT_MAKER/MARKET, newOrderRespType, -NNNN error codes, ascending
lists, klines for every Binance interval.
"""
from __future__ import annotations

import logging
import secrets
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from ...auth.principal import Principal
from ...common.errors import AppError
from ...common.markets import MarketSpec, decimals_of
from ...container import Container
from ...trading.domain.conditional import KINDS as CONDITIONAL_KINDS
from ...trading.domain.conditional import validate_conditional
from ...trading.domain.rules import OrderRuleError, validate_order
from ...trading.errors import MarketHalted
from ...trading.results import OrderResult
from ...trading.schemas import PlaceOcoRequest, PlaceOrderRequest
from ...trading.service import TradeService
from ...wallet.ledger import balances as wallet_balances
from . import schemas as s
from .domain import codes as c
from .domain.codes import Reject
from .domain.intervals import DAYS_FOR_MONTHS, INTERVALS, MONTH, merge_months
from .domain.params import Params
from .domain.symbols import SymbolMap
from .errors import CANCEL, ORDER, QUERY, rule_reject, translate

log = logging.getLogger("mycrypto.compat.binance")

SIDES = ("BUY", "SELL")
TIFS = ("GTC", "IOC", "FOK")
RESP_TYPES = ("ACK", "RESULT", "FULL")
MAX_LIST = 1000
AVG_PRICE_MINUTES = 5


def _client_order_id() -> str:
    """Binance gives every order a client id; so do we when the caller sends none (22 characters)."""
    return "mc" + secrets.token_urlsafe(15)


def _limit(p: Params, default: int, hi: int = MAX_LIST) -> int:
    return p.integer("limit", default, lo=1, hi=hi)  # type: ignore[return-value]


def _candle_row(k: Any) -> tuple:
    return (k.open_time_ms, k.close_time_ms, k.open, k.high, k.low, k.close, k.volume, k.quote_volume,
            k.trade_count, k.first_trade_id, k.last_trade_id)


class BinanceAdapter:
    def __init__(self, container: Container) -> None:
        self.container = container
        self._clashes_logged = False

    @property
    def trade(self) -> TradeService:
        return self.container.trade

    # ------------------------------------------------------------------ symbols
    def symbols(self) -> SymbolMap:
        found = SymbolMap.build(self.trade.markets())
        if found.clashes and not self._clashes_logged:
            self._clashes_logged = True
            log.error("markets left out of the Binance API: their Binance symbol is taken",
                      extra={"markets": list(found.clashes)})
        return found

    def spec(self, symbol: str | None, symbols: SymbolMap | None = None) -> MarketSpec:
        if symbol is None:
            raise c.mandatory("symbol")
        native = (symbols or self.symbols()).native(symbol)
        if native is None:
            raise Reject(c.BAD_SYMBOL, c.MSG_BAD_SYMBOL)
        return self.trade.market(native)

    def specs(self, p: Params) -> tuple[list[MarketSpec], SymbolMap]:
        """`symbol`, `symbols=[...]` or (neither) every market."""
        names = p.one_symbol_or_many()
        symbols = self.symbols()
        if names is None:
            return [self.trade.market(n) for n in symbols.to_binance], symbols
        return [self.spec(n, symbols) for n in names], symbols

    def name(self, spec: MarketSpec) -> str:
        return self.symbols().binance(spec.symbol)

    # ------------------------------------------------------------------ general
    def server_time(self) -> dict[str, Any]:
        return {"serverTime": self.trade.server_time_ms()}

    def exchange_info(self, p: Params, weight_per_minute: int, orders_per_10s: int) -> dict[str, Any]:
        perms = p.get("permissions")
        specs, symbols = self.specs(p)
        if perms is not None and "SPOT" not in perms.upper():
            specs = []
        return {
            "timezone": "UTC", "serverTime": self.trade.server_time_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": weight_per_minute},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": orders_per_10s},
            ],
            "exchangeFilters": [],
            "symbols": [s.symbol_info(spec, symbols.binance(spec.symbol)) for spec in specs],
        }

    # ------------------------------------------------------------------ market data
    async def depth(self, p: Params) -> dict[str, Any]:
        spec = self.spec(p.symbol())
        limit = min(p.integer("limit", 100, lo=1), 5000)   # Binance truncates above 5000
        return s.depth(await self.trade.depth(spec.symbol, limit))

    async def trades(self, p: Params) -> list[dict[str, Any]]:
        spec = self.spec(p.symbol())
        newest_first = await self.trade.recent_trades(spec.symbol, _limit(p, 500))
        return [s.public_trade(t) for t in reversed(newest_first)]

    async def historical_trades(self, p: Params) -> list[dict[str, Any]]:
        spec = self.spec(p.symbol())
        from_id = p.integer("fromId", lo=0)
        if from_id is None:
            return await self.trades(p)
        rows = await self.trade.public_trades_from(spec.symbol, from_id=from_id, start_ms=None, end_ms=None,
                                                   limit=_limit(p, 500))
        return [s.public_trade(t) for t in rows]

    async def agg_trades(self, p: Params) -> list[dict[str, Any]]:
        spec = self.spec(p.symbol())
        limit = _limit(p, 500)
        from_id = p.integer("fromId", lo=0)
        start, end = p.time_range()
        if from_id is None and start is None and end is None:
            rows = list(reversed(await self.trade.recent_trades(spec.symbol, limit)))
        else:
            rows = await self.trade.public_trades_from(spec.symbol, from_id=from_id, start_ms=start, end_ms=end,
                                                       limit=limit, newest=from_id is None and start is None)
        return [s.agg_trade(t) for t in rows]

    async def klines(self, p: Params) -> list[list[Any]]:
        spec = self.spec(p.symbol())
        interval = p.required("interval")
        if interval not in INTERVALS:
            raise Reject(c.BAD_INTERVAL, c.MSG_BAD_INTERVAL)
        tz = p.get("timeZone")
        if tz is not None and tz not in ("0", "+0", "-0", "00:00", "+00:00", "-00:00"):
            raise c.unsupported("Klines are in UTC only (timeZone=0).")
        limit = _limit(p, 500)
        start, end = p.time_range()
        if interval == MONTH:
            days = await self.trade.candles(spec.symbol, "1d", start, end, DAYS_FOR_MONTHS)
            rows = merge_months([_candle_row(k) for k in days])
            rows = rows[:limit] if start is not None else rows[-limit:]
        else:
            rows = [_candle_row(k) for k in await self.trade.candles(spec.symbol, interval, start, end, limit)]
        return [s.kline(r) for r in rows]

    async def _last_trade(self, spec: MarketSpec) -> Any:
        recent = await self.trade.recent_trades(spec.symbol, 1)
        return recent[0] if recent else None

    async def avg_price(self, p: Params) -> dict[str, Any]:
        spec = self.spec(p.symbol())
        now = self.trade.server_time_ms()
        since = now - now % 60_000 - (AVG_PRICE_MINUTES - 1) * 60_000
        candles = await self.trade.candles(spec.symbol, "1m", since, None, AVG_PRICE_MINUTES)
        volume = sum((k.volume for k in candles), Decimal(0))
        quote = sum((k.quote_volume for k in candles), Decimal(0))
        last = await self._last_trade(spec)
        if volume:
            price = (quote / volume).quantize(Decimal(1).scaleb(-s.PLACES), rounding=ROUND_HALF_EVEN)
        else:   # no trade in the window: the last price (as Binance does for a quiet symbol)
            price = last.price if last is not None else Decimal(0)
        return {"mins": AVG_PRICE_MINUTES, "price": s.dec(price), "closeTime": last.time_ms if last else now}

    async def ticker_24hr(self, p: Params) -> Any:
        kind = p.choice("type", ("FULL", "MINI"), c.invalid("type", "Use FULL or MINI."), default="FULL")
        specs, symbols = self.specs(p)
        out = []
        for spec in specs:
            t = await self.trade.ticker(spec.symbol)
            name = symbols.binance(spec.symbol)
            if kind == "MINI":
                out.append(s.ticker_mini(t, name))
            else:
                last = await self._last_trade(spec) if t.trade_count else None
                out.append(s.ticker_full(t, name, last.quantity if last else None))
        return out[0] if p.has("symbol") else out

    async def ticker_price(self, p: Params) -> Any:
        specs, symbols = self.specs(p)
        out = [s.ticker_price(await self.trade.ticker(x.symbol), symbols.binance(x.symbol)) for x in specs]
        return out[0] if p.has("symbol") else out

    async def book_ticker(self, p: Params) -> Any:
        specs, symbols = self.specs(p)
        out = [s.book_ticker(await self.trade.ticker(x.symbol), symbols.binance(x.symbol)) for x in specs]
        return out[0] if p.has("symbol") else out

    # ------------------------------------------------------------------ account
    def _fee_rates(self) -> tuple[Decimal, Decimal]:
        markets = self.trade.markets()
        maker = max((m.maker_fee for m in markets), default=Decimal(0))
        taker = max((m.taker_fee for m in markets), default=Decimal(0))
        return maker, taker

    async def account(self, principal: Principal, p: Params) -> dict[str, Any]:
        omit_zero = (p.get("omitZeroBalances") or "false").lower() == "true"
        rows = await wallet_balances(self.trade.db, principal.user_id)
        balances = [{"asset": r["asset"], "free": s.dec(r["available"]), "locked": s.dec(r["locked"])}
                    for r in rows if not (omit_zero and r["available"] == 0 and r["locked"] == 0)]
        maker, taker = self._fee_rates()
        can_trade = "trade" in principal.permissions and principal.email_verified
        return {
            "makerCommission": s.commission_bps(maker), "takerCommission": s.commission_bps(taker),
            "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": s.dec(maker), "taker": s.dec(taker), "buyer": s.ZERO, "seller": s.ZERO},
            "canTrade": can_trade, "canWithdraw": "withdraw" in principal.permissions, "canDeposit": True,
            "brokered": False, "requireSelfTradePrevention": False, "preventSor": True,
            "updateTime": self.trade.server_time_ms(), "accountType": "SPOT", "balances": balances,
            "permissions": ["SPOT"], "uid": principal.user_id,
        }

    async def commission(self, principal: Principal, p: Params) -> dict[str, Any]:
        spec = self.spec(p.symbol())
        zero = {"maker": s.ZERO, "taker": s.ZERO, "buyer": s.ZERO, "seller": s.ZERO}
        return {"symbol": self.name(spec),
                "standardCommission": {"maker": s.dec(spec.maker_fee), "taker": s.dec(spec.taker_fee),
                                       "buyer": s.ZERO, "seller": s.ZERO},
                "specialCommission": dict(zero), "taxCommission": dict(zero),
                "discount": {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB",
                             "discount": s.ZERO}}

    # ------------------------------------------------------------------ orders
    def _order_request(self, spec: MarketSpec, p: Params) -> tuple[PlaceOrderRequest, str, str]:
        """Binance's order parameters, checked as Binance checks them -> (request, Binance type, resp type)."""
        side = p.choice("side", SIDES, Reject(c.INVALID_SIDE, "Invalid side."))
        if side is None:
            raise c.mandatory("side")
        kind = p.required("type").upper()
        if kind not in s.ORDER_TYPES:
            raise Reject(c.INVALID_ORDER_TYPE, "Invalid orderType.")
        for name in ("trailingDelta", "icebergQty"):
            if p.has(name):
                raise c.not_required(name, "MyCrypto has no trailing or iceberg orders.")
        conditional = s.CONDITIONAL_TYPES.get(kind)
        stop_price = p.decimal("stopPrice")
        if conditional is None and stop_price is not None:
            raise c.not_required("stopPrice")
        if conditional is not None:
            if stop_price is None:
                raise c.mandatory("stopPrice")
            if stop_price == 0 or decimals_of(stop_price) > spec.quote_decimals:
                raise c.filter_failure("PRICE_FILTER")
        if p.has("pegPriceType"):
            raise c.unsupported("Pegged orders are not available on MyCrypto.")
        tif = p.get("timeInForce")
        quantity, quote, price = p.decimal("quantity"), p.decimal("quoteOrderQty"), p.decimal("price")
        resp = p.choice("newOrderRespType", RESP_TYPES, c.illegal("newOrderRespType", "ACK, RESULT, FULL"))
        stp = p.choice("selfTradePreventionMode", s.STP_MODES, c.invalid("selfTradePreventionMode",
                                                                        f"Use one of {', '.join(s.STP_MODES)}."))
        coid = p.client_order_id("newClientOrderId")
        market = kind in ("MARKET", "STOP_LOSS", "TAKE_PROFIT")
        if kind in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
            if tif is None:
                raise c.mandatory("timeInForce")
            if tif.upper() not in TIFS:
                raise Reject(c.INVALID_TIF, "Invalid timeInForce.")
        elif tif is not None:
            raise c.not_required("timeInForce")
        if market:
            if price is not None:
                raise c.not_required("price")
            if quantity is None and quote is None:
                raise c.either_mandatory("quantity", "quoteOrderQty")
            if quantity is not None and quote is not None:
                raise c.not_required("quoteOrderQty", "Send quantity or quoteOrderQty, not both.")
            if quote is not None and conditional is not None:
                raise c.not_required("quoteOrderQty", "Stop and take-profit market orders take a quantity.")
            if quote is not None and side == "SELL":
                raise c.not_required("quoteOrderQty", "MyCrypto takes quoteOrderQty on MARKET BUY orders only.")
        else:
            if price is None:
                raise c.mandatory("price")
            if quantity is None:
                raise c.mandatory("quantity")
            if quote is not None:
                raise c.not_required("quoteOrderQty")
        # exact-amount checks Binance makes before its filters
        if quantity is not None and decimals_of(quantity) > spec.base_decimals:
            raise Reject(c.BAD_PRECISION, "Precision is over the maximum defined for this asset.")
        if quote is not None and decimals_of(quote) > spec.quote_decimals:
            raise Reject(c.BAD_PRECISION, "Precision is over the maximum defined for this asset.")
        if price is not None and (price == 0 or decimals_of(price) > spec.quote_decimals):
            raise c.filter_failure("PRICE_FILTER")
        if quantity is not None and quantity == 0:
            raise c.filter_failure("MARKET_LOT_SIZE" if market else "LOT_SIZE")
        if quote is not None and quote == 0:
            raise c.filter_failure("NOTIONAL")
        req = PlaceOrderRequest(
            symbol=spec.symbol, side=side.lower(), type=conditional or ("market" if market else "limit"),
            quantity=quantity, price=price, quote_quantity=quote, time_in_force=tif.upper() if tif else None,
            post_only=kind == "LIMIT_MAKER", client_order_id=coid or _client_order_id(),
            stp=stp.lower() if stp else None, stop_price=stop_price)
        # Binance: MARKET and LIMIT answer FULL by default, other types ACK
        return req, kind, resp or ("FULL" if kind in ("MARKET", "LIMIT") else "ACK")

    async def new_order(self, principal: Principal, p: Params) -> dict[str, Any]:
        symbols = self.symbols()
        spec = self.spec(p.symbol(), symbols)
        req, kind, resp = self._order_request(spec, p)
        try:
            result = await self.trade.place_order(principal, req)
        except AppError as exc:
            raise translate(exc, ORDER, market_order=kind == "MARKET") from None
        name = symbols.binance(spec.symbol)
        if resp == "ACK":
            return s.order_ack(result, name)
        if resp == "RESULT":
            return s.order_result(result, name)
        return s.order_full(result, name)

    async def new_oco(self, principal: Principal, p: Params) -> dict[str, Any]:
        """POST /api/v3/orderList/oco (Binance's current OCO): one leg LIMIT_MAKER, the other STOP_LOSS or
        STOP_LOSS_LIMIT - for a SELL the limit maker is above, for a BUY below."""
        symbols = self.symbols()
        spec = self.spec(p.symbol(), symbols)
        side = p.choice("side", SIDES, Reject(c.INVALID_SIDE, "Invalid side."))
        if side is None:
            raise c.mandatory("side")
        quantity = p.decimal("quantity")
        if quantity is None:
            raise c.mandatory("quantity")
        limit_at, stop_at = ("above", "below") if side == "SELL" else ("below", "above")
        limit_type, stop_type = p.required(limit_at + "Type").upper(), p.required(stop_at + "Type").upper()
        if limit_type != "LIMIT_MAKER" or stop_type not in ("STOP_LOSS", "STOP_LOSS_LIMIT"):
            raise c.unsupported(f"MyCrypto's OCO {side} takes {limit_at}Type=LIMIT_MAKER and {stop_at}Type="
                                "STOP_LOSS or STOP_LOSS_LIMIT.")
        for name in ("trailingDelta", "icebergQty", limit_at + "IcebergQty", stop_at + "IcebergQty",
                     stop_at + "TrailingDelta", limit_at + "StopPrice"):
            if p.has(name):
                raise c.not_required(name)
        price = p.decimal(limit_at + "Price")
        stop_price = p.decimal(stop_at + "StopPrice")
        stop_limit = p.decimal(stop_at + "Price")
        tif = p.get(stop_at + "TimeInForce")
        if price is None:
            raise c.mandatory(limit_at + "Price")
        if stop_price is None:
            raise c.mandatory(stop_at + "StopPrice")
        if stop_type == "STOP_LOSS_LIMIT":
            if stop_limit is None:
                raise c.mandatory(stop_at + "Price")
            if tif is None:
                raise c.mandatory(stop_at + "TimeInForce")
            if tif.upper() not in TIFS:
                raise Reject(c.INVALID_TIF, "Invalid timeInForce.")
        elif stop_limit is not None or tif is not None:
            raise c.not_required(stop_at + ("Price" if stop_limit is not None else "TimeInForce"))
        for value in (price, stop_price, stop_limit):
            if value is not None and (value == 0 or decimals_of(value) > spec.quote_decimals):
                raise c.filter_failure("PRICE_FILTER")
        if quantity == 0:
            raise c.filter_failure("LOT_SIZE")
        if decimals_of(quantity) > spec.base_decimals:
            raise Reject(c.BAD_PRECISION, "Precision is over the maximum defined for this asset.")
        resp = p.choice("newOrderRespType", RESP_TYPES, c.illegal("newOrderRespType", "ACK, RESULT, FULL"))
        stp = p.choice("selfTradePreventionMode", s.STP_MODES, c.invalid("selfTradePreventionMode",
                                                                        f"Use one of {', '.join(s.STP_MODES)}."))
        list_coid = p.client_order_id("listClientOrderId") or _client_order_id()
        req = PlaceOcoRequest(
            symbol=spec.symbol, side=side.lower(), quantity=quantity, price=price, stop_price=stop_price,
            stop_limit_price=stop_limit, stop_time_in_force=tif.upper() if tif else None,
            limit_client_order_id=p.client_order_id(limit_at + "ClientOrderId") or _client_order_id(),
            stop_client_order_id=p.client_order_id(stop_at + "ClientOrderId") or _client_order_id(),
            stp=stp.lower() if stp else None)
        try:
            result = await self.trade.place_oco(principal, req)
        except AppError as exc:
            raise translate(exc, ORDER) from None
        return s.order_list(list(result.orders), symbols.binance(spec.symbol), list_coid, resp or "FULL")

    async def _order_list(self, principal: Principal, p: Params, action: str,
                          spec: MarketSpec | None = None) -> list[OrderResult]:
        """The two legs of the caller's OCO list `orderListId` (its lower order id), else -2013 / -2011."""
        list_id = p.integer("orderListId", lo=0)
        if list_id is None:
            raise c.mandatory("orderListId")
        missing = (Reject(c.CANCEL_REJECTED, "Order list does not exist.") if action == CANCEL
                   else Reject(c.NO_SUCH_ORDER, "Order list does not exist."))
        try:
            first = await self.trade.get_order(principal, order_id=list_id, with_fills=False)
            if first.oco_order_id is None or first.oco_order_id < list_id:
                raise missing
            second = await self.trade.get_order(principal, order_id=first.oco_order_id, with_fills=False)
        except AppError:
            raise missing from None
        if spec is not None and first.spec.id != spec.id:
            raise missing
        return [first, second]

    async def query_order_list(self, principal: Principal, p: Params) -> dict[str, Any]:
        legs = await self._order_list(principal, p, QUERY)
        return s.order_list_status(legs, self.name(legs[0].spec))

    async def cancel_order_list(self, principal: Principal, p: Params) -> dict[str, Any]:
        spec = self.spec(p.symbol())
        legs = await self._order_list(principal, p, CANCEL, spec)
        open_leg = next((o for o in legs if o.is_open), None)
        if open_leg is None:
            raise Reject(c.CANCEL_REJECTED, "Order list is already closed.")
        try:   # cancelling one leg cancels its sibling in the same engine batch
            await self.trade.cancel_order(principal, order_id=open_leg.order_id, symbol=spec.symbol)
            legs = [await self.trade.get_order(principal, order_id=o.order_id, with_fills=False) for o in legs]
        except AppError as exc:
            raise translate(exc, CANCEL) from None
        name = self.name(spec)
        out = s.order_list_status(legs, name)
        out["orderReports"] = [s.order_canceled(o, name) for o in legs]
        return out

    async def test_order(self, principal: Principal, p: Params) -> dict[str, Any]:
        """Every check a real order gets before it reaches the book (rules, permission), nothing placed."""
        spec = self.spec(p.symbol())
        req, kind, _ = self._order_request(spec, p)
        try:
            principal.require_verified()
            principal.require("trade")
            if spec.halted:
                raise MarketHalted()
        except AppError as exc:
            raise translate(exc, ORDER) from None
        try:
            if req.type in CONDITIONAL_KINDS:
                validate_conditional(spec, kind=req.type, side=req.side, stop_price=req.stop_price, price=req.price,
                                     quantity=req.quantity, time_in_force=req.time_in_force, stp=req.stp,
                                     client_order_id=req.client_order_id)
            else:
                validate_order(spec, side=req.side, type=req.type, time_in_force=req.time_in_force,
                               post_only=req.post_only, stp=req.stp, price=req.price, quantity=req.quantity,
                               quote_quantity=req.quote_quantity, client_order_id=req.client_order_id)
        except OrderRuleError as err:
            raise rule_reject(err.code, err.message, market_order=kind == "MARKET") from None
        if (p.get("computeCommissionRates") or "").lower() == "true":
            zero = {"maker": s.ZERO, "taker": s.ZERO}
            return {"standardCommissionForOrder": {"maker": s.dec(spec.maker_fee), "taker": s.dec(spec.taker_fee)},
                    "specialCommissionForOrder": dict(zero), "taxCommissionForOrder": dict(zero),
                    "discount": {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB",
                                 "discount": s.ZERO}}
        return {}

    async def _find_order(self, principal: Principal, spec: MarketSpec, p: Params, action: str) -> OrderResult:
        """The caller's order in this market by orderId or origClientOrderId (else -2013 / -2011)."""
        order_id = p.integer("orderId", lo=0)
        orig = p.get("origClientOrderId")
        if order_id is None and orig is None:
            raise c.either_mandatory("orderId", "origClientOrderId")
        try:
            found = await self.trade.get_order(principal, order_id=order_id, client_order_id=orig if order_id is None
                                               else None, with_fills=False)
        except AppError as exc:
            raise translate(exc, action) from None
        if found.spec.id != spec.id or (orig is not None and found.client_order_id != orig):
            raise translate(_not_found(), action)
        return found

    async def query_order(self, principal: Principal, p: Params) -> dict[str, Any]:
        spec = self.spec(p.symbol())
        return s.order_query(await self._find_order(principal, spec, p, QUERY), self.name(spec))

    async def cancel_order(self, principal: Principal, p: Params) -> dict[str, Any]:
        spec = self.spec(p.symbol())
        new_id = p.client_order_id("newClientOrderId")
        if p.has("cancelRestrictions"):
            raise c.unsupported("cancelRestrictions is not available on MyCrypto.")
        found = await self._find_order(principal, spec, p, CANCEL)
        if not found.is_open:
            raise translate(_not_found(), CANCEL)
        try:
            result = await self.trade.cancel_order(principal, order_id=found.order_id, symbol=spec.symbol)
        except AppError as exc:
            raise translate(exc, CANCEL) from None
        return s.order_canceled(result, self.name(spec), new_id)

    async def cancel_open_orders(self, principal: Principal, p: Params) -> list[dict[str, Any]]:
        spec = self.spec(p.symbol())
        try:
            results = await self.trade.cancel_all(principal, spec.symbol)
        except AppError as exc:
            raise translate(exc, CANCEL) from None
        if not results:   # as on Binance: nothing to cancel is an error
            raise Reject(c.CANCEL_REJECTED, c.MSG_UNKNOWN_ORDER)
        name = self.name(spec)
        return [s.order_canceled(r, name) for r in sorted(results, key=lambda r: r.order_id)]

    async def open_orders(self, principal: Principal, p: Params) -> list[dict[str, Any]]:
        symbol = p.symbol()
        symbols = self.symbols()
        spec = self.spec(symbol, symbols) if symbol is not None else None
        items = await self.trade.open_orders(principal, spec.symbol if spec else None)
        return [s.order_query(o, symbols.binance(o.spec.symbol)) for o in sorted(items, key=lambda o: o.order_id)]

    async def all_orders(self, principal: Principal, p: Params) -> list[dict[str, Any]]:
        spec = self.spec(p.symbol())
        from_id = p.integer("orderId", lo=0)
        start, end = p.time_range()
        limit = _limit(p, 500)
        name = self.name(spec)
        if from_id is not None or start is not None:
            items = await self.trade.orders_from(principal, spec.symbol, from_id=from_id, start_ms=start,
                                                 end_ms=end, limit=limit)
        else:   # the most recent `limit` orders (endTime is inclusive on Binance, exclusive in the service)
            page = await self.trade.order_history(principal, symbol=spec.symbol,
                                                  end_ms=end + 1 if end is not None else None, limit=limit)
            items = list(reversed(page.items))
        return [s.order_query(o, name) for o in items]

    async def my_trades(self, principal: Principal, p: Params) -> list[dict[str, Any]]:
        spec = self.spec(p.symbol())
        order_id = p.integer("orderId", lo=0)
        from_id = p.integer("fromId", lo=0)
        start, end = p.time_range()
        limit = _limit(p, 500)
        name = self.name(spec)
        if order_id is not None:
            if from_id is not None or start is not None or end is not None:
                raise Reject(c.BAD_COMBINATION, "Combination of optional parameters invalid: orderId cannot be "
                                                "combined with fromId, startTime or endTime.")
            await self._find_order(principal, spec, p, QUERY)   # ownership: -2013 for someone else's order
        if order_id is not None or from_id is not None or start is not None:
            trades = [t for t in await self.trade.trades_from(principal, spec.symbol, from_id=from_id,
                                                              order_id=order_id, start_ms=start, end_ms=end, limit=limit)
                      if order_id is None or t.order_id == order_id]
        else:
            page = await self.trade.my_trades(principal, symbol=spec.symbol,
                                              end_ms=end + 1 if end is not None else None, limit=limit)
            trades = sorted(page.items, key=lambda t: (t.trade_id, t.side))
        return [s.my_trade(t, name) for t in trades]


def _not_found() -> AppError:
    from ...trading.errors import OrderNotFound

    return OrderNotFound()
