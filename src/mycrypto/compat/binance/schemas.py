"""Binance's JSON shapes, built from the trade service's results (`OrderResult`, `UserTrade`,
`Ticker`, `DepthSnapshot`, `PublicTrade`, candles and `MarketSpec`).

Every price, quantity and amount is a decimal string with at least 8 decimals, exactly as Binance
writes them ("50000.00000000"), and never rounded: our values are exact multiples of the market's
tick, lot and the assets' minor units, so padding is all that happens. Times are integer epoch ms.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from ...common.markets import MAX_PRICE_TICKS, MarketSpec
from ...trading.results import OrderResult, UserTrade

PLACES = 8
ZERO = "0." + "0" * PLACES
ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"]
# Binance's conditional types <-> ours (docs/trading.md "Conditional orders")
CONDITIONAL_TYPES = {"STOP_LOSS": "stop_market", "STOP_LOSS_LIMIT": "stop_limit", "TAKE_PROFIT": "take_profit_market",
                     "TAKE_PROFIT_LIMIT": "take_profit_limit"}
BINANCE_TYPE = {v: k for k, v in CONDITIONAL_TYPES.items()}
STP_MODES = ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]
STATUS = {"new": "NEW", "partially_filled": "PARTIALLY_FILLED", "filled": "FILLED", "canceled": "CANCELED",
          "rejected": "REJECTED", "expired": "EXPIRED"}
STP_REASON = "self_trade_prevention"


def dec(value: Decimal | int | None, places: int = PLACES) -> str:
    """Plain decimal string padded to `places` decimals; never rounds (more digits are kept)."""
    if value is None or value == 0:
        return "0." + "0" * places if places else "0"
    text = format(Decimal(value).normalize(), "f")
    whole, _, frac = text.partition(".")
    if len(frac) < places:
        frac = frac + "0" * (places - len(frac))
    return f"{whole}.{frac}" if frac else whole


# ---------------------------------------------------------------------------- orders
def order_status(o: OrderResult) -> str:
    if o.status == "expired" and o.reason == STP_REASON:
        return "EXPIRED_IN_MATCH"
    return STATUS.get(o.status, o.status.upper())


def order_type(o: OrderResult) -> str:
    if o.order_type in BINANCE_TYPE:
        return BINANCE_TYPE[o.order_type]
    if o.type == "market":
        return "MARKET"
    return "LIMIT_MAKER" if o.post_only else "LIMIT"


def time_in_force(o: OrderResult) -> str:
    # Binance reports GTC for MARKET and LIMIT_MAKER orders
    return "GTC" if o.type == "market" or o.post_only else o.time_in_force


def orig_qty(o: OrderResult) -> Decimal:
    """A market buy by quote amount has no base quantity; Binance reports what was executed."""
    return o.quantity if o.qty_lots else o.executed_quantity


def client_id(o: OrderResult) -> str:
    return o.client_order_id or ""


def list_id(o: OrderResult) -> int:
    """An OCO leg's orderListId (the pair's lower order id, as the native API's order_list_id); else -1."""
    return min(o.order_id, o.oco_order_id) if o.oco_order_id is not None else -1


def stop_price(o: OrderResult) -> str:
    return dec(o.stop_price) if o.stop_price is not None else ZERO


def is_working(o: OrderResult) -> bool:
    """On the book (Binance: an untriggered stop is not working yet)."""
    return o.type == "limit" and not o.untriggered


def order_ack(o: OrderResult, symbol: str) -> dict[str, Any]:
    return {"symbol": symbol, "orderId": o.order_id, "orderListId": list_id(o), "clientOrderId": client_id(o),
            "transactTime": o.created_ms}


def order_result(o: OrderResult, symbol: str) -> dict[str, Any]:
    out = order_ack(o, symbol)
    out.update({
        "price": dec(o.price), "origQty": dec(orig_qty(o)), "executedQty": dec(o.executed_quantity),
        "origQuoteOrderQty": dec(o.quote_quantity), "cummulativeQuoteQty": dec(o.cumulative_quote),
        "status": order_status(o), "timeInForce": time_in_force(o), "type": order_type(o),
        "side": o.side.upper(), "workingTime": o.created_ms if is_working(o) else -1,
        "selfTradePreventionMode": o.stp.upper(),
    })
    if o.stop_price is not None:
        out["stopPrice"] = stop_price(o)
    return out


def order_full(o: OrderResult, symbol: str) -> dict[str, Any]:
    out = order_result(o, symbol)
    out["fills"] = [{"price": dec(f.price), "qty": dec(f.quantity), "commission": dec(f.commission),
                     "commissionAsset": f.commission_asset, "tradeId": f.trade_id} for f in (o.fills or ())]
    return out


