"""`mycrypto db report`: what the 004/005/045 SQL functions say about the database.

The statement-timing section checks every statement against the query budget (mean < 5 ms, p95 <
20 ms) with pg_stat_statements' mean and a distribution-free p95 bound (ops/querytiming.py says how;
bench/load adds measured p95s from sampled durations).
"""
from __future__ import annotations

from typing import Any

from . import querytiming

QUERIES = {
    "slow_queries": "SELECT * FROM ops.slow_queries(10, 20)",
    "table_sizes": "SELECT * FROM ops.table_sizes() LIMIT 25",
    "table_bloat": "SELECT * FROM ops.table_bloat() LIMIT 25",
    "index_usage": "SELECT * FROM ops.index_usage() LIMIT 25",
    "connections": "SELECT * FROM ops.connection_summary()",
}


async def collect_report(conn: Any) -> dict[str, Any]:
    report: dict[str, Any] = {"query_stats": await conn.fetchval("SELECT ops.query_stats_status()")}
    for key, sql in QUERIES.items():
        report[key] = [dict(r) for r in await conn.fetch(sql)]
    status, statements = await querytiming.collect(conn, max_rows=50)
    report["statement_timing"] = querytiming.report(status, statements)
    return report


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "  (none)"
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    for r in rows:
        lines.append("  " + "  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(columns, widths)))
    return "\n".join(lines)


def render_report(report: dict[str, Any]) -> str:
    out = [f"query statistics: {report['query_stats']}", "", "slowest queries (mean >= 10 ms):",
           _table(report["slow_queries"], ["mean_ms", "calls", "total_ms", "query"]), "",
           "largest tables:",
           _table(report["table_sizes"], ["schema_name", "table_name", "total_bytes", "index_bytes", "row_estimate"]),
           "", "dead tuples (bloat estimate):",
           _table(report["table_bloat"], ["schema_name", "table_name", "live_tuples", "dead_tuples", "dead_ratio"]),
           "", "least used indexes:",
           _table(report["index_usage"][:15], ["schema_name", "table_name", "index_name", "scans", "index_bytes"]),
           "", "connections:", _table(report["connections"], ["state", "connections", "longest_seconds"]),
           "", "statement timing (budget: mean < 5 ms, p95 < 20 ms):",
           querytiming.render_markdown(report["statement_timing"], limit=10)]
    return "\n".join(out)
