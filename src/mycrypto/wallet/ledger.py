"""The wallet's public interface to the other services: accounts, balances and the ledger.

Trading, the Binance adapter and the wallet's own use cases use only this module (and the pure
`domain.ledger` types and `errors`) to reach a user's money; `repository.py` is the wallet's own SQL.

`apply_changes` is the ONLY code that changes balances: it locks every touched account row in
ascending id order (so concurrent transactions never deadlock on each other), refuses a user balance
going negative with `InsufficientFunds`, updates the balances and writes the postings and their legs
(one SQL function call, migration 014). `ledger_arguments` encodes the same change for a caller
that passes it to its own SQL function in one transaction (trade.commit_batch). The caller owns the
transaction (unit of work); nothing here commits.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

import asyncpg

from ..db.database import Queryable
from .domain.ledger import Hold, Posting, net_changes
from .errors import AccountMissing, InsufficientFunds

_APPLY = ("SELECT wallet.apply_changes($1::bigint[], $2::text[]::numeric[], $3::text[]::numeric[], $4::text[], "
          "$5::text[], $6::text[], $7::text[], $8::int[], $9::bigint[], $10::text[], $11::text[], "
          "$12::text[]::numeric[])")


async def apply_changes(conn: asyncpg.Connection, postings: Sequence[Posting] = (),
                        holds: Iterable[Hold] = ()) -> list[int]:
    """Apply postings and holds atomically (within the caller's transaction); return posting ids.

    One round trip: the SQL function wallet.apply_changes (migration 014) locks the touched accounts in
    id order, refuses negatives, updates balances and inserts postings with their legs.
    """
    args = ledger_arguments(postings, holds)
    if not args[0] and not args[3]:
        return []
    try:
        ids = await conn.fetchval(_APPLY, *args)
    except (asyncpg.CheckViolationError, asyncpg.ForeignKeyViolationError) as exc:
        raise translate_ledger_error(exc) from None
    return list(ids or [])


def ledger_arguments(postings: Sequence[Posting] = (), holds: Iterable[Hold] = ()) -> tuple[list, ...]:
    """The 12 arrays wallet.apply_changes takes (also passed through by trade.commit_batch)."""
    changes = net_changes(postings, holds)
    acc_ids = sorted(changes.deltas)
    deltas = changes.deltas
    return (acc_ids, [_text(deltas[i].available) for i in acc_ids], [_text(deltas[i].locked) for i in acc_ids],
            *_posting_arrays(postings))


def translate_ledger_error(exc: asyncpg.PostgresError) -> Exception:
    """The domain error behind a refusal raised by wallet.apply_changes (or the exception itself)."""
    constraint = getattr(exc, "constraint_name", None)
    if constraint == "insufficient_funds":
        asset = getattr(exc, "detail", None) or "the"
        return InsufficientFunds(f"Insufficient {asset} balance.", details={"asset": asset})
    if constraint == "account_missing":
        return AccountMissing(str(exc))
    return exc


def _posting_arrays(postings: Sequence[Posting]) -> tuple[list, ...]:
    kinds, ref_types, ref_ids, memos = [], [], [], []
    ords, accounts, assets, buckets, amounts = [], [], [], [], []
    for n, posting in enumerate(postings, 1):
        kinds.append(posting.kind)
        ref_types.append(posting.ref_type)
        ref_ids.append(posting.ref_id)
        memos.append(posting.memo)
        for leg in posting.legs:
            ords.append(n)
            accounts.append(leg.account_id)
            assets.append(leg.asset)
            buckets.append(leg.bucket)
            amounts.append(_text(leg.amount))
    return kinds, ref_types, ref_ids, memos, ords, accounts, assets, buckets, amounts


def _text(amount: Decimal) -> str:
    """Exact plain-notation text for PostgreSQL's numeric input (never a float)."""
    return format(amount, "f")


async def insert_postings(conn: asyncpg.Connection, postings: Sequence[Posting]) -> list[int]:
    """Write postings and legs WITHOUT touching balances (tests use it to prove the database refuses
    an unbalanced posting). Production code changes balances only through apply_changes."""
    ids = await conn.fetchval(_APPLY, [], [], [], *_posting_arrays(postings))
    return list(ids or [])


async def ensure_user_accounts(conn: Queryable, user_id: int, assets: Iterable[str]) -> dict[str, int]:
    """Account ids of a user's accounts in `assets`, creating missing ones (idempotent)."""
    assets = sorted(set(assets))
    await conn.execute(
        "INSERT INTO wallet.account (kind, user_id, asset) SELECT 'user', $1, a FROM unnest($2::text[]) a "
        "ON CONFLICT (user_id, asset) WHERE kind = 'user' DO NOTHING", user_id, assets)
    rows = await conn.fetch(
        "SELECT asset, id FROM wallet.account WHERE kind = 'user' AND user_id = $1 AND asset = ANY($2::text[])",
        user_id, assets)
    return {r["asset"]: r["id"] for r in rows}


async def system_accounts(conn: Queryable) -> dict[tuple[str, str], int]:
    """{(kind, asset): account id} of the system accounts (fees, chain_in, chain_out)."""
    rows = await conn.fetch("SELECT kind::text, asset, id FROM wallet.account WHERE kind <> 'user'")
    return {(r["kind"], r["asset"]): r["id"] for r in rows}


_BALANCES = ("SELECT a.code AS asset, coalesce(ac.available, 0) AS available, coalesce(ac.locked, 0) AS locked "
             "FROM wallet.asset a LEFT JOIN wallet.account ac ON ac.asset = a.code AND ac.kind = 'user' "
             "AND ac.user_id = $1 ")


async def balances(conn: Queryable, user_id: int) -> list[asyncpg.Record]:
    """The user's balance in every asset (zero where the user has no account yet), by asset code."""
    return await conn.fetch(_BALANCES + "ORDER BY a.code", user_id)


async def balance(conn: Queryable, user_id: int, asset: str) -> asyncpg.Record | None:
    return await conn.fetchrow(_BALANCES + "WHERE a.code = $2", user_id, asset)
