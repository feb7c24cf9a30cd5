"""Binance-shaped errors: `BinanceError` renders `{"code": -NNNN, "msg": "..."}` through the app's one
AppError handler (common/errors.py calls `body()`), and `translate` maps the platform's stable error
codes (auth, trade, wallet, rate limits) to Binance's.

`action` says what the request was doing, because Binance words the same refusal differently per
endpoint: an unknown order is -2013 "Order does not exist." when queried but -2011 "Unknown order
sent." when cancelled; a filter failure on a MARKET order names MARKET_LOT_SIZE, not LOT_SIZE.
"""
from __future__ import annotations

from typing import Any

from ...common.errors import AppError
from .domain import codes as c
from .domain.codes import Reject

ORDER, CANCEL, QUERY = "order", "cancel", "query"


class BinanceError(AppError):
    code, http_status, message = "binance_error", 400, c.MSG_UNKNOWN

    def __init__(self, binance_code: int, msg: str, http_status: int = 400, *,
                 headers: dict[str, str] | None = None, origin: str | None = None) -> None:
        # `code` (the platform's string code) is what the access log records: keep the origin visible
        super().__init__(msg, code=f"binance{binance_code}" + (f":{origin}" if origin else ""),
                         http_status=http_status, headers=headers)
        self.binance_code = binance_code

    def body(self) -> dict[str, Any]:
        return {"code": self.binance_code, "msg": self.message}

    @classmethod
    def of(cls, reject: Reject, headers: dict[str, str] | None = None) -> BinanceError:
        return cls(reject.code, reject.msg, reject.http_status, headers={**(headers or {}), **reject.headers})


# ---------------------------------------------------------------------------- the mapping
_AUTH: dict[str, tuple[int, str, int]] = {
    "api_key_missing": (c.BAD_API_KEY_FMT, c.MSG_BAD_KEY_FMT, 401),
    "api_key_invalid": (c.REJECTED_MBX_KEY, c.MSG_REJECTED_KEY, 401),
    "ip_not_allowed": (c.REJECTED_MBX_KEY, c.MSG_REJECTED_KEY, 401),
    "permission_denied": (c.REJECTED_MBX_KEY, c.MSG_REJECTED_KEY, 401),
    "account_inactive": (c.REJECTED_MBX_KEY, c.MSG_REJECTED_KEY, 401),
    "unauthorized": (c.REJECTED_MBX_KEY, c.MSG_REJECTED_KEY, 401),
    "signature_missing": (c.MANDATORY_PARAM,
                          "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.", 400),
    "signature_invalid": (c.INVALID_SIGNATURE, c.MSG_BAD_SIGNATURE, 400),
    "timestamp_missing": (c.MANDATORY_PARAM,
                          "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.", 400),
    "timestamp_invalid": (c.ILLEGAL_CHARS,
                          "Illegal characters found in parameter 'timestamp'; legal range is '^[0-9]{1,16}$'.", 400),
    "recv_window_invalid": (c.BAD_RECV_WINDOW, "recvWindow must be an integer between 1 and 60000.", 400),
    "timestamp_outside_recv_window": (c.INVALID_TIMESTAMP, c.MSG_OUTSIDE_WINDOW, 400),
}

# trading.domain.rules codes (an order that breaks a market rule)
_RULES: dict[str, Reject] = {
    "price_tick": c.filter_failure("PRICE_FILTER"),
    "price_out_of_range": c.filter_failure("PRICE_FILTER"),
    "notional_too_small": c.filter_failure("NOTIONAL"),
    "quote_quantity_too_large": c.filter_failure("NOTIONAL"),
    "amount_precision": Reject(c.BAD_PRECISION, "Precision is over the maximum defined for this asset."),
    "invalid_client_order_id": c.illegal("newClientOrderId", c.CLIENT_ID_RANGE),
    "missing_price": c.mandatory("price"),
    "missing_quantity": c.mandatory("quantity"),
    "price_not_allowed": c.not_required("price"),
    "quote_quantity_not_allowed": c.not_required("quoteOrderQty", "quoteOrderQty is for MARKET BUY orders only."),
    "ambiguous_quantity": c.not_required("quoteOrderQty", "Send quantity or quoteOrderQty, not both."),
    "invalid_time_in_force": Reject(c.INVALID_TIF, "Invalid timeInForce."),
    "invalid_post_only": c.not_required("timeInForce"),
    "invalid_side": Reject(c.INVALID_SIDE, "Invalid side."),
    "invalid_type": Reject(c.INVALID_ORDER_TYPE, "Invalid orderType."),
    "invalid_stp": c.invalid("selfTradePreventionMode"),
    "missing_stop_price": c.mandatory("stopPrice"),
    "stop_price_not_allowed": c.not_required("stopPrice"),
    "invalid_oco_prices": Reject(c.INVALID_MESSAGE, "The relationship of the prices for the orders is not correct."),
    "invalid_amount": Reject(c.ILLEGAL_CHARS, "Illegal characters found in an amount parameter; legal range is "
                                              f"'{c.DECIMAL_RANGE}'."),
}
_LOT_RULES = ("quantity_step", "quantity_too_small", "quantity_too_large")


