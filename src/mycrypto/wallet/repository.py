"""Wallet persistence (SQL only; the caller owns the transaction): assets, deposit addresses,
deposits, withdrawals. The ledger and the accounts (the only code that changes balances, and what
other services may use) are in `ledger.py`.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import asyncpg

from ..db.database import Queryable
from .domain.assets import AssetRules

# ---------------------------------------------------------------------------------------- assets
_ASSET_COLUMNS = ("code, name, decimals, chain, confirmations_required, address_pattern, min_withdrawal, "
                  "withdrawal_fee, daily_withdrawal_limit, withdrawal_auto_approve_max, deposit_enabled, "
                  "withdraw_enabled")


async def list_assets(conn: Queryable) -> list[AssetRules]:
    rows = await conn.fetch(f"SELECT {_ASSET_COLUMNS} FROM wallet.asset ORDER BY code")
    return [AssetRules.from_mapping(r) for r in rows]


async def get_asset(conn: Queryable, code: str) -> AssetRules | None:
    row = await conn.fetchrow(f"SELECT {_ASSET_COLUMNS} FROM wallet.asset WHERE code = $1", code)
    return None if row is None else AssetRules.from_mapping(row)


async def user_exists(conn: Queryable, user_id: int) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM auth.app_user WHERE id = $1)", user_id))


async def lock_user(conn: asyncpg.Connection, user_id: int) -> bool:
    """Serialise a user's withdrawal requests (daily limit, idempotency) on their user row.

    FOR NO KEY UPDATE does not block foreign-key checks, so orders and other rows referencing the
    user are not held up by it.
    """
    return await conn.fetchval("SELECT true FROM auth.app_user WHERE id = $1 FOR NO KEY UPDATE", user_id) or False


async def lock_accounts(conn: asyncpg.Connection, account_ids: Iterable[int]) -> None:
    """Lock account rows early (ascending id, like apply_changes) to fix a use case's lock order."""
    await conn.execute("SELECT 1 FROM wallet.account WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",
                       sorted(set(account_ids)))


# ---------------------------------------------------------------------------------------- addresses
async def deposit_address(conn: Queryable, user_id: int, asset: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT asset, chain, address, created_at FROM wallet.deposit_address WHERE user_id = $1 AND asset = $2",
        user_id, asset)


async def insert_deposit_address(conn: Queryable, user_id: int, asset: str, chain: str, address: str) -> None:
    """Keep the first address if two requests raced (the loser's address is simply never used)."""
    await conn.execute(
        "INSERT INTO wallet.deposit_address (user_id, asset, chain, address) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (user_id, asset) DO NOTHING", user_id, asset, chain, address)


# ---------------------------------------------------------------------------------------- deposits
_DEPOSIT_COLUMNS = ("d.id, d.user_id, d.asset, d.chain, d.txid, d.vout, d.address, d.amount, d.confirmations, "
                    "a.confirmations_required, d.status::text AS status, d.posting_id, d.detected_at, "
                    "d.confirmed_at, d.credited_at")


async def list_deposits(conn: Queryable, user_id: int, *, asset: str | None = None, status: str | None = None,
                        before_id: int | None = None, limit: int = 50) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_DEPOSIT_COLUMNS} FROM wallet.deposit d JOIN wallet.asset a ON a.code = d.asset "
        "WHERE d.user_id = $1 AND ($2::text IS NULL OR d.asset = $2) "
        "AND ($3::text IS NULL OR d.status = $3::wallet.deposit_status) AND ($4::bigint IS NULL OR d.id < $4) "
        "ORDER BY d.id DESC LIMIT $5", user_id, asset, status, before_id, limit)


async def get_deposit(conn: Queryable, deposit_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_DEPOSIT_COLUMNS} FROM wallet.deposit d JOIN wallet.asset a ON a.code = d.asset "
        "WHERE d.id = $1", deposit_id)


async def get_chain_cursor(conn: Queryable, adapter: str, chain: str) -> str | None:
    return await conn.fetchval("SELECT cursor FROM wallet.chain_cursor WHERE adapter = $1 AND chain = $2",
                               adapter, chain)


async def set_chain_cursor(conn: Queryable, adapter: str, chain: str, cursor: str) -> None:
    await conn.execute(
        "INSERT INTO wallet.chain_cursor (adapter, chain, cursor) VALUES ($1, $2, $3) "
        "ON CONFLICT (adapter, chain) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()",
        adapter, chain, cursor)


