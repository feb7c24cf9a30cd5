"""The history query: deposits, withdrawals and ledger postings of one user, merged, newest first.

One statement with up to three branches, each already filtered, ordered and limited on its own
index (deposit and withdrawal by user and time; postings through the user's accounts' legs), merged
by the sort key (ts, src, src_id, sub) and cut to the page size. `sub` makes the key unique:
0/1 for a withdrawal and its fee, account_id * 2 (+ 1 for the fee entry) for a posting.

Trade fees come from `trade.trade` (`buyer_fee` / `seller_fee`, in `fee_asset`), joined through the
posting's reference (`ref_type = 'trade'`, `ref_id = '<market_id>:<trade_id>'`). The `trade` entry
shows the gross amount and the `fee` entry the fee, so the entries of a posting sum to the change of
the user's balance.
"""
from __future__ import annotations

from typing import Any

import asyncpg

from ..db.database import Queryable
from .domain.history import (
    LEDGER_KINDS,
    SRC_DEPOSIT,
    SRC_LEDGER,
    SRC_WITHDRAWAL,
    HistoryFilter,
)

_COLUMNS = ("ts", "src", "src_id", "sub", "type", "asset", "amount", "status", "reference", "txid", "address",
            "confirmations", "confirmations_required")



def _trade_match(ref_type: str, ref_id: str) -> str:
    """The trade row of a posting; CASE keeps the casts off references that are not '<int>:<int>'."""
    pattern = "'^[0-9]{1,9}:[0-9]{1,18}$'"
    return (f"{ref_type} = 'trade' "
            f"AND t.market_id = CASE WHEN {ref_id} ~ {pattern} THEN split_part({ref_id}, ':', 1)::int END "
            f"AND t.id = CASE WHEN {ref_id} ~ {pattern} THEN split_part({ref_id}, ':', 2)::bigint END")


class _Params:
    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any, cast: str = "") -> str:
        self.values.append(value)
        return f"${len(self.values)}{cast}"


