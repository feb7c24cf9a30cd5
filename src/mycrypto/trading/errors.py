"""Trade refusals, each with a stable code (the contract the web app and the /api/v3 adapter map from)."""
from __future__ import annotations

from ..common.errors import AppError, Conflict, NotFound, ServiceUnavailable
from .domain.rules import OrderRuleError


class InvalidOrder(AppError):
    """A market rule refused the order (code from domain.rules: price_tick, quantity_step, ...)."""

    code, http_status, message = "invalid_order", 400, "The order breaks a market rule."

    @classmethod
    def from_rule(cls, err: OrderRuleError) -> InvalidOrder:
        return cls(err.message, code=err.code, details=err.details)


class UnknownMarket(AppError):
    code, http_status, message = "unknown_market", 400, "Unknown market symbol."


class MarketNotFound(NotFound):
    code, message = "unknown_market", "Unknown market symbol."


class MarketHalted(Conflict):
    code, message = "market_halted", "Trading on this market is halted; only cancels are accepted."


class MarketUnavailable(ServiceUnavailable):
    """No engine owns the market right now (failover in progress); retry shortly."""

    code, message = "market_unavailable", "This market is temporarily unavailable; retry shortly."

    def __init__(self, message: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)}, details={"retry_after": retry_after})


class OutcomeUnknown(ServiceUnavailable):
    """The database connection failed while the batch holding this command was committing, and the
    database could not be asked afterwards whether it committed. Never guessed as "not executed": a
    blind retry without a client order id could trade twice."""

    code, message = ("order_outcome_unknown",
                     "The connection to the database failed while this command was being committed; it may or "
                     "may not have been executed. Check your open orders and history (or place it again with "
                     "the same client_order_id) before retrying.")


class EngineOverloaded(ServiceUnavailable):
    code, message = "engine_overloaded", "Too many orders queued for this market; retry shortly."

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "1"})


class OrderNotFound(NotFound):
    code, message = "order_not_found", "No such order."


class OrderNotOpen(Conflict):
    code, message = "order_not_open", "The order is no longer open."


class PostOnlyWouldTake(AppError):
    code, http_status, message = "post_only_would_take", 400, "A post-only order would have traded immediately."


class InvalidAmend(AppError):
    code, http_status, message = ("invalid_amend_quantity", 400,
                                  "The new quantity must be below the current quantity and above the filled quantity.")


class DuplicateClientOrderId(Conflict):
    code, message = ("duplicate_client_order_id",
                     "This client_order_id was already used for a different order.")


class InvalidCursor(AppError):
    code, http_status, message = "invalid_cursor", 400, "The cursor is not valid."


class InvalidParameter(AppError):
    code, http_status, message = "invalid_parameter", 400, "A parameter is not valid."


class NotOwnerHere(Exception):
    """Raised by the service when this replica does not own the market. The API layer forwards the
    request to `owner_url` (or answers 503 market_unavailable when there is none)."""

    def __init__(self, symbol: str, owner_url: str | None) -> None:
        super().__init__(f"{symbol} is owned by {owner_url or 'nobody'}")
        self.symbol = symbol
        self.owner_url = owner_url


class WouldTriggerImmediately(AppError):
    code, http_status, message = ("would_trigger_immediately", 400,
                                  "The stop price is already reached by the last trade price; the order would "
                                  "trigger immediately (place a limit or market order instead).")


class UntriggeredNotAmendable(AppError):
    code, http_status, message = ("untriggered_not_amendable", 400,
                                  "An untriggered conditional order cannot be amended; cancel it and place a new one.")
