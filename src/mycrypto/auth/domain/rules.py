"""The one exception pure auth rules raise: a refusal with a stable code the API layer maps to a 4xx."""
from __future__ import annotations


class Rejected(ValueError):
    """A rule refused the input. `code` is the stable error code clients see."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
