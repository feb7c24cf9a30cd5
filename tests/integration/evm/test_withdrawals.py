"""Withdrawals on a real node: signed by the hot wallet, DB nonces, queued while the hot wallet is short,
completed only after confirmations, reverted ones failed with their posting reversed exactly once."""
from __future__ import annotations

import asyncio
from decimal import Decimal as D

from eth_account import Account

from mycrypto.db.database import Database
from mycrypto.wallet.api import build_components
from mycrypto.wallet.schemas import WithdrawalCreate
from tests.integration.evm.conftest import make_world
from tests.support.factories import create_user


async def _withdraw(world, user, asset, address, amount, parts=None):
    parts = parts or world.parts
    body, _ = await parts.withdrawals.request(user, WithdrawalCreate(asset=asset, address=address, amount=amount),
                                              None)
    return body["id"]


async def _status(world, wid):
    return await world.db.fetchrow("SELECT status::text AS status, txid, reason FROM wallet.withdrawal WHERE id = $1",
                                   wid)


async def test_eth_and_usdt_withdrawals_land_on_chain_and_complete_after_confirmations(world):
    user = await create_user(world.db)
    await world.deposit(user, eth="3", usdt="800")
    await world.settle()  # credited, swept to the hot wallet (the USDT sweep's gas paid by the address's own ETH)
    assert await world.balance(user, "ETH") == (D("3"), 0)
    hot = world.keys.hot.address
    assert world.chain.token_balance(world.token, hot) == 800 * 10**6 and world.chain.balance(hot) > D("2.99")

    outside = Account.create().address
    eth_id = await _withdraw(world, user, "ETH", outside, "1.25")
    usdt_id = await _withdraw(world, user, "USDT", outside, "300.5")
    await world.round()  # broadcast (mined at once by ganache's automine), not complete yet
    eth, usdt = await _status(world, eth_id), await _status(world, usdt_id)
    assert (eth["status"], usdt["status"]) == ("broadcast", "broadcast")
    assert world.chain.receipt(eth["txid"])["status"] == "0x1"
    assert world.chain.balance(outside) == D("1.25")
    assert world.chain.token_balance(world.token, outside) == 300_500_000

    world.chain.mine()
    await world.round()
    assert (await _status(world, usdt_id))["status"] == "broadcast"  # mined last: 2 of 3 confirmations
    await world.settle()
    assert [(await _status(world, i))["status"] for i in (eth_id, usdt_id)] == ["confirmed", "confirmed"]
    assert await world.balance(user, "ETH") == (D("3") - D("1.25") - D("0.0005"), 0)
    assert await world.balance(user, "USDT") == (D("800") - D("300.5") - D("1"), 0)
    # exactly one payment each, whatever rounds ran
    assert world.chain.balance(outside) == D("1.25")
    assert world.chain.token_balance(world.token, outside) == 300_500_000
    gas = await world.db.fetchval("SELECT -available FROM wallet.account WHERE kind = 'network_fees' AND asset = 'ETH'")
    assert gas > 0  # every transaction's network fee is a real cost, posted
    await world.assert_books_and_chain_agree()


async def test_withdrawals_wait_queued_while_the_hot_wallet_is_short_and_go_once_it_is_funded(world):
    user = await create_user(world.db)
    await world.deposit(user, usdt="100")  # credited, but the hot wallet has nothing yet
    await world.round()
    outside = Account.create().address
    wid = await _withdraw(world, user, "USDT", outside, "50")
    for _ in range(2):
        await world.round()
    assert (await _status(world, wid))["status"] == "approved"  # queued, not failed
    status = await world.db.fetchrow("SELECT status, detail FROM wallet.chain_status WHERE chain = 'ethereum'")
    assert status["status"] == "degraded" and "hot wallet short" in status["detail"]

    await world.fund_hot(eth="1", usdt="0")  # ETH for gas: the USDT sweep is funded, then the withdrawal goes
    await world.settle(8)
    assert (await _status(world, wid))["status"] == "confirmed"
    assert world.chain.token_balance(world.token, outside) == 50 * 10**6
    status = await world.db.fetchrow("SELECT status FROM wallet.chain_status WHERE chain = 'ethereum'")
    assert status["status"] == "ok"
    report = await world.evm.reconcile()
    assert report.ok, report.render()


