"""SQL fragments the repositories share, so an expression is written (and reviewed) once.

Times cross the API as epoch milliseconds (bigint); PostgreSQL keeps `timestamptz`. The fragments are
plain strings: repositories build their queries from them once, at import, so the text asyncpg
prepares (and caches) is the same on every call.
"""
from __future__ import annotations


def ms_to_ts(param: str) -> str:
    """The timestamptz of epoch milliseconds `param` (a placeholder such as `$3`): exact, no float."""
    return f"'epoch'::timestamptz + {param} * interval '1 millisecond'"


def epoch_ms(column: str) -> str:
    """A timestamptz column as epoch milliseconds (bigint, truncated toward zero like the API's times)."""
    return f"(extract(epoch FROM {column}) * 1000)::bigint"


def time_bound(column: str, op: str, param: str) -> str:
    """An optional bound in epoch ms: `($n::bigint IS NULL OR column <op> <timestamp of $n>)`."""
    return f"({param}::bigint IS NULL OR {column} {op} {ms_to_ts(param)})"