async def record_deposits(conn: Queryable, chain: str, transfers: Sequence[Any]) -> int:
    """Insert newly seen transfers to our users' addresses as pending deposits; repeats change nothing.

    Transfers to addresses no user holds, or of an asset that does not live on `chain`, are ignored.
    """
    if not transfers:
        return 0
    rows = await conn.fetch(
        "INSERT INTO wallet.deposit (user_id, asset, chain, txid, vout, address, amount, confirmations) "
        "SELECT da.user_id, t.asset, $1, t.txid, t.vout, t.address, t.amount, greatest(t.conf, 0) "
        "FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::numeric[], $7::int[]) "
        "     AS t(txid, vout, address, asset, amount, conf) "
        "JOIN wallet.deposit_address da ON da.chain = $1 AND da.address = t.address "
        "JOIN wallet.asset a ON a.code = t.asset AND a.chain = $1 "
        "WHERE t.amount > 0 "
        "ON CONFLICT (chain, txid, vout) DO NOTHING RETURNING id",
        chain, [t.txid for t in transfers], [t.vout for t in transfers], [t.address for t in transfers],
        [t.asset for t in transfers], [t.amount for t in transfers], [t.confirmations for t in transfers])
    return len(rows)


async def pending_deposits(conn: Queryable, limit: int = 1000) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT d.id, d.chain, d.txid FROM wallet.deposit d WHERE d.status = 'pending' ORDER BY d.id LIMIT $1",
        limit)


async def update_deposit_confirmations(conn: Queryable, ids: list[int], confirmations: list[int]) -> list[int]:
    """Store confirmation counts (never lowering them); pending -> confirmed at the asset's requirement.

    Returns the ids that became confirmed. The status change is conditional on still being pending.
    """
    rows = await conn.fetch(
        "UPDATE wallet.deposit d SET confirmations = greatest(d.confirmations, u.n), "
        "  status = CASE WHEN greatest(d.confirmations, u.n) >= a.confirmations_required "
        "                THEN 'confirmed'::wallet.deposit_status ELSE d.status END, "
        "  confirmed_at = CASE WHEN greatest(d.confirmations, u.n) >= a.confirmations_required "
        "                      THEN now() ELSE d.confirmed_at END "
        "FROM unnest($1::bigint[], $2::int[]) AS u(id, n), wallet.asset a "
        "WHERE d.id = u.id AND a.code = d.asset AND d.status = 'pending' "
        "RETURNING d.id, d.status::text AS status", ids, confirmations)
    return [r["id"] for r in rows if r["status"] == "confirmed"]


async def lock_confirmed_deposits(conn: Queryable, limit: int = 200) -> list[asyncpg.Record]:
    """Confirmed, not yet credited deposits of enabled assets, locked (other watchers skip them)."""
    return await conn.fetch(
        "SELECT d.id, d.user_id, d.asset, d.amount, d.txid FROM wallet.deposit d "
        "JOIN wallet.asset a ON a.code = d.asset "
        "WHERE d.status = 'confirmed' AND a.deposit_enabled ORDER BY d.id LIMIT $1 FOR UPDATE OF d SKIP LOCKED",
        limit)


async def mark_deposits_credited(conn: Queryable, ids: list[int], posting_ids: list[int]) -> int:
    result = await conn.execute(
        "UPDATE wallet.deposit d SET status = 'credited', posting_id = u.pid, credited_at = now() "
        "FROM unnest($1::bigint[], $2::bigint[]) AS u(id, pid) WHERE d.id = u.id AND d.status = 'confirmed'",
        ids, posting_ids)
    return int(result.split()[-1])


# ---------------------------------------------------------------------------------------- withdrawals
_WITHDRAWAL_COLUMNS = ("w.id, w.user_id, w.asset, w.address, w.amount, w.fee, w.status::text AS status, "
                       "w.idempotency_key, w.request_hash, w.txid, w.posting_id, w.reason, w.approved_by, "
                       "w.requested_at, w.approved_at, w.broadcast_at, w.confirmed_at, w.finished_at, w.updated_at")


async def withdrawal_by_key(conn: Queryable, user_id: int, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_WITHDRAWAL_COLUMNS}, w.response FROM wallet.withdrawal w "
        "WHERE w.user_id = $1 AND w.idempotency_key = $2", user_id, key)


async def withdrawn_since(conn: Queryable, user_id: int, asset: str, since_interval_s: int = 86400) -> Decimal:
    """Sum of the user's withdrawals of `asset` in the window that count toward the daily limit."""
    return await conn.fetchval(
        "SELECT coalesce(sum(amount), 0) FROM wallet.withdrawal WHERE user_id = $1 AND asset = $2 "
        "AND requested_at > now() - make_interval(secs => $3) "
        "AND status NOT IN ('rejected', 'failed', 'cancelled')", user_id, asset, since_interval_s)