async def test_concurrent_processors_and_a_restart_never_reuse_or_skip_a_nonce(world, db_dsn):
    await world.fund_hot(eth="10")
    users = [await create_user(world.db) for _ in range(3)]
    outside = Account.create().address
    for user in users:
        await world.deposit(user, eth="1")
    ids = [await _withdraw(world, user, "ETH", outside, "0.1") for user in users for _ in range(2)]
    other_db = Database(db_dsn, min_size=1, max_size=4)
    await other_db.connect()
    other = build_components(other_db, world.settings)  # a second replica
    try:
        await asyncio.gather(world.parts.processor.process_once(), other.processor.process_once())
    finally:
        await other.chain.close()
        await other_db.close()
    nonces = [r["nonce"] for r in await world.db.fetch(
        "SELECT nonce FROM evm.tx WHERE kind = 'withdrawal' ORDER BY nonce")]
    assert nonces == list(range(nonces[0], nonces[0] + 6))

    # a restart: new components, same database; the next nonce follows on
    await world.parts.chain.close()
    world.parts = build_components(world.db, world.settings)
    ids.append(await _withdraw(world, users[0], "ETH", outside, "0.2"))
    await world.settle()
    last = await world.db.fetchval("SELECT max(nonce) FROM evm.tx WHERE kind = 'withdrawal'")
    assert last == nonces[-1] + 1
    assert {(await _status(world, i))["status"] for i in ids} == {"confirmed"}
    assert world.chain.balance(outside) == D("0.8")
    await world.assert_books_and_chain_agree()


async def test_a_withdrawal_reverted_on_chain_fails_and_gives_the_money_back_exactly_once(world):
    user = await create_user(world.db)
    await world.fund_hot(eth="2", usdt="500")
    await world.deposit(user, usdt="200")
    await world.settle()
    target = Account.create().address
    wid = await _withdraw(world, user, "USDT", target, "120")
    assert await world.balance(user, "USDT") == (D("79"), D("121"))

    world.chain.automine(False)
    try:
        await world.parts.processor.process_once()  # signed and sent: waiting in the node's pool
        sent = await _status(world, wid)
        assert sent["status"] == "broadcast"
        # the token's owner blacklists the recipient, paying more so it is mined first
        world.chain.call_token(world.token, "addBlackList(address)", ["address"], [target], gas=100_000,
                               tip=50 * 10**9)
        world.chain.mine()
    finally:
        world.chain.automine(True)
    receipt = world.chain.receipt(sent["txid"])
    assert receipt is not None and receipt["status"] == "0x0"  # mined, reverted

    await world.settle()
    row = await _status(world, wid)
    assert row["status"] == "failed" and "reverted" in row["reason"]
    assert await world.balance(user, "USDT") == (D("200"), 0)  # amount + fee back, once
    for _ in range(3):
        await world.round()
    assert await world.balance(user, "USDT") == (D("200"), 0)
    assert world.chain.token_balance(world.token, target) == 0
    await world.assert_books_and_chain_agree()


async def test_a_stuck_withdrawal_is_replaced_with_a_higher_fee_and_paid_once(db_dsn, hardhat_chain):
    # hardhat, not ganache: ganache 7.9 mines both a transaction and its replacement (ganache issue #3794)
    async for world in make_world(db_dsn, hardhat_chain, chain_eth_stuck_seconds=0):
        await world.fund_hot(eth="1")
        user = await create_user(world.db)
        await world.deposit(user, eth="2")
        await world.settle()
        target = Account.create().address
        wid = await _withdraw(world, user, "ETH", target, "0.5")
        world.chain.automine(False)
        try:
            await world.parts.processor.process_once()  # sent, but nothing is mined: it is stuck
            first = (await _status(world, wid))["txid"]
            await world.parts.chain.maintain()          # older than CHAIN_ETH_STUCK_SECONDS (0 here): replaced
            attempts = await world.db.fetch("SELECT hash, max_fee, max_priority_fee FROM evm.tx_attempt a "
                                            "JOIN evm.tx t ON t.id = a.tx_id WHERE t.reference = $1 "
                                            "ORDER BY a.created_at", f"withdrawal-{wid}")
            assert len(attempts) == 2 and attempts[0]["hash"] == first
            assert attempts[1]["max_fee"] >= attempts[0]["max_fee"] * D("1.25")
            assert attempts[1]["max_priority_fee"] >= attempts[0]["max_priority_fee"] * D("1.25")
            world.chain.mine()
        finally:
            world.chain.automine(True)
        assert world.chain.receipt(first) is None  # the replacement took the nonce
        assert world.chain.receipt(attempts[1]["hash"])["status"] == "0x1"
        await world.settle()
        row = await _status(world, wid)
        assert row["status"] == "confirmed" and row["txid"] == attempts[1]["hash"]  # the hash that was mined
        assert world.chain.balance(target) == D("0.5")  # paid once
        await world.assert_books_and_chain_agree()
