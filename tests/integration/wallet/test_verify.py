"""`verify_books` passes on correct books and names every kind of discrepancy it exists to catch."""
from decimal import Decimal as D

from mycrypto.ops.verify import collect, verify_books
from mycrypto.wallet.api import build_components
from mycrypto.wallet.schemas import WithdrawalCreate
from tests.e2e.wallet.helpers import place_order_hold, settle_trade, wallet_settings
from tests.support.factories import create_user, fund

DEST = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


async def _report(db):
    async with db.acquire() as conn:
        return await verify_books(conn)


def _failed(report):
    return sorted(c.name for c in report.failures)


async def _busy_books(db_dsn, db):
    """Deposits (funding), trades with fees, open order holds and withdrawals in every state."""
    parts = build_components(db, wallet_settings(db_dsn))
    a, b = await create_user(db), await create_user(db)
    await fund(db, a, "USDT", "20000")
    await fund(db, b, "BTC", "3")
    await settle_trade(db, buyer=a, seller=b, qty=D("0.5"), price=D("20000"), buyer_fee=D("10"), seller_fee=D("8"))
    await place_order_hold(db, a, "USDT", D("123.45"))
    await place_order_hold(db, b, "BTC", D("0.25"))
    w1, _ = await parts.withdrawals.request(b, WithdrawalCreate(asset="BTC", address=DEST, amount="0.1"), None)
    w2, _ = await parts.withdrawals.request(b, WithdrawalCreate(asset="BTC", address=DEST, amount="1"), None)
    await parts.processor.process_once()  # w1 (auto-approved) is broadcast, w2 waits for an admin
    await parts.withdrawals.request(b, WithdrawalCreate(asset="BTC", address=DEST, amount="0.2"), None)
    await parts.withdrawals.cancel(b, w2["id"])
    return a, b


async def test_busy_but_correct_books_verify(db_dsn, db):
    await _busy_books(db_dsn, db)
    report = await _report(db)
    assert report.ok, report.render()
    assert report.summary["open_orders"] == 2 and report.summary["pending_withdrawals"] == 1
    assert report.summary["assets"]["USDT"]["fees"] == D("18")
    assert collect is verify_books


async def test_a_balance_edited_by_hand_is_caught(db_dsn, db):
    a, _ = await _busy_books(db_dsn, db)
    await db.execute("UPDATE wallet.account SET available = available + 1 WHERE user_id = $1 AND asset = 'USDT'", a)
    report = await _report(db)
    assert _failed(report) == ["accounts_match_ledger", "assets_sum_to_zero"]
    [problem] = report.failures[0].problems
    assert problem["available"] - problem["ledger_total"] + problem["locked"] == 1


async def test_locked_funds_without_an_order_or_withdrawal_are_caught(db_dsn, db):
    a, _ = await _busy_books(db_dsn, db)
    await db.execute("UPDATE wallet.account SET available = available - 5, locked = locked + 5 "
                     "WHERE user_id = $1 AND asset = 'USDT'", a)
    report = await _report(db)
    assert _failed(report) == ["locked_matches_holds"]
    [p] = report.failures[0].problems
    assert (p["user_id"], p["asset"], p["locked"] - p["expected"]) == (a, "USDT", 5)


async def test_an_order_whose_hold_vanished_is_caught(db_dsn, db):
    _, b = await _busy_books(db_dsn, db)
    await db.execute("UPDATE trade.spot_order SET hold_remaining = hold_remaining / 2 "
                     "WHERE user_id = $1 AND status = 'new'", b)
    assert _failed(await _report(db)) == ["locked_matches_holds"]


async def test_a_withdrawal_marked_sent_without_its_posting_is_caught(db_dsn, db):
    _, b = await _busy_books(db_dsn, db)
    await db.execute("UPDATE wallet.withdrawal SET status = 'confirmed' WHERE status = 'approved'")
    report = await _report(db)
    assert "transfers_posted" in _failed(report)
    assert "locked_matches_holds" in _failed(report)  # its hold is no longer pending either


async def test_verify_sees_one_snapshot_inside_a_callers_transaction(db_dsn, db):
    await _busy_books(db_dsn, db)
    async with db.acquire() as conn:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            first = await verify_books(conn)
            await db.execute("UPDATE wallet.account SET available = available + 1 WHERE kind = 'fees' "
                             "AND asset = 'BTC'")  # another connection changes the books meanwhile
            again = await verify_books(conn)
    assert first.ok and again.ok  # same snapshot
    assert not (await _report(db)).ok


async def _post_by_hand(conn, legs):
    """A posting written straight into the tables (as a bug or a manual fix would), balances included."""
    pid = await conn.fetchval("INSERT INTO wallet.posting (kind, ref_type, ref_id) "
                              "VALUES ('adjustment', 'test', 'by-hand') RETURNING id")
    await conn.execute("INSERT INTO wallet.posting_leg (posting_id, account_id, asset, bucket, amount) "
                       "SELECT $1, a, 'BTC', 'available', m FROM unnest($2::bigint[], $3::numeric[]) AS x(a, m)",
                       pid, [a for a, _ in legs], [m for _, m in legs])   # one statement, as apply_changes
    for account, amount in legs:
        await conn.execute("UPDATE wallet.account SET available = available + $2 WHERE id = $1", account, amount)
    return pid


async def test_an_unbalanced_posting_that_got_past_the_database_is_caught(db_dsn, db):
    """The database refuses an unbalanced posting (test_ledger_database); verify still checks it on its
    own: with the ledger triggers off for one transaction, the posting is named."""
    _, b = await _busy_books(db_dsn, db)
    mine = await db.fetchval("SELECT id FROM wallet.account WHERE user_id = $1 AND asset = 'BTC'", b)
    chain_in = await db.fetchval("SELECT id FROM wallet.account WHERE kind = 'chain_in' AND asset = 'BTC'")
    async with db.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("SET LOCAL session_replication_role = replica")   # triggers off
            pid = await _post_by_hand(conn, [(mine, D("1")), (chain_in, D("-0.5"))])
            report = await verify_books(conn)
        finally:
            await tx.rollback()
    assert _failed(report) == ["assets_sum_to_zero", "postings_balanced"]
    failed = {c.name: c for c in report.failures}
    assert failed["postings_balanced"].problems == [{"posting_id": pid, "asset": "BTC", "total": D("0.5"), "legs": 2}]
    assert (await _report(db)).ok   # rolled back


async def test_a_negative_balance_that_got_past_the_database_is_caught(db_dsn, db):
    """CHECK constraints keep user balances non-negative; verify still checks: with the constraint
    dropped inside one transaction, a balanced posting that overdraws a user is named."""
    a, _ = await _busy_books(db_dsn, db)
    mine = await db.fetchval("SELECT id FROM wallet.account WHERE user_id = $1 AND asset = 'BTC'", a)
    chain_in = await db.fetchval("SELECT id FROM wallet.account WHERE kind = 'chain_in' AND asset = 'BTC'")
    before = await db.fetchval("SELECT available FROM wallet.account WHERE id = $1", mine)
    async with db.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("ALTER TABLE wallet.account DROP CONSTRAINT ck_account_user_non_negative")
            await _post_by_hand(conn, [(mine, -(before + 1)), (chain_in, before + 1)])
            report = await verify_books(conn)
        finally:
            await tx.rollback()
    assert _failed(report) == ["no_negative_balances"]
    [problem] = report.failures[0].problems
    assert (problem["account_id"], problem["user_id"], problem["available"]) == (mine, a, -1)
    assert (await _report(db)).ok   # rolled back, constraint included
