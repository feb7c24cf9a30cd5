"""Wire formats of /api/v1/trade: request parsing for the hot path and pydantic models for the docs.

Order placement parses its body with orjson into a `PlaceOrderRequest` (a plain dataclass the service
takes, so the /api/v3 adapter can build one from Binance parameters) instead of a pydantic model:
it is the hottest endpoint. The pydantic models below only describe the API in OpenAPI.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import orjson
from pydantic import BaseModel, Field

from ..common.errors import ValidationFailed

PLACE_FIELDS = frozenset({"symbol", "side", "type", "time_in_force", "post_only", "price", "quantity",
                          "quote_quantity", "client_order_id", "stp", "stop_price"})
OCO_FIELDS = frozenset({"symbol", "side", "quantity", "price", "stop_price", "stop_limit_price",
                        "stop_time_in_force", "limit_client_order_id", "stop_client_order_id", "stp"})


class MalformedBody(ValidationFailed):
    code = "malformed_json"


@dataclass(frozen=True, slots=True)
class PlaceOrderRequest:
    """An order as a client asks for it; amounts as decimal strings (or exact Decimals)."""

    symbol: str
    side: str
    type: str
    quantity: str | Decimal | None = None
    price: str | Decimal | None = None
    quote_quantity: str | Decimal | None = None
    time_in_force: str | None = None
    post_only: bool = False
    client_order_id: str | None = None
    stp: str | None = None
    stop_price: str | Decimal | None = None    # stop_limit, stop_market, take_profit_limit, take_profit_market


@dataclass(frozen=True, slots=True)
class PlaceOcoRequest:
    """An OCO pair: a limit leg at `price` and a stop leg at `stop_price` (a stop-limit at
    `stop_limit_price`, or a stop-market without it), both of `quantity` on `side`."""

    symbol: str
    side: str
    quantity: str | Decimal | None
    price: str | Decimal | None
    stop_price: str | Decimal | None
    stop_limit_price: str | Decimal | None = None
    stop_time_in_force: str | None = None
    limit_client_order_id: str | None = None
    stop_client_order_id: str | None = None
    stp: str | None = None


def json_object(body: bytes) -> dict:
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        raise MalformedBody("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object.", code="malformed_json")
    return data


def parse_place_order(body: bytes) -> PlaceOrderRequest:
    data = json_object(body)
    unknown = data.keys() - PLACE_FIELDS
    if unknown:
        raise ValidationFailed(f"Unknown field(s): {', '.join(sorted(unknown))}.", code="unknown_field",
                               details={"fields": sorted(unknown)})
    symbol, side, type_ = data.get("symbol"), data.get("side"), data.get("type", "limit")
    for name, value in (("symbol", symbol), ("side", side), ("type", type_)):
        if not isinstance(value, str):
            raise ValidationFailed(f"{name} is required (a string).", code="missing_field", details={"field": name})
    return PlaceOrderRequest(symbol=symbol, side=side, type=type_, quantity=data.get("quantity"),
                             price=data.get("price"), quote_quantity=data.get("quote_quantity"),
                             time_in_force=data.get("time_in_force"), post_only=data.get("post_only", False),
                             client_order_id=data.get("client_order_id"), stp=data.get("stp"),
                             stop_price=data.get("stop_price"))


def parse_place_oco(body: bytes) -> PlaceOcoRequest:
    data = json_object(body)
    unknown = data.keys() - OCO_FIELDS
    if unknown:
        raise ValidationFailed(f"Unknown field(s): {', '.join(sorted(unknown))}.", code="unknown_field",
                               details={"fields": sorted(unknown)})
    for name in ("symbol", "side"):
        if not isinstance(data.get(name), str):
            raise ValidationFailed(f"{name} is required (a string).", code="missing_field", details={"field": name})
    return PlaceOcoRequest(symbol=data["symbol"], side=data["side"], quantity=data.get("quantity"),
                           price=data.get("price"), stop_price=data.get("stop_price"),
                           stop_limit_price=data.get("stop_limit_price"),
                           stop_time_in_force=data.get("stop_time_in_force"),
                           limit_client_order_id=data.get("limit_client_order_id"),
                           stop_client_order_id=data.get("stop_client_order_id"), stp=data.get("stp"))


# ---------------------------------------------------------------------------- OpenAPI descriptions
class OrderCreate(BaseModel):
    """Place an order. Amounts are decimal strings."""

    symbol: str = Field(examples=["BTC-USDT"])
    side: Literal["buy", "sell"]
    type: Literal["limit", "market", "stop_limit", "stop_market", "take_profit_limit", "take_profit_market"] = "limit"
    time_in_force: Literal["GTC", "IOC", "FOK"] | None = Field(None, description="limit orders; default GTC")
    post_only: bool = False
    price: str | None = Field(None, examples=["50000.00"], description="limit orders: a multiple of tick_size")
    quantity: str | None = Field(None, examples=["0.01"], description="base quantity: a multiple of lot_size")
    quote_quantity: str | None = Field(None, description="market buys only: spend at most this (fees on top)")
    client_order_id: str | None = Field(None, max_length=36, description="idempotency key, unique per user")
    stp: Literal["expire_maker", "expire_taker", "expire_both", "none"] | None = Field(
        None, description="self-trade prevention; default expire_maker")
    stop_price: str | None = Field(None, examples=["48000.00"],
                                   description="stop and take-profit orders: the trade price that triggers them")


class OcoCreate(BaseModel):
    """Place an OCO pair: a limit order and a stop order; when either fills or triggers (or is
    cancelled), the other is cancelled. Sell: price > stop_price; buy: price < stop_price."""

    symbol: str = Field(examples=["BTC-USDT"])
    side: Literal["buy", "sell"]
    quantity: str = Field(examples=["0.01"])
    price: str = Field(examples=["52000.00"], description="the limit leg's price")
    stop_price: str = Field(examples=["48000.00"], description="the stop leg's trigger price")
    stop_limit_price: str | None = Field(None, description="the stop leg's limit price; absent: a stop-market leg")
    stop_time_in_force: Literal["GTC", "IOC", "FOK"] | None = None
    limit_client_order_id: str | None = Field(None, max_length=36)
    stop_client_order_id: str | None = Field(None, max_length=36)
    stp: Literal["expire_maker", "expire_taker", "expire_both", "none"] | None = None


class OrderAmend(BaseModel):
    """Reduce an open order's total quantity, keeping its place in the queue."""

    quantity: str = Field(examples=["0.005"])


class HaltRequest(BaseModel):
    reason: str | None = Field(None, max_length=200)


def parse_amend(body: bytes) -> str:
    data = json_object(body)
    value = data.get("quantity")
    if value is None:
        raise ValidationFailed("quantity is required.", code="missing_field", details={"field": "quantity"})
    return value


def parse_reason(body: bytes) -> str | None:
    if not body:
        return None
    data = json_object(body)
    reason = data.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 200):
        raise ValidationFailed("reason must be a string of at most 200 characters.", code="invalid_reason")
    return reason
