"""`mycrypto integrity`: the post-deploy data gate - the books (`mycrypto verify`) plus the checklist's counts.

The launch checklist asks `select count(*) from users / orders / trades` and "expected = actual,
consistent". Counts alone prove little, so besides reporting them this checks that they agree with
each other and with the ledger, from one snapshot:

- books                  every `mycrypto verify` check (ops/verify.py);
- trades_have_postings   the number of trades equals the number of trade postings;
- orders_match_fills     each order's filled quantity equals the sum of its trades (as taker or maker),
                         and a `filled` order is filled exactly;
- users_own_accounts     every user account belongs to an existing user;
- counts_not_lower       with `expect` (a backup manifest taken before the deploy, or a saved
                         report): users, orders, trades, postings and legs are not fewer than then
                         (they are append-only; fewer means data was lost).

`run_integrity(conn, expect=None)` returns an `IntegrityReport`; `record(conn, report)` stores it
in ops.integrity_run, which the services export as mycrypto_ledger_verify_ok (alert: LedgerDrift).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .verify import VerifyReport, verify_books

# counts the checklist names, and the ledger's; table -> manifest key (schema.table)
COUNTED = {"users": "auth.app_user", "orders": "trade.spot_order", "trades": "trade.trade",
           "postings": "wallet.posting", "legs": "wallet.posting_leg"}

CONSISTENCY: list[tuple[str, str, str]] = [
    ("trades_have_postings", "as many trade postings as trades", """
        SELECT t.n AS trades, p.n AS trade_postings FROM
          (SELECT count(*) AS n FROM trade.trade) t, (SELECT count(*) AS n FROM wallet.posting WHERE kind = 'trade') p
         WHERE t.n <> p.n"""),
    ("orders_match_fills", "each order's filled quantity equals the sum of its trades", """
        SELECT o.id AS order_id, o.status::text AS status, o.quantity, o.filled_quantity, coalesce(f.qty, 0) AS traded
          FROM trade.spot_order o
          LEFT JOIN (SELECT order_id, sum(quantity) AS qty FROM (
                        SELECT taker_order_id AS order_id, quantity FROM trade.trade
                        UNION ALL SELECT maker_order_id, quantity FROM trade.trade) x GROUP BY order_id) f
                 ON f.order_id = o.id
         WHERE o.filled_quantity <> coalesce(f.qty, 0)
            OR (o.status = 'filled' AND o.quantity IS NOT NULL AND o.filled_quantity <> o.quantity)
         ORDER BY o.id"""),
    ("users_own_accounts", "every user account belongs to an existing user", """
        SELECT a.id AS account_id, a.user_id FROM wallet.account a LEFT JOIN auth.app_user u ON u.id = a.user_id
         WHERE a.kind = 'user' AND u.id IS NULL ORDER BY a.id"""),
]
MAX_ROWS = 20


@dataclass
class Finding:
    name: str
    description: str
    ok: bool
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class IntegrityReport:
    checked_at: datetime
    counts: dict[str, int]
    books: VerifyReport
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return self.books.ok and all(f.ok for f in self.findings)

    @property
    def problems(self) -> int:
        return sum(c.problem_count for c in self.books.failures) + sum(len(f.rows) or 1 for f in self.findings
                                                                       if not f.ok)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked_at": self.checked_at.isoformat(), "counts": self.counts,
                "problems": self.problems,
                "findings": [{"name": f.name, "ok": f.ok, "description": f.description,
                              "rows": [{k: str(v) for k, v in r.items()} for r in f.rows]} for f in self.findings],
                "books": self.books.as_dict()}

    def render(self) -> str:
        lines = [self.books.render(), "", "Counts and consistency:",
                 "  " + ", ".join(f"{k} {v}" for k, v in self.counts.items())]
        for f in self.findings:
            lines.append(f"  [{'ok  ' if f.ok else 'FAIL'}] {f.name}  {f.description}")
            for row in f.rows[:5]:
                lines.append("         - " + ", ".join(f"{k}={v}" for k, v in row.items()))
        lines.append("")
        lines.append("INTEGRITY: OK" if self.ok else f"INTEGRITY: FAILED ({self.problems} problems)")
        return "\n".join(lines)


def load_expectation(path: str | Path) -> dict[str, int]:
    """Counts to compare with: a backup manifest (its `tables`) or a saved `--json` integrity report."""
    data = json.loads(Path(path).read_text())
    if "tables" in data:   # a backup manifest
        return {name: int(data["tables"][table]) for name, table in COUNTED.items() if table in data["tables"]}
    if "counts" in data:
        return {k: int(v) for k, v in data["counts"].items() if k in COUNTED}
    raise ValueError(f"{path} is neither a backup manifest nor an integrity report")


async def run_integrity(conn: Any, expect: dict[str, int] | None = None) -> IntegrityReport:
    """Every check on one REPEATABLE READ snapshot; never writes."""
    if conn.is_in_transaction():
        return await _run(conn, expect)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _run(conn, expect)


async def _run(conn: Any, expect: dict[str, int] | None) -> IntegrityReport:
    books = await verify_books(conn)
    counts = {name: int(await conn.fetchval(f"SELECT count(*) FROM {table}")) for name, table in COUNTED.items()}
    findings = []
    for name, description, sql in CONSISTENCY:
        rows = await conn.fetch(f"SELECT * FROM ({sql}) q LIMIT {MAX_ROWS}")
        findings.append(Finding(name, description, not rows, [dict(r) for r in rows]))
    if expect:
        lower = [{"count": k, "expected_at_least": v, "actual": counts.get(k)} for k, v in expect.items()
                 if counts.get(k, 0) < v]
        findings.append(Finding("counts_not_lower", "users, orders, trades, postings are not fewer than expected",
                                not lower, lower))
    return IntegrityReport(books.checked_at.astimezone(UTC), counts, books, findings)


async def record(conn: Any, report: IntegrityReport) -> None:
    await conn.execute("INSERT INTO ops.integrity_run (started_at, ok, problems, report) VALUES ($1, $2, $3, $4)",
                       report.checked_at, report.ok, report.problems, report.as_dict())
