"""Wallet refusals, each with a stable code."""
from __future__ import annotations

from ..common.errors import AppError, Conflict, NotFound


class InsufficientFunds(AppError):
    code, http_status, message = "insufficient_funds", 400, "Insufficient available balance."


class UnknownAsset(NotFound):
    code, message = "unknown_asset", "Unknown asset."


class AccountMissing(Conflict):
    code, message = "account_missing", "The account does not exist."