def order_query(o: OrderResult, symbol: str) -> dict[str, Any]:
    return {
        "symbol": symbol, "orderId": o.order_id, "orderListId": list_id(o), "clientOrderId": client_id(o),
        "price": dec(o.price), "origQty": dec(orig_qty(o)), "executedQty": dec(o.executed_quantity),
        "cummulativeQuoteQty": dec(o.cumulative_quote), "status": order_status(o),
        "timeInForce": time_in_force(o), "type": order_type(o), "side": o.side.upper(), "stopPrice": stop_price(o),
        "icebergQty": ZERO, "time": o.created_ms, "updateTime": o.updated_ms, "isWorking": is_working(o),
        "workingTime": o.created_ms, "origQuoteOrderQty": dec(o.quote_quantity),
        "selfTradePreventionMode": o.stp.upper(),
    }


def order_canceled(o: OrderResult, symbol: str, new_client_id: str | None = None) -> dict[str, Any]:
    return {
        "symbol": symbol, "origClientOrderId": client_id(o), "orderId": o.order_id, "orderListId": list_id(o),
        "clientOrderId": new_client_id or client_id(o), "transactTime": o.updated_ms, "price": dec(o.price),
        "origQty": dec(orig_qty(o)), "executedQty": dec(o.executed_quantity),
        "origQuoteOrderQty": dec(o.quote_quantity), "cummulativeQuoteQty": dec(o.cumulative_quote),
        "status": order_status(o), "timeInForce": time_in_force(o), "type": order_type(o),
        "side": o.side.upper(), "selfTradePreventionMode": o.stp.upper(),
    }


def order_list(orders: list[OrderResult], symbol: str, list_client_id: str, resp: str) -> dict[str, Any]:
    """POST /api/v3/orderList/oco's answer: the list and one report per leg (Binance's order)."""
    legs = sorted(orders, key=lambda o: o.order_id)
    report = order_full if resp == "FULL" else order_result
    return {
        "orderListId": min(o.order_id for o in legs), "contingencyType": "OCO", "listStatusType": "EXEC_STARTED",
        "listOrderStatus": "EXECUTING", "listClientOrderId": list_client_id,
        "transactionTime": max(o.created_ms for o in legs), "symbol": symbol,
        "orders": [{"symbol": symbol, "orderId": o.order_id, "clientOrderId": client_id(o)} for o in legs],
        "orderReports": [report(o, symbol) for o in legs] if resp != "ACK" else [],
    }


def order_list_status(legs: list[OrderResult], symbol: str) -> dict[str, Any]:
    """GET /api/v3/orderList's answer (listClientOrderId is not stored: empty)."""
    legs = sorted(legs, key=lambda o: o.order_id)
    done = not any(o.is_open for o in legs)
    return {
        "orderListId": legs[0].order_id, "contingencyType": "OCO",
        "listStatusType": "ALL_DONE" if done else "EXEC_STARTED",
        "listOrderStatus": "ALL_DONE" if done else "EXECUTING", "listClientOrderId": "",
        "transactionTime": max(o.updated_ms for o in legs), "symbol": symbol,
        "orders": [{"symbol": symbol, "orderId": o.order_id, "clientOrderId": client_id(o)} for o in legs],
    }


def my_trade(t: UserTrade, symbol: str) -> dict[str, Any]:
    return {"symbol": symbol, "id": t.trade_id, "orderId": t.order_id, "orderListId": -1, "price": dec(t.price),
            "qty": dec(t.quantity), "quoteQty": dec(t.quote_quantity), "commission": dec(t.commission),
            "commissionAsset": t.commission_asset, "time": t.time_ms, "isBuyer": t.is_buyer,
            "isMaker": t.is_maker, "isBestMatch": True}


# ---------------------------------------------------------------------------- market data
def depth(snapshot: Any) -> dict[str, Any]:
    return {"lastUpdateId": snapshot.update_id,
            "bids": [[dec(p), dec(q)] for p, q in snapshot.bids],
            "asks": [[dec(p), dec(q)] for p, q in snapshot.asks]}


def public_trade(t: Any) -> dict[str, Any]:
    return {"id": t.id, "price": dec(t.price), "qty": dec(t.quantity), "quoteQty": dec(t.quote_quantity),
            "time": t.time_ms, "isBuyerMaker": t.is_buyer_maker, "isBestMatch": True}


def agg_trade(t: Any) -> dict[str, Any]:
    """Each MyCrypto trade is its own aggregate (aggregate id = trade id; first = last = trade id)."""
    return {"a": t.id, "p": dec(t.price), "q": dec(t.quantity), "f": t.id, "l": t.id, "T": t.time_ms,
            "m": t.is_buyer_maker, "M": True}


