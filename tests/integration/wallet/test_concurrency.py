"""Real parallel transactions on PostgreSQL trying to overdraw or to act twice on one withdrawal."""
import asyncio
import random
from decimal import Decimal as D

import pytest

from mycrypto.common.errors import AppError
from mycrypto.db.database import Database
from mycrypto.wallet.api import build_components
from mycrypto.wallet.schemas import WithdrawalCreate
from tests.e2e.wallet.helpers import (
    assert_books_ok,
    balances,
    cancel_order_hold,
    place_order_hold,
    wallet_settings,
)
from tests.support.factories import create_user, fund

DEST = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


@pytest.fixture
async def big_pool(db_dsn):
    pool = Database(db_dsn, min_size=1, max_size=20)  # 20 truly parallel transactions
    await pool.connect()
    yield pool
    await pool.close()


async def _outcomes(coros):
    results = await asyncio.gather(*coros, return_exceptions=True)
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, AppError)]
    assert not unexpected, unexpected[:3]
    return results


async def test_100_concurrent_withdrawals_racing_for_one_balance(db_dsn, db, big_pool):
    parts = build_components(big_pool, wallet_settings(db_dsn))
    user = await create_user(db)
    await fund(db, user, "BTC", "0.60002")  # exactly one 0.6 BTC withdrawal + fee
    body = WithdrawalCreate(asset="BTC", address=DEST, amount="0.6")
    results = await _outcomes([parts.withdrawals.request(user, body, None) for _ in range(100)])
    ok = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(ok) == 1 and len(refused) == 99
    assert {e.code for e in refused} == {"insufficient_funds"}
    assert (await balances(db, user))["BTC"] == (0, D("0.60002"))
    assert await db.fetchval("SELECT count(*) FROM wallet.withdrawal") == 1
    await assert_books_ok(db)


async def test_100_concurrent_submits_with_one_idempotency_key_make_one_withdrawal(db_dsn, db, big_pool):
    parts = build_components(big_pool, wallet_settings(db_dsn))
    user = await create_user(db)
    await fund(db, user, "BTC", "5")
    body = WithdrawalCreate(asset="BTC", address=DEST, amount="0.01")
    results = await _outcomes([parts.withdrawals.request(user, body, "same-key") for _ in range(100)])
    assert len({r[0]["id"] for r in results}) == 1
    assert sorted(r[1] for r in results).count(False) == 1  # one created, 99 replays
    assert all(r[0] == results[0][0] for r in results)
    assert (await balances(db, user))["BTC"] == (D("4.98998"), D("0.01002"))
    await assert_books_ok(db)


async def test_withdrawals_and_order_holds_racing_on_one_account_never_overdraw(db_dsn, db, big_pool):
    parts = build_components(big_pool, wallet_settings(db_dsn))
    user = await create_user(db)
    await fund(db, user, "BTC", "1")
    rng = random.Random(7)

    async def hold():
        return await place_order_hold(big_pool, user, "BTC", D("0.05"))

    async def withdraw():
        return await parts.withdrawals.request(user, WithdrawalCreate(asset="BTC", address=DEST, amount="0.04998"),
                                               None)

    results = await _outcomes([rng.choice([hold, withdraw])() for _ in range(80)])
    successes = [r for r in results if not isinstance(r, Exception)]
    assert {e.code for e in results if isinstance(e, Exception)} <= {"insufficient_funds"}
    assert len(successes) == 20  # every success locks 0.05 BTC: exactly 1 BTC, never more
    assert (await balances(db, user))["BTC"] == (0, D("1"))
    await assert_books_ok(db)
    # releasing everything concurrently gives it all back exactly once
    orders = [r for r in successes if isinstance(r, int)]
    withdrawals = [r[0]["id"] for r in successes if isinstance(r, tuple)]
    await _outcomes([cancel_order_hold(big_pool, o) for o in orders] * 2
                    + [parts.withdrawals.cancel(user, w) for w in withdrawals] * 2)
    assert (await balances(db, user))["BTC"] == (D("1"), 0)
    await assert_books_ok(db)


async def test_cancel_reject_and_broadcast_race_only_one_wins(db_dsn, db, big_pool):
    parts = build_components(big_pool, wallet_settings(db_dsn))
    user = await create_user(db)
    admin = await create_user(db, role="admin")
    await fund(db, user, "BTC", "10")
    outcomes = {"cancelled": 0, "rejected": 0, "broadcast": 0}
    for _ in range(12):
        w, _ = await parts.withdrawals.request(user, WithdrawalCreate(asset="BTC", address=DEST, amount="0.1"), None)
        results = await _outcomes([parts.withdrawals.cancel(user, w["id"]),
                                   parts.withdrawals.reject(admin, w["id"], "risk check"),
                                   parts.processor.process_once()])
        status = await db.fetchval("SELECT status::text FROM wallet.withdrawal WHERE id = $1", w["id"])
        outcomes[status] += 1
        refusals = [r for r in results[:2] if isinstance(r, Exception)]
        assert all(e.code == "invalid_withdrawal_state" for e in refusals)
        assert len(refusals) == (2 if status == "broadcast" else 1)
        await assert_books_ok(db)
    total_sent = await db.fetchval("SELECT coalesce(sum(amount + fee), 0) FROM wallet.withdrawal "
                                   "WHERE status = 'broadcast'")
    assert (await balances(db, user))["BTC"] == (D("10") - total_sent, 0)
    assert sum(outcomes.values()) == 12
