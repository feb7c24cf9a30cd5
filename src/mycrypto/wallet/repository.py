"""Wallet persistence. The ledger part here is the ONLY code that changes balances.

`apply_changes` locks every touched account row in ascending id order (so concurrent transactions
never deadlock on each other), refuses a user balance going negative with `InsufficientFunds`,
updates the balances and writes the postings and their legs in one statement. The caller owns the
transaction (unit of work); nothing here commits.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
import asyncpg

from .domain.ledger import Hold, Posting, net_changes
from .errors import AccountMissing, InsufficientFunds

_INSERT_POSTINGS = """
WITH p AS (
    SELECT nextval(pg_get_serial_sequence('wallet.posting', 'id')) AS id, u.ord, u.kind, u.ref_type,
           u.ref_id, u.memo
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY
           AS u(kind, ref_type, ref_id, memo, ord)
), ins AS (
    INSERT INTO wallet.posting (id, kind, ref_type, ref_id, memo) OVERRIDING SYSTEM VALUE
    SELECT id, kind::wallet.posting_kind, ref_type, ref_id, memo FROM p
), legs AS (
    INSERT INTO wallet.posting_leg (posting_id, account_id, asset, bucket, amount)
    SELECT p.id, l.account_id, l.asset, l.bucket::wallet.balance_bucket, l.amount
      FROM unnest($5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::numeric[])
           AS l(ord, account_id, asset, bucket, amount)
      JOIN p ON p.ord = l.ord
)
SELECT id FROM p ORDER BY ord
"""


async def apply_changes(conn: asyncpg.Connection, postings: Sequence[Posting] = (),
                        holds: Iterable[Hold] = ()) -> list[int]:
    """Apply postings and holds atomically (within the caller's transaction); return posting ids."""
    changes = net_changes(postings, holds)
    ids = sorted(changes.deltas)
    if ids:
        rows = await conn.fetch(
            "SELECT id, kind, asset, available, locked FROM wallet.account "
            "WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE", ids)
        if len(rows) != len(ids):
            missing = set(ids) - {r["id"] for r in rows}
            raise AccountMissing(f"accounts {sorted(missing)} do not exist")
        for row in rows:
            d = changes.deltas[row["id"]]
            if row["kind"] == "user" and (row["available"] + d.available < 0 or row["locked"] + d.locked < 0):
                raise InsufficientFunds(f"Insufficient {row['asset']} balance.",
                                        details={"asset": row["asset"]})
        await conn.execute(
            "UPDATE wallet.account a SET available = a.available + d.da, locked = a.locked + d.dl, "
            "updated_at = now() FROM unnest($1::bigint[], $2::numeric[], $3::numeric[]) AS d(id, da, dl) "
            "WHERE a.id = d.id",
            ids, [changes.deltas[i].available for i in ids], [changes.deltas[i].locked for i in ids])
    if not postings:
        return []
    return await insert_postings(conn, postings)


async def insert_postings(conn: asyncpg.Connection, postings: Sequence[Posting]) -> list[int]:
    """Write postings and legs (one statement). Balances must be updated by the caller: use apply_changes."""
    kinds, ref_types, ref_ids, memos = [], [], [], []
    leg_ord, leg_acc, leg_asset, leg_bucket, leg_amount = [], [], [], [], []
    for n, posting in enumerate(postings, 1):
        kinds.append(posting.kind)
        ref_types.append(posting.ref_type)
        ref_ids.append(posting.ref_id)
        memos.append(posting.memo)
        for leg in posting.legs:
            leg_ord.append(n)
            leg_acc.append(leg.account_id)
            leg_asset.append(leg.asset)
            leg_bucket.append(leg.bucket)
            leg_amount.append(leg.amount)
    rows = await conn.fetch(_INSERT_POSTINGS, kinds, ref_types, ref_ids, memos,
                            leg_ord, leg_acc, leg_asset, leg_bucket, leg_amount)
    return [r["id"] for r in rows]


async def ensure_user_accounts(conn: asyncpg.Connection | asyncpg.Pool, user_id: int,
                               assets: Iterable[str]) -> dict[str, int]:
    """Account ids of a user's accounts in `assets`, creating missing ones (idempotent)."""
    assets = sorted(set(assets))
    await conn.execute(
        "INSERT INTO wallet.account (kind, user_id, asset) SELECT 'user', $1, a FROM unnest($2::text[]) a "
        "ON CONFLICT (user_id, asset) WHERE kind = 'user' DO NOTHING", user_id, assets)
    rows = await conn.fetch(
        "SELECT asset, id FROM wallet.account WHERE kind = 'user' AND user_id = $1 AND asset = ANY($2::text[])",
        user_id, assets)
    return {r["asset"]: r["id"] for r in rows}


async def system_accounts(conn: asyncpg.Connection | asyncpg.Pool) -> dict[tuple[str, str], int]:
    """{(kind, asset): account id} of the system accounts (fees, chain_in, chain_out)."""
    rows = await conn.fetch("SELECT kind::text, asset, id FROM wallet.account WHERE kind <> 'user'")
    return {(r["kind"], r["asset"]): r["id"] for r in rows}


async def balances(conn: asyncpg.Connection | asyncpg.Pool, user_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT a.code AS asset, coalesce(ac.available, 0) AS available, coalesce(ac.locked, 0) AS locked "
        "FROM wallet.asset a LEFT JOIN wallet.account ac ON ac.asset = a.code AND ac.kind = 'user' "
        "AND ac.user_id = $1 ORDER BY a.code", user_id)
