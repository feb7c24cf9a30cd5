"""Wallet refusals, each with a stable code, and the mapping from domain rule violations to HTTP."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..common.errors import AppError, Conflict, Forbidden, NotFound, ServiceUnavailable, ValidationFailed
from ..common.money import fmt
from .domain.errors import RuleViolation


class InsufficientFunds(AppError):
    code, http_status, message = "insufficient_funds", 400, "Insufficient available balance."


class UnknownAsset(NotFound):
    code, message = "unknown_asset", "Unknown asset."


class AccountMissing(Conflict):
    code, message = "account_missing", "The account does not exist."


class WithdrawalNotFound(NotFound):
    code, message = "withdrawal_not_found", "No such withdrawal."


class DepositNotFound(NotFound):
    code, message = "deposit_not_found", "No such deposit."


class UserNotFound(NotFound):
    code, message = "user_not_found", "No such user."


class IdempotencyKeyReused(Conflict):
    code, message = ("idempotency_key_reused",
                     "This Idempotency-Key was already used for a different request.")


class InvalidIdempotencyKey(ValidationFailed):
    code, message = ("invalid_idempotency_key",
                     "Idempotency-Key must be 1-64 characters: letters, digits, '-', '_', '.', ':'.")


class SelfApproval(Forbidden):
    code, message = "self_approval_forbidden", "An administrator cannot approve their own withdrawal."


class FaucetDisabled(Forbidden):
    code, message = "faucet_disabled", "The test-funds faucet is not available here."


class ChainUnavailable(ServiceUnavailable):
    code, message = "chain_unavailable", "No blockchain connection is configured or reachable."


# Domain rule codes -> HTTP status. Unlisted codes are 422 (the request itself is invalid).
_RULE_STATUS = {
    "daily_limit_exceeded": 400,
    "withdrawals_disabled": 403,
    "deposits_disabled": 403,
    "invalid_withdrawal_state": 409,
}


def from_rule(exc: RuleViolation) -> AppError:
    """The client-facing error for a rule the domain refused."""
    return AppError(exc.message, code=exc.code, http_status=_RULE_STATUS.get(exc.code, 422),
                    details=_plain(exc.details))


def _plain(value: Any) -> Any:
    """Error bodies are encoded without the Decimal hook: amounts become strings here."""
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
