"""Rule violations raised by the pure wallet rules; the service layer maps each code to an HTTP status.

Kept free of the platform's `AppError` (which lives next to FastAPI) so `domain/` stays importable
without any web or database library.
"""
from __future__ import annotations

from typing import Any


class RuleViolation(ValueError):
    """A request the rules refuse. `code` is the stable client-facing error code."""

    def __init__(self, code: str, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
