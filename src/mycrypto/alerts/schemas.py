"""Wire formats of /api/v1/trade/alerts: request parsing, the JSON of an alert and of a firing, and
pydantic models that only describe the API in OpenAPI."""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..common.errors import ValidationFailed
from ..trading.schemas import json_object
from .domain.conditions import Condition

CREATE_FIELDS = frozenset({"symbol", "condition", "repeat", "cooldown_seconds", "email", "note"})


def parse_create(body: bytes) -> dict[str, Any]:
    data = json_object(body)
    unknown = data.keys() - CREATE_FIELDS
    if unknown:
        raise ValidationFailed(f"Unknown field(s): {', '.join(sorted(unknown))}.", code="unknown_field",
                               details={"fields": sorted(unknown)})
    if not isinstance(data.get("symbol"), str):
        raise ValidationFailed("symbol is required (a string).", code="missing_field", details={"field": "symbol"})
    if "condition" not in data:
        raise ValidationFailed("condition is required.", code="missing_field", details={"field": "condition"})
    return data


def _s(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return "0" if value == 0 else format(value.normalize(), "f")


def alert_dict(symbol: str, row: dict[str, Any]) -> dict[str, Any]:
    condition = Condition.from_row(row["condition"], row["direction"], row["level"], row["params"])
    return {"alert_id": row["id"], "symbol": symbol, "condition": condition.to_wire(),
            "description": condition.describe(symbol), "repeat": row["repeating"],
            "cooldown_seconds": row["cooldown_s"], "email": row["notify_email"], "note": row["note"],
            "status": row["status"], "fire_count": row["fire_count"], "last_triggered_at": row["last_fired_ms"],
            "created_at": row["created_ms"], "updated_at": row["updated_ms"]}


def event_dict(symbol: str, row: Any) -> dict[str, Any]:
    condition = Condition.from_row(row["condition"], row["direction"], row["level"], row["params"])
    return {"id": row["id"], "alert_id": row["alert_id"], "symbol": symbol, "condition": condition.to_wire(),
            "description": condition.describe(symbol), "price": _s(row["price"]), "value": _s(row["value"]),
            "trade_id": row["trade_id"], "time": row["event_ms"], "recorded_at": row["created_ms"],
            "note": row["note"]}


# ---------------------------------------------------------------------------- OpenAPI descriptions
class AlertConditionDoc(BaseModel):
    """One of: price {direction above|below, price}; change {direction up|down, percent, window 5m|15m|1h|4h|1d};
    rsi {direction, level, period 2-100 (14), interval 1m|5m|15m|1h|4h|1d}; sma_cross / ema_cross {direction,
    period, interval}; macd_cross {direction, fast (12), slow (26), signal (9), interval}."""

    type: Literal["price", "change", "rsi", "sma_cross", "ema_cross", "macd_cross"]
    direction: Literal["above", "below", "up", "down"]
    price: str | None = Field(None, examples=["60000"])
    percent: str | None = Field(None, examples=["5"])
    window: Literal["5m", "15m", "1h", "4h", "1d"] | None = None
    level: str | None = Field(None, examples=["70"])
    period: int | None = None
    interval: Literal["1m", "5m", "15m", "1h", "4h", "1d"] | None = None
    fast: int | None = None
    slow: int | None = None
    signal: int | None = None


class AlertCreate(BaseModel):
    """Create an alert on a market (docs/alerts.md)."""

    symbol: str = Field(examples=["BTC-USDT"])
    condition: AlertConditionDoc
    repeat: bool = Field(False, description="fire at every crossing (after the cooldown) instead of once")
    cooldown_seconds: int | None = Field(None, ge=60, le=604800, description="repeating alerts: default 300")
    email: bool = Field(True, description="also send an email when it fires")
    note: str = Field("", max_length=200)


def create_schema() -> dict[str, Any]:
    """AlertCreate's JSON schema with its nested model inlined (a `#/$defs/...` reference would not
    resolve inside the OpenAPI document)."""
    schema = AlertCreate.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.rsplit("/", 1)[1]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(schema)
