"""Wire shapes of the wallet API: request bodies (pydantic) and response dicts (amounts as strings).

Amount fields in requests are typed loosely on purpose: `common.money.parse_amount` decides, so a
JSON number, "1e3", "-1" or "NaN" gets the precise `invalid_amount` code rather than a generic
validation error. Responses are plain dicts rendered by `common.jsonresp` (Decimal -> "0.5").
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..common.money import fmt


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WithdrawalCreate(_Body):
    asset: str = Field(..., min_length=1, max_length=16, examples=["BTC"])
    address: str = Field(..., min_length=1, max_length=256, examples=["bcrt1qexampleaddress0000000000000000000000"])
    amount: Any = Field(..., description='Decimal string, e.g. "0.5"; at most the asset\'s decimals.',
                        examples=["0.5"])
    totp_code: str | None = Field(None, max_length=64, description="Required when 2FA is enabled.")


class WithdrawalReject(_Body):
    reason: str = Field(..., min_length=1, max_length=500)


class FaucetRequest(_Body):
    asset: str = Field(..., min_length=1, max_length=16, examples=["USDT"])
    amount: Any = Field(None, description="Decimal string; omitted = the per-call maximum.")


def asset_out(a: Any) -> dict[str, Any]:
    return {"asset": a.code, "name": a.name, "decimals": a.decimals, "chain": a.chain,
            "confirmations_required": a.confirmations_required, "min_withdrawal": a.min_withdrawal,
            "withdrawal_fee": a.withdrawal_fee, "daily_withdrawal_limit": a.daily_withdrawal_limit,
            "withdrawal_auto_approve_max": a.withdrawal_auto_approve_max,
            "deposit_enabled": a.deposit_enabled, "withdraw_enabled": a.withdraw_enabled}


def balance_out(row: Any) -> dict[str, Any]:
    return {"asset": row["asset"], "available": row["available"], "locked": row["locked"],
            "total": row["available"] + row["locked"]}


def deposit_out(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "asset": row["asset"], "chain": row["chain"], "txid": row["txid"],
            "vout": row["vout"], "address": row["address"], "amount": row["amount"], "status": row["status"],
            "confirmations": row["confirmations"], "confirmations_required": row["confirmations_required"],
            "detected_at": row["detected_at"], "confirmed_at": row["confirmed_at"],
            "credited_at": row["credited_at"]}


def withdrawal_out(row: Any, *, admin: bool = False) -> dict[str, Any]:
    out = {"id": row["id"], "asset": row["asset"], "address": row["address"], "amount": row["amount"],
           "fee": row["fee"], "total": row["amount"] + row["fee"], "status": row["status"], "txid": row["txid"],
           "reason": row["reason"], "requested_at": row["requested_at"], "approved_at": row["approved_at"],
           "broadcast_at": row["broadcast_at"], "confirmed_at": row["confirmed_at"],
           "finished_at": row["finished_at"]}
    if admin:
        out.update(user_id=row["user_id"], email=row.get("email"),
                   approved_by=row["approved_by"])
    return out


def withdrawal_json(row: Any) -> dict[str, Any]:
    """The response stored for Idempotency-Key replays: JSON-ready (amounts and times as strings)."""
    out = withdrawal_out(row)
    return {k: (fmt(v) if k in ("amount", "fee", "total") else v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in out.items()}


def history_out(row: Any) -> dict[str, Any]:
    return {"time": row["ts"], "type": row["type"], "asset": row["asset"], "amount": row["amount"],
            "status": row["status"], "reference": row["reference"], "txid": row["txid"],
            "address": row["address"], "confirmations": row["confirmations"],
            "confirmations_required": row["confirmations_required"]}


def history_csv_row(row: Any) -> list[str]:
    """One CSV line: amounts as plain decimal strings (never exponent notation), times in ISO 8601 UTC."""
    return [row["ts"].isoformat(), row["type"], row["asset"], fmt(row["amount"]), row["status"],
            row["reference"] or "", row["txid"] or "", row["address"] or "",
            "" if row["confirmations"] is None else str(row["confirmations"])]