def build_history_query(user_id: int, f: HistoryFilter) -> tuple[str, list[Any]]:
    p = _Params()
    uid = p(user_id, "::bigint")
    n = p(f.limit + 1, "::int")
    asset = p(f.asset, "::text") if f.asset else None
    start = p(f.start, "::timestamptz") if f.start else None
    end = p(f.end, "::timestamptz") if f.end else None
    c = f.cursor
    cur = None
    if c is not None:
        cur = (p(c.ts, "::timestamptz"), p(c.src, "::int"), p(c.src_id, "::bigint"), p(c.sub, "::bigint"))

    def window(ts: str) -> str:
        out = ""
        if start:
            out += f" AND {ts} >= {start}"
        if end:
            out += f" AND {ts} < {end}"
        return out

    def before(ts: str, src: int, src_id: str, sub: str) -> str:
        return "" if cur is None else f" AND ({ts}, {src}, {src_id}, {sub}) < ({cur[0]}, {cur[1]}, {cur[2]}, {cur[3]})"

    ctes: list[str] = []
    branches: list[str] = []
    if f.wants("deposit"):
        branches.append(
            f"(SELECT d.detected_at AS ts, {SRC_DEPOSIT} AS src, d.id AS src_id, 0::bigint AS sub, "
            "'deposit'::text AS type, d.asset, d.amount, d.status::text AS status, 'deposit:' || d.id AS reference, "
            "d.txid, d.address, d.confirmations, a.confirmations_required "
            "FROM wallet.deposit d JOIN wallet.asset a ON a.code = d.asset "
            f"WHERE d.user_id = {uid}" + (f" AND d.asset = {asset}" if asset else "") + window("d.detected_at")
            + before("d.detected_at", SRC_DEPOSIT, "d.id", "0::bigint")
            + f" ORDER BY d.detected_at DESC, d.id DESC LIMIT {n})")
    if f.wants("withdrawal", "fee"):
        subs = []
        if f.wants("withdrawal"):
            subs.append("s.sub = 0")
        if f.wants("fee"):
            subs.append("(s.sub = 1 AND w.fee > 0 AND w.status IN ('broadcast', 'confirmed'))")
        branches.append(
            f"(SELECT w.requested_at AS ts, {SRC_WITHDRAWAL} AS src, w.id AS src_id, s.sub::bigint AS sub, "
            "CASE s.sub WHEN 0 THEN 'withdrawal' ELSE 'fee' END AS type, w.asset, "
            "CASE s.sub WHEN 0 THEN -w.amount ELSE -w.fee END AS amount, w.status::text AS status, "
            "'withdrawal:' || w.id AS reference, w.txid, w.address, NULL::int AS confirmations, "
            "NULL::int AS confirmations_required "
            "FROM wallet.withdrawal w CROSS JOIN (VALUES (0), (1)) AS s(sub) "
            f"WHERE w.user_id = {uid} AND ({' OR '.join(subs)})" + (f" AND w.asset = {asset}" if asset else "")
            + window("w.requested_at") + before("w.requested_at", SRC_WITHDRAWAL, "w.id", "s.sub::bigint")
            + f" ORDER BY w.requested_at DESC, w.id DESC, s.sub DESC LIMIT {n})")
    main_kinds = [k for k in LEDGER_KINDS if f.wants(k)]
    want_fee = f.wants("fee")
    if main_kinds or want_fee:
        kinds = p(sorted(set(main_kinds) | ({"trade"} if want_fee else set())), "::text[]")
        mains = p(main_kinds, "::text[]")
        # A candidate posting must yield at least one entry, so that n + 2 candidates always fill a
        # page (the +1 covers the cursor's own posting, whose entries may be partly consumed).
        yields = f"p.kind::text = ANY({mains})"
        if want_fee:
            yields += (
                f" OR EXISTS (SELECT 1 FROM trade.trade t WHERE {_trade_match('p.ref_type', 'p.ref_id')} AND ((t.buyer_user_id = {uid} AND t.buyer_fee > 0) "
                f"OR (t.seller_user_id = {uid} AND t.seller_fee > 0))"
                + (f" AND t.fee_asset = {asset}" if asset else "") + ")")
        cursor_posting = ""
        if c is not None and cur is not None:
            # After a ledger entry: its own posting may still have entries left (<=). After a deposit or
            # withdrawal entry at time T: ledger entries sort after them only when strictly older.
            cursor_posting = (f" AND (p.created_at, p.id) <= ({cur[0]}, {cur[2]})" if c.src == SRC_LEDGER
                              else f" AND p.created_at < {cur[0]}")
        ctes.append(
            f"acc AS (SELECT id, asset FROM wallet.account WHERE kind = 'user' AND user_id = {uid}"
            + (f" AND asset = {asset}" if asset else "") + "), "
            "cand AS (SELECT p.id, p.created_at, p.kind, p.ref_type, p.ref_id FROM wallet.posting p "
            "WHERE p.id IN (SELECT l.posting_id FROM wallet.posting_leg l WHERE l.account_id IN (SELECT id FROM acc)) "
            f"AND p.kind::text = ANY({kinds}) AND ({yields})" + window("p.created_at") + cursor_posting
            + f" ORDER BY p.created_at DESC, p.id DESC LIMIT {n} + 1), "
            "net AS (SELECT c.id AS posting_id, c.created_at, c.kind::text AS kind, c.ref_type, c.ref_id, "
            "a.id AS account_id, a.asset, sum(l.amount) AS net "
            "FROM cand c JOIN wallet.posting_leg l ON l.posting_id = c.id JOIN acc a ON a.id = l.account_id "
            "GROUP BY c.id, c.created_at, c.kind, c.ref_type, c.ref_id, a.id, a.asset)")
        fee_expr = (
            f"coalesce(sum(CASE WHEN t.fee_asset = n.asset THEN "
            f"(CASE WHEN t.buyer_user_id = {uid} THEN t.buyer_fee ELSE 0 END) + "
            f"(CASE WHEN t.seller_user_id = {uid} THEN t.seller_fee ELSE 0 END) ELSE 0 END), 0)")
        rows_wanted = [f"(s.sub = 0 AND n.kind = ANY({mains}))"]
        if want_fee:
            rows_wanted.append("(s.sub = 1 AND f.fee > 0)")
        sub = "(n.account_id * 2 + s.sub)::bigint"
        branches.append(
            f"(SELECT n.created_at AS ts, {SRC_LEDGER} AS src, n.posting_id AS src_id, {sub} AS sub, "
            "CASE WHEN s.sub = 1 THEN 'fee' ELSE n.kind END AS type, n.asset, "
            "CASE WHEN s.sub = 1 THEN -f.fee ELSE n.net + f.fee END AS amount, 'completed'::text AS status, "
            "n.ref_type || ':' || n.ref_id AS reference, NULL::text AS txid, NULL::text AS address, "
            "NULL::int AS confirmations, NULL::int AS confirmations_required "
            f"FROM net n CROSS JOIN LATERAL (SELECT {fee_expr} AS fee FROM trade.trade t "
            f"WHERE {_trade_match('n.ref_type', 'n.ref_id')}) f "
            "CROSS JOIN (VALUES (0), (1)) AS s(sub) "
            f"WHERE ({' OR '.join(rows_wanted)})" + before("n.created_at", SRC_LEDGER, "n.posting_id", sub)
            + f" ORDER BY n.created_at DESC, n.posting_id DESC, {sub} DESC LIMIT {n})")
    if not branches:
        return "SELECT NULL LIMIT 0", []
    with_clause = ("WITH " + ", ".join(ctes) + " ") if ctes else ""
    sql = (f"{with_clause}SELECT {', '.join(_COLUMNS)} FROM ({' UNION ALL '.join(branches)}) h "
           f"ORDER BY ts DESC, src DESC, src_id DESC, sub DESC LIMIT {n}")
    return sql, p.values


async def history(conn: Queryable, user_id: int, f: HistoryFilter) -> list[asyncpg.Record]:
    """Up to f.limit + 1 entries (the extra one tells the caller there is a next page)."""
    sql, params = build_history_query(user_id, f)
    if not params:
        return []
    return await conn.fetch(sql, *params)