async def insert_withdrawal(conn: Queryable, *, user_id: int, asset: str, address: str, amount: Decimal, fee: Decimal,
                            status: str, idempotency_key: str | None, request_hash: str | None) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO wallet.withdrawal AS w (user_id, asset, address, amount, fee, status, idempotency_key, "
        "request_hash, approved_at) VALUES ($1, $2, $3, $4, $5, $6::wallet.withdrawal_status, $7, $8, "
        "CASE WHEN $6 = 'approved' THEN now() END) "
        f"RETURNING {_WITHDRAWAL_COLUMNS}",
        user_id, asset, address, amount, fee, status, idempotency_key, request_hash)


async def store_withdrawal_response(conn: Queryable, withdrawal_id: int, response: dict[str, Any]) -> None:
    await conn.execute("UPDATE wallet.withdrawal SET response = $2 WHERE id = $1", withdrawal_id, response)


async def get_withdrawal(conn: Queryable, withdrawal_id: int, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE OF w" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {_WITHDRAWAL_COLUMNS}, u.email FROM wallet.withdrawal w JOIN auth.app_user u ON u.id = w.user_id "
        f"WHERE w.id = $1{lock}", withdrawal_id)


async def set_withdrawal_status(conn: Queryable, withdrawal_id: int, expected: str, status: str, *,
                                reason: str | None = None, approved_by: int | None = None,
                                txid: str | None = None, posting_id: int | None = None) -> asyncpg.Record | None:
    """Conditional transition: changes the row only if it is still `expected` (None = it moved on)."""
    return await conn.fetchrow(
        "UPDATE wallet.withdrawal w SET status = $3::wallet.withdrawal_status, updated_at = now(), "
        "  reason = coalesce($4, w.reason), approved_by = coalesce($5, w.approved_by), "
        "  txid = coalesce($6, w.txid), posting_id = coalesce($7, w.posting_id), "
        "  approved_at = CASE WHEN $3 = 'approved' THEN now() ELSE w.approved_at END, "
        "  broadcast_at = CASE WHEN $3 = 'broadcast' THEN now() ELSE w.broadcast_at END, "
        "  confirmed_at = CASE WHEN $3 = 'confirmed' THEN now() ELSE w.confirmed_at END, "
        "  finished_at = CASE WHEN $3 IN ('confirmed', 'rejected', 'failed', 'cancelled') THEN now() "
        "                     ELSE w.finished_at END "
        f"WHERE w.id = $1 AND w.status = $2::wallet.withdrawal_status RETURNING {_WITHDRAWAL_COLUMNS}",
        withdrawal_id, expected, status, reason, approved_by, txid, posting_id)


async def list_withdrawals(conn: Queryable, *, user_id: int | None = None, asset: str | None = None,
                           status: str | None = None, before_id: int | None = None,
                           limit: int = 50) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_WITHDRAWAL_COLUMNS}, u.email FROM wallet.withdrawal w JOIN auth.app_user u ON u.id = w.user_id "
        "WHERE ($1::bigint IS NULL OR w.user_id = $1) AND ($2::text IS NULL OR w.asset = $2) "
        "AND ($3::text IS NULL OR w.status = $3::wallet.withdrawal_status) AND ($4::bigint IS NULL OR w.id < $4) "
        "ORDER BY w.id DESC LIMIT $5", user_id, asset, status, before_id, limit)


async def lock_next_approved(conn: Queryable, skip: list[int]) -> asyncpg.Record | None:
    """The oldest approved withdrawal no other processor is working on, locked."""
    return await conn.fetchrow(
        f"SELECT {_WITHDRAWAL_COLUMNS}, a.chain FROM wallet.withdrawal w JOIN wallet.asset a ON a.code = w.asset "
        "WHERE w.status = 'approved' AND w.id <> ALL($1::bigint[]) ORDER BY w.id LIMIT 1 "
        "FOR UPDATE OF w SKIP LOCKED", skip)


async def broadcast_withdrawals(conn: Queryable, limit: int = 1000) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT w.id, w.user_id, w.asset, w.amount, w.txid, a.chain, a.confirmations_required "
        "FROM wallet.withdrawal w JOIN wallet.asset a ON a.code = w.asset "
        "WHERE w.status = 'broadcast' ORDER BY w.id LIMIT $1", limit)
