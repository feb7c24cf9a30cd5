"""History from the ledger and the transfer tables: trades with fees, filters, and exact pagination."""
from datetime import timedelta
from decimal import Decimal as D

from mycrypto.wallet.api import build_components
from mycrypto.wallet.domain.history import build_filter
from mycrypto.wallet.domain.ledger import Leg, Posting
from mycrypto.wallet.ledger import apply_changes, ensure_user_accounts, system_accounts
from mycrypto.wallet.schemas import WithdrawalCreate
from tests.e2e.wallet.helpers import balances, settle_trade, wallet_settings
from tests.support.factories import create_user, fund


def _f(**kw):
    args = dict(asset=None, types=None, start=None, end=None, limit=None, cursor=None)
    args.update(kw)
    return build_filter(**args)


async def _all(wallet, user, **kw):
    page = await wallet.history(user, _f(limit=500, **kw))
    assert page["next_cursor"] is None
    return page["items"]


async def test_a_trade_shows_gross_amounts_and_the_fee_apart(db_dsn, db):
    parts = build_components(db, wallet_settings(db_dsn))
    buyer, seller = await create_user(db), await create_user(db)
    await fund(db, buyer, "USDT", "1000")
    await fund(db, seller, "BTC", "1")
    await settle_trade(db, buyer=buyer, seller=seller, qty=D("0.01"), price=D("30000"),
                       buyer_fee=D("0.3"), seller_fee=D("0.24"))
    items = await _all(parts.wallet, buyer, types="trade,fee")
    assert sorted((i["type"], i["asset"], i["amount"]) for i in items) == [
        ("fee", "USDT", D("-0.3")), ("trade", "BTC", D("0.01")), ("trade", "USDT", D("-300"))]
    items = await _all(parts.wallet, seller, types="trade,fee")
    assert sorted((i["type"], i["asset"], i["amount"]) for i in items) == [
        ("fee", "USDT", D("-0.24")), ("trade", "BTC", D("-0.01")), ("trade", "USDT", D("300"))]
    assert all(i["reference"].startswith("trade:") for i in items)
    # every entry together equals the balance
    for user in (buyer, seller):
        items = await _all(parts.wallet, user)
        totals = {}
        for i in items:
            totals[i["asset"]] = totals.get(i["asset"], 0) + i["amount"]
        assert {a: sum(v) for a, v in (await balances(db, user)).items()} == totals
    # filters
    assert [i["amount"] for i in await _all(parts.wallet, buyer, types="fee")] == [D("-0.3")]
    assert {i["asset"] for i in await _all(parts.wallet, buyer, asset="BTC")} == {"BTC"}
    assert await _all(parts.wallet, buyer, asset="BTC", types="fee") == []


async def test_pagination_never_skips_or_repeats_even_with_identical_timestamps(db_dsn, db):
    parts = build_components(db, wallet_settings(db_dsn))
    user, other = await create_user(db), await create_user(db)
    await fund(db, user, "BTC", "10")
    await fund(db, other, "USDT", "100000")
    async with db.unit_of_work() as uow:  # one transaction: every row below shares one now()
        acc = await ensure_user_accounts(uow.conn, user, ["BTC", "ETH", "USDT"])
        sys_ = await system_accounts(uow.conn)
        postings = [Posting("adjustment", "test", str(i), (Leg(acc[a], a, D(i + 1)), Leg(sys_[("chain_in", a)], a, -D(i + 1))))
                    for i in range(12) for a in ("ETH", "USDT")]
        await apply_changes(uow.conn, postings)
        for i in range(5):
            await uow.conn.execute(
                "INSERT INTO wallet.deposit (user_id, asset, chain, txid, vout, address, amount) "
                "VALUES ($1, 'BTC', 'bitcoin', $2, 0, 'bcrt1qxxxxxxxxxxxxxxx', 0.5)", user, f"tx{i}")
        await uow.commit()
    for i in range(4):
        await parts.withdrawals.request(user, WithdrawalCreate(asset="BTC", address="bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                                                              amount="0.1"), None)
    await settle_trade(db, buyer=other, seller=user, qty=D("0.5"), price=D("100"), buyer_fee=D("0.05"),
                       seller_fee=D("0.04"))
    full = await _all(parts.wallet, user)
    assert len(full) == 1 + 24 + 5 + 4 + 3  # funding, adjustments, deposits, withdrawals, trade (2 + fee)
    keys = [(i["time"], i["type"], i["asset"], i["amount"], i["reference"]) for i in full]
    assert len(set(keys)) == len(keys)
    assert [i["time"] for i in full] == sorted((i["time"] for i in full), reverse=True)
    for size in (1, 2, 3, 7):
        seen, cursor = [], None
        while True:
            page = await parts.wallet.history(user, _f(limit=size, cursor=cursor))
            seen += page["items"]
            assert len(page["items"]) <= size
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == full, size
    # the CSV export walks the same pages
    rows = [r async for r in parts.wallet.history_rows(user, _f())]
    assert len(rows) == len(full)


async def test_time_range_and_type_filters(db_dsn, db):
    parts = build_components(db, wallet_settings(db_dsn))
    user = await create_user(db)
    await fund(db, user, "BTC", "1")
    await parts.wallet.faucet(user, "ETH", "2")
    items = await _all(parts.wallet, user)
    t_fund = min(i["time"] for i in items)
    t_faucet = max(i["time"] for i in items)
    assert [i["type"] for i in await _all(parts.wallet, user, types="faucet")] == ["faucet"]
    assert [i["type"] for i in await _all(parts.wallet, user, types="adjustment")] == ["adjustment"]
    assert await _all(parts.wallet, user, types="deposit,withdrawal,trade,fee") == []
    after = await _all(parts.wallet, user, start=(t_fund + timedelta(microseconds=1)).isoformat())
    assert [i["type"] for i in after] == ["faucet"]
    before = await _all(parts.wallet, user, end=t_faucet.isoformat())
    assert [i["type"] for i in before] == ["adjustment"]
