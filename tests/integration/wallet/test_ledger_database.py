"""The database itself refuses bad ledger writes, whatever the code does (ADR 0003)."""
from decimal import Decimal as D

import asyncpg
import pytest

from mycrypto.wallet.domain.ledger import Hold, Leg, Posting
from mycrypto.wallet.errors import InsufficientFunds
from mycrypto.wallet.ledger import apply_changes, ensure_user_accounts, insert_postings, system_accounts
from tests.e2e.wallet.helpers import assert_books_ok, ledger_state
from tests.support.factories import create_user, fund


async def _accounts(db, user):
    async with db.acquire() as conn:
        acc = await ensure_user_accounts(conn, user, ["BTC"])
        sys_ = await system_accounts(conn)
    return acc["BTC"], sys_[("chain_in", "BTC")]


async def test_an_unbalanced_statement_is_refused_at_once(db):
    user = await create_user(db)
    mine, chain_in = await _accounts(db, user)
    before = await ledger_state(db)
    async with db.unit_of_work() as uow:
        pid = await uow.conn.fetchval("INSERT INTO wallet.posting (kind, ref_type, ref_id) "
                                      "VALUES ('adjustment', 'test', 'x') RETURNING id")
        with pytest.raises(asyncpg.CheckViolationError, match="unbalanced posting"):
            await uow.conn.execute(
                "INSERT INTO wallet.posting_leg (posting_id, account_id, asset, bucket, amount) "
                "VALUES ($1, $2, 'BTC', 'available', 1), ($1, $3, 'BTC', 'available', -0.99999999)",
                pid, mine, chain_in)
    assert await ledger_state(db) == before


async def test_legs_that_balance_only_across_assets_are_refused(db):
    user = await create_user(db)
    async with db.acquire() as conn:
        acc = await ensure_user_accounts(conn, user, ["BTC", "ETH"])
    async with db.unit_of_work() as uow:
        pid = await uow.conn.fetchval("INSERT INTO wallet.posting (kind, ref_type, ref_id) "
                                      "VALUES ('adjustment', 'test', 'x') RETURNING id")
        with pytest.raises(asyncpg.CheckViolationError):
            await uow.conn.execute(
                "INSERT INTO wallet.posting_leg (posting_id, account_id, asset, bucket, amount) "
                "VALUES ($1, $2, 'BTC', 'available', 1), ($1, $3, 'ETH', 'available', -1)",
                pid, acc["BTC"], acc["ETH"])


async def test_a_posting_left_unbalanced_across_statements_fails_at_commit(db):
    """A posting row without legs passes every statement-level check; the deferred constraint trigger
    refuses it at COMMIT, and takes the whole transaction (a valid posting included) down with it."""
    user = await create_user(db)
    mine, chain_in = await _accounts(db, user)
    before = await ledger_state(db)
    for legs in ("", "INSERT INTO wallet.posting_leg (posting_id, account_id, asset, bucket, amount) "
                     "VALUES ($1, {mine}, 'BTC', 'available', 0.5), ($1, {chain_in}, 'BTC', 'available', -0.5)"):
        async with db.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            pid = await conn.fetchval("INSERT INTO wallet.posting (kind, ref_type, ref_id) "
                                      "VALUES ('adjustment', 'test', 'lonely') RETURNING id")
            if legs:  # a second posting that is fine: the bad one still fails the whole commit
                ok = await conn.fetchval("INSERT INTO wallet.posting (kind, ref_type, ref_id) "
                                         "VALUES ('adjustment', 'test', 'fine') RETURNING id")
                await conn.execute(legs.format(mine=mine, chain_in=chain_in), ok)
            with pytest.raises(asyncpg.CheckViolationError, match=f"posting {pid} has 0 leg"):
                await tx.commit()  # the deferred constraint trigger runs here
    assert await ledger_state(db) == before


async def test_insert_postings_with_a_forged_unbalanced_posting_is_refused_by_the_database(db):
    """Bypass the domain's own check (as a bug would) and prove the database still refuses."""
    user = await create_user(db)
    mine, chain_in = await _accounts(db, user)
    forged = object.__new__(Posting)
    for name, value in (("kind", "adjustment"), ("ref_type", "test"), ("ref_id", "forged"), ("memo", None),
                        ("legs", (Leg(mine, "BTC", D("5")), Leg(chain_in, "BTC", D("-4"))))):
        object.__setattr__(forged, name, value)
    before = await ledger_state(db)
    with pytest.raises(asyncpg.CheckViolationError):
        async with db.unit_of_work() as uow:
            await insert_postings(uow.conn, [forged])
            await uow.commit()
    assert await ledger_state(db) == before


async def test_the_ledger_is_append_only(db):
    user = await create_user(db)
    await fund(db, user, "BTC", "1")
    for sql in ("UPDATE wallet.posting_leg SET amount = amount * 2", "DELETE FROM wallet.posting_leg",
                "UPDATE wallet.posting SET ref_id = 'changed'", "DELETE FROM wallet.posting"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await db.execute(sql)
    await assert_books_ok(db)


async def test_user_balances_can_never_be_negative_even_by_hand(db):
    user = await create_user(db)
    mine, _ = await _accounts(db, user)
    for sql in ("UPDATE wallet.account SET available = -0.00000001 WHERE id = $1",
                "UPDATE wallet.account SET locked = -1 WHERE id = $1"):
        with pytest.raises(asyncpg.CheckViolationError):
            await db.execute(sql, mine)


async def test_apply_changes_refuses_overdraft_and_leaves_nothing(db):
    user = await create_user(db)
    await fund(db, user, "BTC", "1")
    mine, chain_in = await _accounts(db, user)
    before = await ledger_state(db)
    for postings, holds in (
        ([Posting("adjustment", "t", "1", (Leg(mine, "BTC", D("-1.00000001")), Leg(chain_in, "BTC", D("1.00000001"))))], []),
        ([], [Hold(mine, D("1.00000001"))]),
        ([], [Hold(mine, D("-0.1"))]),  # releasing more than is locked
    ):
        with pytest.raises(InsufficientFunds):
            async with db.unit_of_work() as uow:
                await apply_changes(uow.conn, postings, holds)
                await uow.commit()
    assert await ledger_state(db) == before
    await assert_books_ok(db)
