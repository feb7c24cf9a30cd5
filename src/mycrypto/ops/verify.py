"""`mycrypto verify`: prove the books, from one consistent snapshot of the database.

Checks (each lists its first offending rows; any offence makes the report fail):
- postings_balanced        every posting has >= 2 legs and its legs sum to zero per asset;
- accounts_match_ledger    every account's available + locked equals the sum of its legs;
- assets_sum_to_zero       per asset, the sum of all accounts (users, fees, chain_in, chain_out) is 0;
- no_negative_balances     no user available/locked below zero; system accounts never hold `locked`;
- locked_matches_holds     each user's locked == open orders' hold_remaining (status new /
                           partially_filled, by hold_asset) + pending withdrawals' amount + fee
                           (status requested / approved) + open deposit freezes (held); untriggered
                           stop / take-profit orders are open orders (status new) and count here;
- transfers_posted         credited deposits and broadcast/confirmed withdrawals have exactly the
                           posting their amounts say; other deposits and withdrawals have none,
                           except a reverted (failed) one, whose posting is reversed exactly.

`verify_books(conn)` (alias `collect`) returns a `VerifyReport`; the trade team's tests call it after
random trading. It runs in a REPEATABLE READ, read-only transaction (unless the caller already has
one open), so every check sees the same instant even while trading continues.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..common.money import fmt

MAX_PROBLEMS = 20


@dataclass
class Check:
    name: str
    description: str
    problems: list[dict[str, Any]] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "description": self.description,
                "problem_count": self.problem_count, "problems": [_plain(p) for p in self.problems]}


@dataclass
class VerifyReport:
    checked_at: datetime
    checks: list[Check]
    summary: dict[str, Any]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked_at": self.checked_at.isoformat(),
                "checks": [c.as_dict() for c in self.checks], "summary": _plain(self.summary)}

    def render(self) -> str:
        return render(self)


# (name, description, query returning offending rows). Queries are written to return nothing when
# the books are right, so "no rows" is the proof.
CHECKS: list[tuple[str, str, str]] = [
    ("postings_balanced", "every posting has at least two legs and sums to zero per asset", """
        SELECT posting_id, asset, total, legs FROM (
            SELECT l.posting_id, l.asset, sum(l.amount) AS total, count(*) AS legs
              FROM wallet.posting_leg l GROUP BY l.posting_id, l.asset HAVING sum(l.amount) <> 0
            UNION ALL
            SELECT p.id, NULL, NULL, count(l.id) FROM wallet.posting p
              LEFT JOIN wallet.posting_leg l ON l.posting_id = p.id GROUP BY p.id HAVING count(l.id) < 2
        ) bad ORDER BY posting_id"""),
    ("accounts_match_ledger", "each account's available + locked equals the sum of its legs", """
        SELECT a.id AS account_id, a.kind::text AS kind, a.user_id, a.asset, a.available, a.locked,
               coalesce(s.total, 0) AS ledger_total
          FROM wallet.account a
          LEFT JOIN (SELECT account_id, sum(amount) AS total FROM wallet.posting_leg GROUP BY account_id) s
                 ON s.account_id = a.id
         WHERE a.available + a.locked <> coalesce(s.total, 0) ORDER BY a.id"""),
    ("assets_sum_to_zero", "per asset, the sum over all accounts is zero", """
        SELECT asset, sum(available + locked) AS total FROM wallet.account
         GROUP BY asset HAVING sum(available + locked) <> 0 ORDER BY asset"""),
    ("no_negative_balances", "no user balance is negative; system accounts hold nothing locked", """
        SELECT id AS account_id, kind::text AS kind, user_id, asset, available, locked FROM wallet.account
         WHERE (kind = 'user' AND (available < 0 OR locked < 0)) OR (kind <> 'user' AND locked <> 0)
         ORDER BY id"""),
    ("locked_matches_holds",
     "each user's locked equals open orders' remaining holds plus pending withdrawals (amount + fee)", """
        WITH expected AS (
            SELECT user_id, asset, sum(amount) AS amount FROM (
                SELECT user_id, hold_asset AS asset, hold_remaining AS amount FROM trade.spot_order
                 WHERE status IN ('new', 'partially_filled')
                UNION ALL
                SELECT user_id, asset, amount + fee FROM wallet.withdrawal WHERE status IN ('requested', 'approved')
                UNION ALL  -- credits frozen after a deep chain reorganisation (migration 021)
                SELECT user_id, asset, held FROM wallet.deposit_freeze WHERE resolved_at IS NULL AND held > 0
            ) h GROUP BY user_id, asset
        ), actual AS (
            SELECT user_id, asset, locked FROM wallet.account WHERE kind = 'user'
        )
        SELECT coalesce(a.user_id, e.user_id) AS user_id, coalesce(a.asset, e.asset) AS asset,
               coalesce(a.locked, 0) AS locked, coalesce(e.amount, 0) AS expected
          FROM actual a FULL JOIN expected e ON e.user_id = a.user_id AND e.asset = a.asset
         WHERE coalesce(a.locked, 0) <> coalesce(e.amount, 0)
         ORDER BY 1, 2"""),
    ("transfers_posted", "credited deposits and sent withdrawals have their posting; others have none", """
        SELECT 'deposit' AS kind, d.id, d.status::text AS status, d.amount AS expected, s.user_total AS posted
          FROM wallet.deposit d
          LEFT JOIN wallet.posting p ON p.id = d.posting_id
          LEFT JOIN LATERAL (SELECT sum(l.amount) AS user_total FROM wallet.posting_leg l
                               JOIN wallet.account a ON a.id = l.account_id
                              WHERE l.posting_id = d.posting_id AND a.kind = 'user' AND a.user_id = d.user_id) s ON true
         WHERE (d.status = 'credited') <> (d.posting_id IS NOT NULL)
            OR (d.posting_id IS NOT NULL AND (p.kind <> 'deposit' OR s.user_total IS DISTINCT FROM d.amount))
        UNION ALL
        SELECT 'withdrawal', w.id, w.status::text, -(w.amount + w.fee), s.user_total
          FROM wallet.withdrawal w
          LEFT JOIN wallet.posting p ON p.id = w.posting_id
          LEFT JOIN LATERAL (SELECT sum(l.amount) AS user_total FROM wallet.posting_leg l
                               JOIN wallet.account a ON a.id = l.account_id
                              WHERE l.posting_id = w.posting_id AND a.kind = 'user' AND a.user_id = w.user_id) s ON true
         WHERE (w.status IN ('broadcast', 'confirmed') OR w.reversal_posting_id IS NOT NULL)
               <> (w.posting_id IS NOT NULL)
            OR (w.posting_id IS NOT NULL AND (p.kind <> 'withdrawal' OR s.user_total IS DISTINCT FROM -(w.amount + w.fee)))
        UNION ALL  -- a sent withdrawal that reverted on chain: failed, and its posting reversed exactly
        SELECT 'withdrawal_reversal', w.id, w.status::text, w.amount + w.fee, r.user_total
          FROM wallet.withdrawal w
          LEFT JOIN LATERAL (SELECT sum(l.amount) AS user_total FROM wallet.posting_leg l
                               JOIN wallet.account a ON a.id = l.account_id
                              WHERE l.posting_id = w.reversal_posting_id AND a.kind = 'user'
                                AND a.user_id = w.user_id) r ON true
         WHERE w.reversal_posting_id IS NOT NULL
           AND (w.status <> 'failed' OR r.user_total IS DISTINCT FROM w.amount + w.fee)
        ORDER BY 1, 2"""),
    ("legs_reference_accounts", "every leg names an existing posting and an account of the same asset", """
        SELECT l.posting_id, l.account_id, l.asset FROM wallet.posting_leg l
          LEFT JOIN wallet.account a ON a.id = l.account_id AND a.asset = l.asset
          LEFT JOIN wallet.posting p ON p.id = l.posting_id
         WHERE a.id IS NULL OR p.id IS NULL ORDER BY 1, 2"""),
    ("trades_match_orders",
     "each trade agrees with its taker and maker orders (market, buyer, seller) and has its trade posting", """
        SELECT t.market_id, t.id AS trade_id FROM trade.trade t
          JOIN trade.market m ON m.id = t.market_id
          LEFT JOIN trade.spot_order tk ON tk.id = t.taker_order_id
          LEFT JOIN trade.spot_order mk ON mk.id = t.maker_order_id
          LEFT JOIN wallet.posting p ON p.id = t.posting_id
         WHERE tk.id IS NULL OR mk.id IS NULL OR tk.market_id <> t.market_id OR mk.market_id <> t.market_id
            OR tk.side <> t.taker_side OR mk.side = t.taker_side
            OR t.buyer_user_id <> CASE WHEN t.taker_side = 'buy' THEN tk.user_id ELSE mk.user_id END
            OR t.seller_user_id <> CASE WHEN t.taker_side = 'sell' THEN tk.user_id ELSE mk.user_id END
            OR t.fee_asset <> m.quote_asset
            OR p.id IS NULL OR p.kind <> 'trade' OR p.ref_id <> t.market_id || ':' || t.id
         ORDER BY 1, 2"""),
    # conditional orders (migration 055): an order that never triggered never traded; an OCO pair never
    # has both legs open once one of them traded or triggered
    ("conditional_orders_consistent",
     "untriggered stop/take-profit orders have no fills; no OCO pair is still fully open after a leg traded", """
        SELECT o.id AS order_id, c.kind, o.status::text AS status, o.filled_quantity
          FROM trade.order_condition c JOIN trade.spot_order o ON o.id = c.order_id
          LEFT JOIN trade.spot_order s ON s.id = c.oco_order_id
         WHERE (c.triggered_at IS NULL AND c.kind <> 'limit' AND (o.filled_quantity > 0 OR o.status <> 'new'
                AND o.status <> 'canceled'))
            OR (s.id IS NOT NULL AND o.status IN ('new', 'partially_filled') AND s.status IN ('new', 'partially_filled')
                AND (o.filled_quantity > 0 OR s.filled_quantity > 0
                     OR (c.kind <> 'limit' AND c.triggered_at IS NOT NULL)))
         ORDER BY 1"""),
]

_SUMMARY_SQL = """
    SELECT a.code AS asset,
           coalesce(sum(ac.available) FILTER (WHERE ac.kind = 'user'), 0) AS users_available,
           coalesce(sum(ac.locked) FILTER (WHERE ac.kind = 'user'), 0) AS users_locked,
           coalesce(sum(ac.available) FILTER (WHERE ac.kind = 'fees'), 0) AS fees,
           coalesce(sum(ac.available) FILTER (WHERE ac.kind = 'chain_in'), 0) AS chain_in,
           coalesce(sum(ac.available) FILTER (WHERE ac.kind = 'chain_out'), 0) AS chain_out,
           coalesce(sum(ac.available) FILTER (WHERE ac.kind::text = 'network_fees'), 0) AS network_fees
      FROM wallet.asset a LEFT JOIN wallet.account ac ON ac.asset = a.code
     GROUP BY a.code ORDER BY a.code"""


async def verify_books(conn: Any) -> VerifyReport:
    """Run every check on one snapshot; never writes."""
    if conn.is_in_transaction():
        return await _run(conn)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _run(conn)


collect = verify_books


async def _run(conn: Any) -> VerifyReport:
    checked_at = await conn.fetchval("SELECT now()")
    checks = []
    for name, description, sql in CHECKS:
        rows = await conn.fetch(f"SELECT * FROM ({sql}) q LIMIT {MAX_PROBLEMS + 1}")
        check = Check(name, description, [dict(r) for r in rows[:MAX_PROBLEMS]], len(rows))
        if len(rows) > MAX_PROBLEMS:
            check.problem_count = await conn.fetchval(f"SELECT count(*) FROM ({sql}) q")
        checks.append(check)
    counts = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM wallet.posting) AS postings, (SELECT count(*) FROM wallet.posting_leg) AS legs, "
        "(SELECT count(*) FROM wallet.account) AS accounts, "
        "(SELECT count(*) FROM wallet.withdrawal WHERE status IN ('requested', 'approved')) AS pending_withdrawals, "
        "(SELECT count(*) FROM trade.spot_order WHERE status IN ('new', 'partially_filled')) AS open_orders")
    assets = {r["asset"]: {k: r[k] for k in ("users_available", "users_locked", "fees", "chain_in", "chain_out",
                                             "network_fees")}
              for r in await conn.fetch(_SUMMARY_SQL)}
    return VerifyReport(checked_at.astimezone(UTC), checks, {**dict(counts), "assets": assets})


def _plain(value: Any) -> Any:
    """JSON-ready: Decimal -> plain string, datetime -> ISO 8601."""
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def render(report: VerifyReport) -> str:
    """The human-readable report."""
    s = report.summary
    lines = [f"MyCrypto books verification at {report.checked_at:%Y-%m-%d %H:%M:%S} UTC",
             f"  {s['postings']} postings, {s['legs']} legs, {s['accounts']} accounts, "
             f"{s['open_orders']} open orders, {s['pending_withdrawals']} pending withdrawals", ""]
    width = max(len(c.name) for c in report.checks)
    for check in report.checks:
        mark = "ok  " if check.ok else "FAIL"
        lines.append(f"  [{mark}] {check.name.ljust(width)}  {check.description}")
        for problem in check.problems:
            lines.append("         - " + ", ".join(f"{k}={_plain(v)}" for k, v in problem.items()))
        if check.problem_count > len(check.problems):
            lines.append(f"         ... and {check.problem_count - len(check.problems)} more")
    lines += ["", "  per asset:        users available     users locked              fees          chain_in"
                  "         chain_out      network_fees"]
    for asset, t in s["assets"].items():
        lines.append(f"  {asset:<8} " + " ".join(f"{fmt(t.get(k, 0)):>17}" for k in
                                                 ("users_available", "users_locked", "fees", "chain_in", "chain_out",
                                                  "network_fees")))
    lines.append("")
    if report.ok:
        lines.append("RESULT: OK - the books balance.")
    else:
        n = sum(c.problem_count for c in report.failures)
        lines.append(f"RESULT: FAILED - {n} discrepanc{'y' if n == 1 else 'ies'} in "
                     f"{', '.join(c.name for c in report.failures)}.")
    return "\n".join(lines)
