"""Binance request parameters: strings from the query string and the form body, checked like Binance.

`merge` applies Binance's rule that a parameter sent in both places takes the query string's value.
An empty value counts as not sent. Amounts are parsed exactly (Decimal from the digits sent, never
a float) with Binance's legal range `^([0-9]{1,20})(\\.[0-9]{1,20})?$`; integers likewise.
"""
from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Iterable

from ....common.bounds import MAX_DB_ID, MAX_TIME_MS
from .codes import (CLIENT_ID_RANGE, DECIMAL_RANGE, EMPTY_NEW_CL_ORD_ID, BAD_COMBINATION, Reject, illegal,
                    invalid, mandatory)

_DECIMAL = re.compile(DECIMAL_RANGE)
_INTEGER = re.compile(r"^-?[0-9]{1,19}$")
_CLIENT_ID = re.compile(CLIENT_ID_RANGE)
_SYMBOL = re.compile(r"^[A-Z0-9-_.]{1,20}$")


def merge(query: Iterable[tuple[str, str]], body: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Body first, then the query string (which wins, as on Binance)."""
    out: dict[str, str] = {}
    for key, value in body:
        out[key] = value
    for key, value in query:
        out[key] = value
    return out


class Params:
    """Typed access to one request's parameters; every refusal is a Binance `Reject`."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def has(self, name: str) -> bool:
        return self.values.get(name, "") != ""

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None or value == "" else value

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise mandatory(name)
        return value

    def integer(self, name: str, default: int | None = None, *, lo: int | None = None,
                hi: int | None = None) -> int | None:
        raw = self.get(name)
        if raw is None:
            return default
        if not _INTEGER.fullmatch(raw):
            raise illegal(name, "^[0-9]{1,19}$")
        value = int(raw)
        hi = MAX_DB_ID if hi is None else hi
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f"between {lo} and {hi}" if lo is not None and hi is not None else (
                f"at least {lo}" if lo is not None else f"at most {hi}")
            raise invalid(name, f"It must be {bounds}.")
        return value

    def decimal(self, name: str) -> Decimal | None:
        raw = self.get(name)
        if raw is None:
            return None
        if not _DECIMAL.fullmatch(raw):
            raise illegal(name, DECIMAL_RANGE)
        return Decimal(raw)

    def choice(self, name: str, choices: Iterable[str], reject: Reject, default: str | None = None) -> str | None:
        raw = self.get(name)
        if raw is None:
            return default
        value = raw.upper()
        if value not in set(choices):
            raise reject
        return value

    def client_order_id(self, name: str) -> str | None:
        if name in self.values and self.values[name] == "":
            raise Reject(EMPTY_NEW_CL_ORD_ID, "New client order ID was empty.")
        raw = self.get(name)
        if raw is not None and not _CLIENT_ID.fullmatch(raw):
            raise illegal(name, CLIENT_ID_RANGE)
        return raw

    def symbol(self, name: str = "symbol") -> str | None:
        raw = self.get(name)
        if raw is not None and not _SYMBOL.fullmatch(raw.upper()):
            raise illegal(name, "^[A-Z0-9-_.]{1,20}$")
        return None if raw is None else raw.upper()

    def symbols(self, name: str = "symbols") -> list[str] | None:
        """Binance's JSON array form: symbols=["BTCUSDT","ETHUSDT"] (URL-encoded)."""
        raw = self.get(name)
        if raw is None:
            return None
        try:
            items = json.loads(raw)
        except ValueError:
            raise illegal(name, '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$') from None
        if not isinstance(items, list) or not items or not all(isinstance(s, str) and _SYMBOL.fullmatch(s.upper())
                                                              for s in items):
            raise illegal(name, '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$')
        return [s.upper() for s in items]

    def one_symbol_or_many(self) -> list[str] | None:
        """`symbol` or `symbols` (never both); None = every market."""
        single, many = self.symbol(), self.symbols()
        if single is not None and many is not None:
            raise Reject(BAD_COMBINATION, "Combination of optional parameters invalid: send 'symbol' or "
                                          "'symbols', not both.")
        if single is not None:
            return [single]
        return many

    def time_range(self, start: str = "startTime", end: str = "endTime") -> tuple[int | None, int | None]:
        start_ms = self.integer(start, lo=0, hi=MAX_TIME_MS)
        end_ms = self.integer(end, lo=0, hi=MAX_TIME_MS)
        if start_ms is not None and end_ms is not None and end_ms < start_ms:
            raise invalid(end, f"It must not be before {start}.")
        return start_ms, end_ms
