"""History entries, filters and the opaque pagination cursor (pure).

The history merges three sources, newest first (docs/wallet.md):
- deposits (any status, with confirmations) from the deposit table,
- withdrawals (any status) from the withdrawal table, plus a `fee` entry once the fee was charged,
- every other posting on the user's accounts from the ledger (trades, faucet grants, adjustments),
  with a trade's fee split out as its own `fee` entry.
Entries are ordered by (time, source, id, sub) descending; the cursor is that key of the last entry
returned, so pages never skip or repeat an entry even when new ones arrive meanwhile.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .errors import RuleViolation

TYPES = ("deposit", "withdrawal", "trade", "fee", "faucet", "adjustment")
LEDGER_KINDS = ("trade", "faucet", "adjustment")  # postings shown straight from the ledger

SRC_DEPOSIT, SRC_WITHDRAWAL, SRC_LEDGER = 1, 2, 3
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR_VERSION = "h1"


@dataclass(frozen=True, slots=True)
class CursorKey:
    ts: datetime
    src: int
    src_id: int
    sub: int


def encode_cursor(key: CursorKey) -> str:
    micros = (key.ts - _EPOCH) // timedelta(microseconds=1)
    raw = f"{_CURSOR_VERSION}:{micros}:{key.src}:{key.src_id}:{key.sub}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> CursorKey:
    bad = RuleViolation("invalid_cursor", "The cursor is not valid; start again without it.")
    if not isinstance(text, str) or not 0 < len(text) <= 200:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        version, micros, src, src_id, sub = raw.split(":")
        if version != _CURSOR_VERSION:
            raise ValueError(version)
        key = CursorKey(_EPOCH + timedelta(microseconds=int(micros)), int(src), int(src_id), int(sub))
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise bad from None
    if key.src not in (SRC_DEPOSIT, SRC_WITHDRAWAL, SRC_LEDGER):
        raise bad
    return key


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    asset: str | None = None
    types: tuple[str, ...] = TYPES
    start: datetime | None = None  # inclusive
    end: datetime | None = None    # exclusive
    limit: int = DEFAULT_LIMIT
    cursor: CursorKey | None = None

    def wants(self, *types: str) -> bool:
        return any(t in self.types for t in types)


def parse_types(value: str | None) -> tuple[str, ...]:
    """`type=deposit,fee` -> ('deposit', 'fee'); empty means all types."""
    if value is None or not value.strip():
        return TYPES
    types = tuple(dict.fromkeys(t.strip().lower() for t in value.split(",") if t.strip()))
    unknown = [t for t in types if t not in TYPES]
    if unknown or not types:
        raise RuleViolation("invalid_filter", f"Unknown history type(s): {', '.join(unknown) or value!r}.",
                            details={"allowed": list(TYPES)})
    return types


def parse_time(value: str | None, field: str) -> datetime | None:
    """ISO 8601 (a missing zone means UTC) or epoch milliseconds."""
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        if text.isdigit():
            return _EPOCH + timedelta(milliseconds=int(text))
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise RuleViolation("invalid_filter", f"{field} must be an ISO 8601 time or epoch milliseconds.",
                            details={"field": field}) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def build_filter(*, asset: str | None, types: str | None, start: str | None, end: str | None,
                 limit: int | None, cursor: str | None) -> HistoryFilter:
    n = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= n <= MAX_LIMIT:
        raise RuleViolation("invalid_filter", f"limit must be between 1 and {MAX_LIMIT}.", details={"field": "limit"})
    f = HistoryFilter(asset=asset, types=parse_types(types), start=parse_time(start, "start"),
                      end=parse_time(end, "end"), limit=n, cursor=decode_cursor(cursor) if cursor else None)
    if f.start and f.end and f.start >= f.end:
        raise RuleViolation("invalid_filter", "start must be before end.", details={"field": "start"})
    return f


CSV_COLUMNS = ("time", "type", "asset", "amount", "status", "reference", "txid", "address", "confirmations")