def rule_reject(rule_code: str, message: str, *, market_order: bool = False) -> Reject:
    """A trading.domain.rules refusal (`OrderRuleError.code`) as Binance's code and message."""
    if rule_code in _LOT_RULES:
        return c.filter_failure("MARKET_LOT_SIZE" if market_order else "LOT_SIZE")
    found = _RULES.get(rule_code)
    return found if found is not None else Reject(c.INVALID_MESSAGE, message)


def _order_rejected(msg: str) -> Reject:
    return Reject(c.NEW_ORDER_REJECTED, msg)


def _map(exc: AppError, action: str | None, market_order: bool) -> Reject:
    code = exc.code
    auth = _AUTH.get(code)
    if auth is not None:
        return Reject(*auth)
    if code == "email_not_verified":
        return _order_rejected(c.MSG_DISABLED) if action == ORDER else Reject(
            c.REJECTED_MBX_KEY, c.MSG_REJECTED_KEY, 401)
    if code == "unknown_market":
        return Reject(c.BAD_SYMBOL, c.MSG_BAD_SYMBOL)
    if code in ("insufficient_funds", "insufficient_balance"):
        return _order_rejected(c.MSG_INSUFFICIENT)
    if code == "post_only_would_take":
        return _order_rejected(c.MSG_WOULD_TAKE)
    if code == "would_trigger_immediately":
        return _order_rejected("Stop price would trigger immediately.")
    if code == "untriggered_not_amendable":
        return Reject(c.INVALID_MESSAGE, exc.message)
    if code == "market_halted":
        return _order_rejected(c.MSG_MARKET_CLOSED)
    if code == "duplicate_client_order_id":
        return _order_rejected(c.MSG_DUPLICATE)
    if code in ("order_not_found", "order_not_open"):
        if action == CANCEL:
            return Reject(c.CANCEL_REJECTED, c.MSG_UNKNOWN_ORDER)
        return Reject(c.NO_SUCH_ORDER, c.MSG_NO_SUCH_ORDER)
    if code == "rate_limited" or exc.http_status == 429:
        return Reject(c.TOO_MANY_REQUESTS, "Too many requests; current limit is exceeded. "
                                           "Please slow down and retry after the Retry-After delay.", 429)
    if code == "order_outcome_unknown":
        return Reject(c.TIMEOUT, c.MSG_TIMEOUT, 503)
    if code in ("market_unavailable", "engine_overloaded") or exc.http_status == 503:
        return Reject(c.SERVER_BUSY, f"{c.MSG_SERVER_BUSY} ({exc.message})", 503)
    if code == "invalid_amend_quantity":
        return Reject(c.INVALID_MESSAGE, exc.message)
    if code in _RULES or code in _LOT_RULES:
        return rule_reject(code, exc.message, market_order=market_order)
    if code.startswith("invalid_") or code in ("validation_error", "malformed_json", "malformed_body"):
        return Reject(c.INVALID_PARAMETER, exc.message)
    if exc.http_status >= 500:
        return Reject(c.UNKNOWN, c.MSG_UNKNOWN, exc.http_status)
    return Reject(c.UNKNOWN, exc.message, exc.http_status)


def translate(exc: AppError, action: str | None = None, headers: dict[str, str] | None = None, *,
              market_order: bool = False) -> BinanceError:
    """The platform's AppError as the Binance error a client of Binance expects."""
    reject = _map(exc, action, market_order)
    merged = {**(headers or {}), **exc.headers, **reject.headers}
    return BinanceError(reject.code, reject.msg, reject.http_status, headers=merged, origin=exc.code)
