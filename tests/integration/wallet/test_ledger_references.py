"""The ledger's references are enforced by the database (migration 014's set-based checks), not by
code: a leg must name an existing posting and an existing account of the same asset, and accounts
can be neither deleted nor re-keyed."""
import asyncpg
import pytest

from tests.support.factories import create_user, fund


async def _ids(db):
    fees_usdt = await db.fetchval("SELECT id FROM wallet.account WHERE kind = 'fees' AND asset = 'USDT'")
    chain_in_usdt = await db.fetchval("SELECT id FROM wallet.account WHERE kind = 'chain_in' AND asset = 'USDT'")
    return fees_usdt, chain_in_usdt


async def _insert_legs(conn, posting_id, legs):
    await conn.execute(
        "INSERT INTO wallet.posting_leg (posting_id, account_id, asset, bucket, amount) "
        "SELECT $1, a, s, 'available', m FROM unnest($2::bigint[], $3::text[], $4::numeric[]) AS x(a, s, m)",
        posting_id, [l[0] for l in legs], [l[1] for l in legs], [l[2] for l in legs])


@pytest.mark.parametrize("case", ["unknown_account", "asset_mismatch", "unknown_posting"])
async def test_a_leg_with_a_dangling_reference_is_refused(db, case):
    fees_usdt, chain_in_usdt = await _ids(db)
    async with db.acquire() as conn:
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            async with conn.transaction():
                pid = await conn.fetchval(
                    "INSERT INTO wallet.posting (kind, ref_type, ref_id) VALUES ('adjustment', 't', 'x') RETURNING id")
                if case == "unknown_account":
                    legs = [(fees_usdt, "USDT", 5), (999_999, "USDT", -5)]
                elif case == "asset_mismatch":   # the fees account is a USDT account, not BTC
                    legs = [(fees_usdt, "BTC", 5), (chain_in_usdt, "BTC", -5)]
                else:
                    pid = pid + 1000
                    legs = [(fees_usdt, "USDT", 5), (chain_in_usdt, "USDT", -5)]
                await _insert_legs(conn, pid, legs)
    assert await db.fetchval("SELECT count(*) FROM wallet.posting_leg") == 0


async def test_accounts_cannot_be_deleted_or_rekeyed(db):
    user = await create_user(db)
    await fund(db, user, "BTC", "1")
    account = await db.fetchval("SELECT id FROM wallet.account WHERE user_id = $1", user)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("DELETE FROM wallet.account WHERE id = $1", account)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("UPDATE wallet.account SET asset = 'ETH' WHERE id = $1", account)
    # balances themselves still change (through the ledger)
    await fund(db, user, "BTC", "1")
    assert await db.fetchval("SELECT available FROM wallet.account WHERE id = $1", account) == 2


async def test_verify_catches_a_trade_that_disagrees_with_its_orders(db):
    """`mycrypto verify` cross-checks trades against their orders and postings (the trade table keeps
    no foreign keys to users or assets; migration 014)."""
    from mycrypto.ops.verify import verify_books

    buyer, seller = await create_user(db), await create_user(db)
    await fund(db, buyer, "USDT", "1000")
    async with db.acquire() as conn:
        assert (await verify_books(conn)).ok
        # a fabricated trade with no orders or posting behind it (bypassing the remaining FKs)
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(
                "INSERT INTO trade.trade (market_id, id, taker_order_id, maker_order_id, taker_side, price, quantity, "
                "quote_quantity, buyer_user_id, seller_user_id, buyer_fee, seller_fee, fee_asset) "
                "VALUES (1, 1, 424242, 434343, 'buy', 1, 1, 1, $1, $2, 0, 0, 'USDT')", buyer, seller)
        report = await verify_books(conn)
    assert [c.name for c in report.failures] == ["trades_match_orders"]
