"""The deposit watcher credits each transfer exactly once, whatever repeats, races or restarts."""
import asyncio
from decimal import Decimal as D

from mycrypto.db.database import Database
from mycrypto.wallet.api import build_components
from mycrypto.wallet.chain.simulator import SimulatorChain
from tests.e2e.wallet.helpers import assert_books_ok, balances, wallet_settings
from tests.support.factories import create_user


async def _address(parts, user, asset):
    return (await parts.wallet.deposit_address(user, asset))["address"]


async def test_two_watchers_racing_credit_every_deposit_exactly_once(db_dsn, db):
    settings = wallet_settings(db_dsn)
    pools = [Database(db_dsn, min_size=1, max_size=4) for _ in range(2)]
    for p in pools:
        await p.connect()
    try:
        watchers = [build_components(p, settings) for p in pools]
        sim = SimulatorChain(db)
        users = [await create_user(db, verified=False) for _ in range(4)]  # deposits need no verified email
        expected = {}
        for i, user in enumerate(users):
            for asset, amount in (("BTC", D("0.1") * (i + 1)), ("ETH", D("1.5")), ("USDT", D("100.25"))):
                address = await _address(watchers[0], user, asset)
                for _ in range(3):
                    await sim.send(asset, address, amount)
                expected[(user, asset)] = amount * 3
        await sim.mine(3)
        for _ in range(3):  # several racing rounds: only the first can credit
            await asyncio.gather(*(w.watcher.scan_once() for w in watchers))
        for (user, asset), amount in expected.items():
            assert (await balances(db, user))[asset] == (amount, 0)
        counts = await db.fetchrow("SELECT count(*) AS deposits, count(*) FILTER (WHERE status = 'credited') AS credited, "
                                   "(SELECT count(*) FROM wallet.posting WHERE kind = 'deposit') AS postings "
                                   "FROM wallet.deposit")
        assert tuple(counts) == (36, 36, 36)
        await assert_books_ok(db)
    finally:
        for p in pools:
            await p.close()


async def test_rescanning_from_scratch_changes_nothing(db_dsn, db):
    parts = build_components(db, wallet_settings(db_dsn))
    user = await create_user(db)
    sim = SimulatorChain(db)
    await sim.send("BTC", await _address(parts, user, "BTC"), D("0.7"))
    await sim.mine(2)
    assert (await parts.watcher.scan_once()).credited == 1
    await db.execute("DELETE FROM wallet.chain_cursor")  # as if the cursor was lost
    result = await parts.watcher.scan_once()
    assert (result.discovered, result.credited) == (0, 0)
    assert (await balances(db, user))["BTC"] == (D("0.7"), 0)
    await assert_books_ok(db)


async def test_pending_then_confirmed_then_credited_with_growing_confirmations(db_dsn, db):
    parts = build_components(db, wallet_settings(db_dsn))
    user = await create_user(db)
    sim = SimulatorChain(db)
    sent = await sim.send("ETH", await _address(parts, user, "ETH"), D("2"))  # ETH needs 3 confirmations
    seen = []
    for _ in range(4):
        await parts.watcher.scan_once()
        row = await db.fetchrow("SELECT status::text, confirmations FROM wallet.deposit WHERE txid = $1", sent.txid)
        seen.append(tuple(row))
        await sim.mine(1)
    assert seen == [("pending", 0), ("pending", 1), ("pending", 2), ("credited", 3)]


async def test_transfers_to_unknown_addresses_are_ignored(db_dsn, db):
    parts = build_components(db, wallet_settings(db_dsn))
    sim = SimulatorChain(db)
    orphan = await sim.new_address("bitcoin", "BTC")  # the node's, but no user's
    await sim.send("BTC", orphan, D("1"))
    await sim.send("BTC", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", D("1"))
    await sim.mine(2)
    result = await parts.watcher.scan_once()
    assert result.discovered == 0 and not result.errors
    assert await db.fetchval("SELECT count(*) FROM wallet.deposit") == 0


async def test_a_disabled_asset_waits_confirmed_and_is_credited_once_enabled(db_dsn, db):
    parts = build_components(db, wallet_settings(db_dsn))
    user = await create_user(db)
    sim = SimulatorChain(db)
    await sim.send("BTC", await _address(parts, user, "BTC"), D("0.3"))
    await sim.mine(2)
    await db.execute("UPDATE wallet.asset SET deposit_enabled = false WHERE code = 'BTC'")
    await parts.watcher.scan_once()
    assert await db.fetchval("SELECT status::text FROM wallet.deposit") == "confirmed"
    assert (await balances(db, user)).get("BTC", (0, 0)) == (0, 0)
    await db.execute("UPDATE wallet.asset SET deposit_enabled = true WHERE code = 'BTC'")
    await parts.watcher.scan_once()
    assert await db.fetchval("SELECT status::text FROM wallet.deposit") == "credited"
    assert (await balances(db, user))["BTC"] == (D("0.3"), 0)


async def test_amounts_finer_than_the_asset_are_credited_rounded_down(db_dsn, db):
    """A real node reports ETH in wei (18 decimals) while MyCrypto keeps 8: the deposit is recorded and
    credited in whole units of the asset, rounded down (never more than arrived), and a transfer worth
    less than one unit is not recorded at all. Balances stay withdrawable to the last unit."""
    parts = build_components(db, wallet_settings(db_dsn))
    user = await create_user(db)
    sim = SimulatorChain(db)
    address = await _address(parts, user, "ETH")
    await sim.send("ETH", address, D("1.234567891234567891"))
    await sim.send("ETH", address, D("0.000000009999999999"))  # below 0.00000001 ETH: dust
    await sim.mine(3)
    result = await parts.watcher.scan_once()
    assert (result.discovered, result.credited, result.errors) == (1, 1, [])
    rows = await db.fetch("SELECT amount, status::text AS status FROM wallet.deposit")
    assert [(r["amount"], r["status"]) for r in rows] == [(D("1.23456789"), "credited")]
    assert [r["amount"].normalize() for r in rows] == [D("1.23456789")]
    available, locked = (await balances(db, user))["ETH"]
    assert (available.normalize(), locked) == (D("1.23456789"), 0)
    assert await db.fetchval("SELECT available FROM wallet.account WHERE kind = 'chain_in' AND asset = 'ETH'") == (
        D("-1.23456789"))
    await assert_books_ok(db)
