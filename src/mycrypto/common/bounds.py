"""What PostgreSQL can store for ids and times, so request parameters outside it are refused (4xx)
before they reach a query (where they would be a database error, i.e. a 500)."""
from __future__ import annotations

MAX_DB_ID = 2**63 - 1               # ids are BIGINT: a larger one names nothing
MAX_TIME_MS = 253_402_300_799_999   # 9999-12-31T23:59:59.999Z, the last instant timestamptz math keeps