def kline(row: tuple) -> list[Any]:
    """(open_ms, close_ms, o, h, l, c, v, qv, n, first, last) -> Binance's 12-field array. MyCrypto does
    not record the taker-buy volumes, which Binance puts in fields 9 and 10: they are "0"."""
    open_ms, close_ms, o, h, lo, c, v, qv, n = row[:9]
    return [open_ms, dec(o), dec(h), dec(lo), dec(c), dec(v), close_ms, dec(qv), n, ZERO, ZERO, "0"]


def ticker_full(t: Any, symbol: str, last_qty: Decimal | None) -> dict[str, Any]:
    traded = t.trade_count > 0
    return {
        "symbol": symbol, "priceChange": dec(t.change), "priceChangePercent": dec(t.change_percent, 3),
        "weightedAvgPrice": dec(t.weighted_avg_price), "prevClosePrice": dec(t.open),
        "lastPrice": dec(t.last), "lastQty": dec(last_qty), "bidPrice": dec(t.best_bid),
        "bidQty": dec(t.best_bid_qty), "askPrice": dec(t.best_ask), "askQty": dec(t.best_ask_qty),
        "openPrice": dec(t.open), "highPrice": dec(t.high), "lowPrice": dec(t.low), "volume": dec(t.volume),
        "quoteVolume": dec(t.quote_volume), "openTime": t.open_time_ms, "closeTime": t.close_time_ms,
        "firstId": t.first_trade_id if traded else -1, "lastId": t.last_trade_id if traded else -1,
        "count": t.trade_count,
    }


def ticker_mini(t: Any, symbol: str) -> dict[str, Any]:
    traded = t.trade_count > 0
    return {"symbol": symbol, "openPrice": dec(t.open), "highPrice": dec(t.high), "lowPrice": dec(t.low),
            "lastPrice": dec(t.last), "volume": dec(t.volume), "quoteVolume": dec(t.quote_volume),
            "openTime": t.open_time_ms, "closeTime": t.close_time_ms,
            "firstId": t.first_trade_id if traded else -1, "lastId": t.last_trade_id if traded else -1,
            "count": t.trade_count}


def ticker_price(t: Any, symbol: str) -> dict[str, Any]:
    return {"symbol": symbol, "price": dec(t.last)}


def book_ticker(t: Any, symbol: str) -> dict[str, Any]:
    return {"symbol": symbol, "bidPrice": dec(t.best_bid), "bidQty": dec(t.best_bid_qty),
            "askPrice": dec(t.best_ask), "askQty": dec(t.best_ask_qty)}


# ---------------------------------------------------------------------------- exchangeInfo
def symbol_info(spec: MarketSpec, symbol: str) -> dict[str, Any]:
    """One market's rules in Binance's shape, with every field ccxt's parseMarket reads."""
    tick, lot = spec.tick_size, spec.lot_size
    max_price = tick * MAX_PRICE_TICKS
    max_notional = max_price * spec.max_qty
    stp_default = "EXPIRE_MAKER"
    return {
        "symbol": symbol,
        "status": "TRADING" if not spec.halted else "HALT",
        "baseAsset": spec.base, "baseAssetPrecision": spec.base_decimals,
        "quoteAsset": spec.quote, "quotePrecision": spec.quote_decimals,
        "quoteAssetPrecision": spec.quote_decimals,
        "baseCommissionPrecision": spec.base_decimals, "quoteCommissionPrecision": spec.quote_decimals,
        "orderTypes": list(ORDER_TYPES),
        "icebergAllowed": False, "ocoAllowed": True, "otoAllowed": False, "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False, "cancelReplaceAllowed": False, "amendAllowed": False,
        "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": dec(tick), "maxPrice": dec(max_price), "tickSize": dec(tick)},
            {"filterType": "LOT_SIZE", "minQty": dec(spec.min_qty), "maxQty": dec(spec.max_qty), "stepSize": dec(lot)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": dec(spec.min_qty), "maxQty": dec(spec.max_qty),
             "stepSize": dec(lot)},
            {"filterType": "NOTIONAL", "minNotional": dec(spec.min_notional), "applyMinToMarket": True,
             "maxNotional": dec(max_notional), "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": stp_default, "allowedSelfTradePreventionModes": list(STP_MODES),
    }


def commission_rate(rate: Decimal) -> str:
    return dec(rate)


def commission_bps(rate: Decimal) -> int:
    """Binance's legacy integer commission (basis points, e.g. 0.001 -> 10)."""
    return int(rate * 10_000)
