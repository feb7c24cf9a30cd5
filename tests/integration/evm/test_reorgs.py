"""Reorganisations of the real node (evm_snapshot / evm_revert, then another branch mined).

Below the confirmation depth: a pending deposit whose block is orphaned is dropped, and what the new
branch holds (a replacement transfer, or the same transaction re-included) is credited exactly once.
Deeper: an alert (log, health, ops outbox) and the credit frozen for an operator.
"""
from __future__ import annotations

from decimal import Decimal as D

from mycrypto.common.health import health_report
from mycrypto.wallet.chain import freezes
from mycrypto.wallet.chain.status import chain_health
from tests.e2e.wallet.helpers import assert_books_ok, place_order_hold
from tests.support.factories import create_user


async def test_a_shallow_reorg_drops_the_pending_deposit_and_credits_the_new_branch_once(world):
    user = await create_user(world.db, verified=False)
    address = await world.address(user, "ETH")
    await world.round()
    snapshot = world.chain.snapshot()
    fork = world.chain.head()
    orphaned_tx = world.chain.send_eth(address, "1.0", world.chain.accounts[5])  # block fork+1, then orphaned
    await world.round()
    [pending] = await world.deposits(user)
    assert pending["status"] == "pending" and pending["txid"] == orphaned_tx
    orphaned_hash = world.chain.block_hash(fork + 1)

    world.chain.revert(snapshot)  # the node forgets fork+1 ...
    replacement = world.chain.send_eth(address, "0.75", world.chain.accounts[6])  # ... and mines another branch
    world.chain.mine()
    assert world.chain.block_hash(fork + 1) != orphaned_hash and world.chain.receipt(orphaned_tx) is None
    await world.round()
    rows = await world.deposits(user)
    assert [(r["txid"], r["status"]) for r in rows] == [(replacement, "pending")]
    dropped = await world.db.fetchval("SELECT count(*) FROM evm.dropped_deposit WHERE deposit_id = $1", pending["id"])
    assert dropped == 1

    world.chain.mine(2)
    for _ in range(3):
        await world.round()
    rows = await world.deposits(user)
    assert [(r["txid"], r["status"], r["amount"]) for r in rows] == [(replacement, "credited", D("0.75"))]
    assert await world.balance(user, "ETH") == (D("0.75"), 0)
    assert await world.db.fetchval("SELECT count(*) FROM wallet.chain_alert") == 0  # shallower than 3 blocks
    await world.assert_books_and_chain_agree()


async def test_a_transaction_re_included_in_the_new_branch_is_the_same_deposit_credited_once(world):
    user = await create_user(world.db, verified=False)
    address = await world.address(user, "USDT")
    await world.round()
    snapshot = world.chain.snapshot()
    sender = world.chain.accounts[2]
    first = world.chain.send_token(world.token, address, 40_000_000, sender)
    world.chain.mine()  # 2 confirmations: still pending
    await world.round()
    assert [r["status"] for r in await world.deposits(user)] == ["pending"]

    world.chain.revert(snapshot)
    world.chain.mine()  # an empty block first: the same transfer lands at another height
    assert world.chain.resend(first) == first  # the very same transaction, in the new branch
    world.chain.mine(3)
    for _ in range(3):
        await world.round()
    rows = await world.deposits(user)
    assert [(r["txid"], r["status"], r["amount"]) for r in rows] == [(first, "credited", D("40"))]
    assert await world.balance(user, "USDT") == (D("40"), 0)
    await assert_books_ok(world.db)


async def credit_then_orphan(world, user, eth, sender, in_between=None):
    """A deposit credited after 3 confirmations, then a longer branch without it (6 blocks, 4 deeper than our tip)."""
    address = await world.address(user, "ETH")
    await world.round()
    snapshot = world.chain.snapshot()
    world.chain.send_eth(address, eth, world.chain.accounts[sender])
    world.chain.mine(3)
    await world.round()
    if in_between is not None:
        await in_between()
    world.chain.revert(snapshot)
    world.chain.mine(6)
    await world.round()


async def test_a_reorg_deeper_than_the_confirmations_alerts_and_freezes_the_credit(world):
    user = await create_user(world.db, verified=False)

    async def spend_part():  # the user already put part of it in an order
        assert await world.balance(user, "ETH") == (D("2.0"), 0)
        await place_order_hold(world.db, user, "ETH", D("0.5"))

    await credit_then_orphan(world, user, "2.0", 7, spend_part)

    [alert] = await world.db.fetch("SELECT kind, message, details FROM wallet.chain_alert WHERE resolved_at IS NULL")
    assert alert["kind"] == "deep_reorg" and alert["details"]["depth"] >= 3
    assert await world.db.fetchval("SELECT count(*) FROM ops.outbox WHERE topic = 'ops.chain_alert'") == 1
    [frozen] = await freezes.list_freezes(world.db)
    assert (frozen["amount"], frozen["held"]) == (D("2.0"), D("1.5"))  # all that was still available
    assert await world.balance(user, "ETH") == (0, D("2.0"))  # 0.5 order hold + 1.5 frozen
    await assert_books_ok(world.db)  # verify counts the freeze as a hold
    health = await chain_health(world.db)
    assert health["ethereum"]["status"] == "degraded" and health["ethereum"]["open_alerts"] == 1

    class FakeContainer:  # health_report reads settings and db only
        settings, db, redis = world.settings, world.db, None

    status, body = await health_report(FakeContainer(), "wallet", chains=chain_health)
    assert status == 200 and body["status"] == "degraded" and body["checks"]["chain"] == "degraded"

    # the operator finds the transaction is gone for good: reverse what was held
    result = await freezes.resolve(world.db, frozen["deposit_id"], "reverse", "ops")
    assert result["resolution"] == "reversed" and result["shortfall"] == D("0.5")
    assert await world.balance(user, "ETH") == (0, D("0.5"))
    await assert_books_ok(world.db)
    report = await world.evm.reconcile()
    [eth] = [line for line in report.lines if line.asset == "ETH"]
    assert eth.difference == D("-0.5")  # the part the user had already spent: an operator's adjustment
    assert not report.ok


async def test_a_frozen_credit_that_is_on_chain_after_all_is_released_once(world):
    user = await create_user(world.db, verified=False)
    await credit_then_orphan(world, user, "0.3", 8)
    [frozen] = await freezes.list_freezes(world.db)
    assert await world.balance(user, "ETH") == (0, D("0.3"))
    await freezes.resolve(world.db, frozen["deposit_id"], "release", "ops")
    assert await world.balance(user, "ETH") == (D("0.3"), 0)
    try:
        await freezes.resolve(world.db, frozen["deposit_id"], "release", "ops")
        raise AssertionError("released twice")
    except freezes.FreezeError:
        pass
    await assert_books_ok(world.db)
