"""Statement timing against the database budget (mean < 5 ms, p95 < 20 ms per statement).

Where the numbers come from:
- mean, stddev, max, calls: `pg_stat_statements` through `ops.statement_timing()` (migration 045).
  It needs `shared_preload_libraries = 'pg_stat_statements'` (a server restart) and the extension in
  the database (migration 004 creates it when the files are installed). The embedded development
  server ships no pg_stat_statements; this machine's PostgreSQL 15 has the files but preloads
  nothing; bench/load starts a private server that has both (bench/load/pgstats.py).
- p95 bound: mean + sqrt(19) * stddev (Cantelli's inequality: holds for any distribution). Under the
  budget = proven; over it = inconclusive, not a failure.
- p95 measured: pg_stat_statements keeps no percentiles, so when the server logs a random sample of
  statement durations with their query id (`log_min_duration_sample = 0`,
  `log_statement_sample_rate`, `compute_query_id = on`, `%Q` in `log_line_prefix`), those samples
  are parsed from the log (`sampled_durations`) and the p95 is the nearest-rank p95 of the samples of
  each query id. With a 10 % sample and few calls the sample is small: the report shows its size.

A statement's verdict: `over` when its mean or its measured p95 exceeds the budget; `ok` when the
measured p95 (or, without samples, the bound) is within it; `unknown` when only the bound is known
and it is over the budget (the max alone proves nothing either way).
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from .loadstats import percentile

MEAN_BUDGET_MS = 5.0
P95_BUDGET_MS = 20.0
# "... qid=<queryid> db=<name> LOG:  duration: 1.234 ms  execute <stmt>: SELECT ..." (or "statement: ")
# the measurement's own statements are not part of the load
_OWN = re.compile(r"ops\.(reset_query_stats|query_stats_status|statement_timing)|pg_stat_statements")
_SAMPLE = re.compile(r"qid=(-?\d+) db=(\S*) LOG:  duration: ([0-9.]+) ms  (?:execute [^:]*|statement):")


def sampled_durations(log_text: str, database: str | None = None) -> dict[int, list[float]]:
    """query id -> sampled execution times (ms) from a server log written with bench/load's settings.

    Only `execute` (extended protocol) and `statement` (simple protocol) lines count: `parse` and
    `bind` are separate messages whose time pg_stat_statements does not count as execution either."""
    out: dict[int, list[float]] = defaultdict(list)
    for m in _SAMPLE.finditer(log_text):
        qid, db, ms = int(m.group(1)), m.group(2), float(m.group(3))
        if qid == 0 or (database is not None and db != database):
            continue
        out[qid].append(ms)
    return dict(out)


@dataclass
class StatementTiming:
    queryid: int
    query: str
    calls: int
    mean_ms: float
    stddev_ms: float
    max_ms: float
    total_ms: float
    p95_bound_ms: float
    p95_ms: float | None = None        # measured from samples
    samples: int = 0

    def verdict(self, mean_budget: float = MEAN_BUDGET_MS, p95_budget: float = P95_BUDGET_MS) -> str:
        if self.mean_ms > mean_budget:
            return "over"
        if self.p95_ms is not None:
            return "over" if self.p95_ms > p95_budget else "ok"
        if self.p95_bound_ms <= p95_budget:
            return "ok"
        return "unknown"

    def as_dict(self, mean_budget: float = MEAN_BUDGET_MS, p95_budget: float = P95_BUDGET_MS) -> dict[str, Any]:
        r = lambda x: None if x is None or (isinstance(x, float) and math.isnan(x)) else round(x, 3)  # noqa: E731
        return {"queryid": self.queryid, "query": self.query, "calls": self.calls, "mean_ms": r(self.mean_ms),
                "stddev_ms": r(self.stddev_ms), "max_ms": r(self.max_ms), "total_ms": r(self.total_ms),
                "p95_ms": r(self.p95_ms), "p95_samples": self.samples, "p95_bound_ms": r(self.p95_bound_ms),
                "verdict": self.verdict(mean_budget, p95_budget)}


async def reset(conn: Any) -> bool:
    """Start a measurement window (this database's statistics only); False when unavailable."""
    return bool(await conn.fetchval("SELECT ops.reset_query_stats()"))


async def collect(conn: Any, samples: dict[int, list[float]] | None = None, max_rows: int = 200,
                  min_calls: int = 1) -> tuple[str, list[StatementTiming]]:
    """(query_stats status, statements slowest mean first), with measured p95s where sampled."""
    status = await conn.fetchval("SELECT ops.query_stats_status()")
    rows = await conn.fetch("SELECT * FROM ops.statement_timing($1)", max_rows)
    out = []
    for row in rows:
        if row["calls"] < min_calls or _OWN.search(row["query"]):
            continue
        st = StatementTiming(int(row["queryid"]), row["query"], int(row["calls"]), float(row["mean_ms"]),
                             float(row["stddev_ms"] or 0.0), float(row["max_ms"]), float(row["total_ms"]),
                             float(row["p95_bound_ms"] or row["mean_ms"]))
        xs = sorted((samples or {}).get(st.queryid, ()))
        if xs:
            st.p95_ms, st.samples = percentile(xs, 95), len(xs)
        out.append(st)
    return status, out


def report(status: str, statements: list[StatementTiming], *, mean_budget: float = MEAN_BUDGET_MS,
           p95_budget: float = P95_BUDGET_MS, sample_rate: float | None = None) -> dict[str, Any]:
    rows = [s.as_dict(mean_budget, p95_budget) for s in statements]
    verdicts = [r["verdict"] for r in rows]
    return {
        "query_stats": status,
        "budget": {"mean_ms": mean_budget, "p95_ms": p95_budget},
        "p95_method": ("nearest-rank p95 of durations sampled from the server log "
                       f"(log_statement_sample_rate={sample_rate}); without samples: the distribution-free "
                       "bound mean + sqrt(19)*stddev (Cantelli)") if sample_rate else
                      "bound mean + sqrt(19)*stddev (Cantelli; no sampled durations)",
        "statements": len(rows), "calls": sum(s.calls for s in statements),
        "over_budget": verdicts.count("over"), "unknown": verdicts.count("unknown"),
        "ok": status == "ok" and "over" not in verdicts,
        "slowest": rows,
    }


def render_markdown(rep: dict[str, Any], limit: int = 15) -> str:
    if rep["query_stats"] != "ok":
        return f"Statement timing: {rep['query_stats']}"
    b = rep["budget"]
    lines = [f"{rep['statements']} statements, {rep['calls']:,} calls; budget mean < {b['mean_ms']} ms, "
             f"p95 < {b['p95_ms']} ms: {rep['over_budget']} over, {rep['unknown']} unknown. "
             f"p95: {rep['p95_method']}.", "",
             "| mean ms | p95 ms (samples) | p95 bound ms | max ms | calls | verdict | statement |",
             "|---:|---:|---:|---:|---:|---|---|"]
    for r in rep["slowest"][:limit]:
        p95 = f"{r['p95_ms']} ({r['p95_samples']})" if r["p95_ms"] is not None else "-"
        query = r["query"][:110].replace("|", "\\|")
        lines.append(f"| {r['mean_ms']} | {p95} | {r['p95_bound_ms']} | {r['max_ms']} | {r['calls']:,} | "
                     f"{r['verdict']} | `{query}` |")
    return "\n".join(lines)
