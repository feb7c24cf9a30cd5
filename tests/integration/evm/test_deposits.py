"""ETH and USDT deposits through a real node: detected, confirmed, credited exactly once, restart-safe."""
from __future__ import annotations

from decimal import Decimal as D

from eth_utils import is_checksum_address

from mycrypto.wallet.api import build_components
from tests.e2e.wallet.helpers import assert_books_ok
from tests.support.factories import create_user


async def test_eth_and_usdt_deposits_are_credited_after_their_confirmations(world):
    user = await create_user(world.db, verified=False)
    eth_address = await world.address(user, "ETH")
    assert is_checksum_address(eth_address)
    assert await world.address(user, "USDT") == eth_address  # one address per user and chain

    world.chain.send_eth(eth_address, "1.5")                                              # block n
    world.chain.send_token(world.token, eth_address, 250_500_000, world.chain.accounts[2])  # block n+1: 250.5 USDT
    await world.round()
    rows = await world.deposits(user)
    assert [(r["asset"], r["amount"], r["status"], r["confirmations"]) for r in rows] == [
        ("ETH", D("1.5"), "pending", 2), ("USDT", D("250.5"), "pending", 1)]
    assert rows[0]["vout"] == -1 and rows[1]["vout"] >= 0  # native transfer vs the Transfer log's index
    assert await world.balance(user, "ETH") == (0, 0)

    world.chain.mine()  # ETH has 3 confirmations (the asset's requirement), USDT 2
    await world.round()
    assert await world.balance(user, "ETH") == (D("1.5"), 0)
    assert await world.balance(user, "USDT") == (0, 0)

    world.chain.mine()
    await world.round()
    assert await world.balance(user, "USDT") == (D("250.5"), 0)

    for _ in range(3):  # repeats change nothing: exactly once per (tx hash, log index)
        world.chain.mine()
        await world.round()
    assert [r["status"] for r in await world.deposits(user)] == ["credited", "credited"]
    assert await world.balance(user, "ETH") == (D("1.5"), 0)
    assert await world.balance(user, "USDT") == (D("250.5"), 0)
    await assert_books_ok(world.db)


async def test_sub_unit_remainders_and_strangers_deposits_are_booked_so_the_ledger_matches_the_chain(world):
    user = await create_user(world.db, verified=False)
    address = await world.address(user, "ETH")
    # 0.123456789012345678 ETH: the user is credited 0.12345678 (8 decimals), the rest is booked to fees
    wei = 123456789012345678
    world.chain.wait(world.chain.send(world.chain.accounts[1], address, wei, gas=21_000))
    world.chain.mine(3)
    await world.round()
    await world.round()
    assert await world.balance(user, "ETH") == (D("0.12345678"), 0)
    fees = await world.db.fetchval("SELECT available FROM wallet.account WHERE kind = 'fees' AND asset = 'ETH'")
    assert fees == D("0.000000009012345678")
    report = await world.evm.reconcile()
    assert report.ok, report.render()


async def test_the_watcher_resumes_from_its_cursor_after_a_restart_and_never_rescans_from_genesis(world, db_dsn):
    user = await create_user(world.db, verified=False)
    address = await world.address(user, "ETH")
    world.chain.send_eth(address, "0.25")
    await world.round()
    cursor = int(await world.db.fetchval("SELECT cursor FROM wallet.chain_cursor WHERE adapter = 'evm'"))
    assert cursor == world.chain.head()

    # a new process: new components, same database
    await world.parts.chain.close()
    world.parts = build_components(world.db, world.settings)
    world.chain.send_eth(address, "0.5")
    world.chain.mine(3)
    rpc = world.evm.ctx.node.rpc
    await world.round()
    await world.round()
    amounts = sorted(r["amount"] for r in await world.deposits(user))
    assert amounts == [D("0.25"), D("0.5")]
    assert await world.balance(user, "ETH") == (D("0.75"), 0)
    lowest = await world.db.fetchval("SELECT min(number) FROM evm.block WHERE chain = 'ethereum' AND number >= 0")
    assert lowest > 0 and rpc.calls < 60  # it read the new blocks only, not the chain from block 0
