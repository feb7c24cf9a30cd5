"""Alert refusals, each with a stable code (docs/alerts.md)."""
from __future__ import annotations

from ..common.errors import AppError, Conflict, NotFound, ValidationFailed
from .domain.conditions import AlertRuleError


class InvalidAlert(AppError):
    """A condition or option out of bounds (code from domain.conditions: invalid_level, invalid_period, ...)."""

    code, http_status, message = "invalid_alert", 400, "The alert is not valid."

    @classmethod
    def from_rule(cls, err: AlertRuleError) -> AppError:
        if err.code == "unknown_field":
            return ValidationFailed(err.message, code="unknown_field", details={"field": err.field})
        return cls(err.message, code=err.code, details={"field": err.field} if err.field else None)


class AlertNotFound(NotFound):
    code, message = "alert_not_found", "No such alert."


class AlertLimitReached(Conflict):
    code, message = "alert_limit_reached", "You have reached the maximum number of active alerts; delete one first."
