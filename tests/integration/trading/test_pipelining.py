"""The engine's pipelined group commit (batch N+1 is matched and sent while batch N commits) on real
PostgreSQL: a failed predecessor makes its successor write nothing and both are replayed; a successor
that overtakes its predecessor to the database is sent again; an order that looks short of funds only
because the batch in flight has not committed yet is retried after it, never refused on a guess."""
import asyncio

from mycrypto.trading import repository as repo
from mycrypto.trading.schemas import PlaceOrderRequest
from mycrypto.wallet.errors import InsufficientFunds
from tests.e2e.trading.kit import balances, check_books, make_trader
from tests.integration.trading.test_group_commit import engine_of, fresh_snapshot, principal


def limit(side, qty, price, tif="GTC"):
    return PlaceOrderRequest("BTC-USDT", side, "limit", quantity=qty, price=price, time_in_force=tif)


async def _two_batches(service, first, second):
    """Submit `first`, let the sequencer take it as a batch, then submit `second` (the next batch)."""
    t1 = asyncio.create_task(first())
    await asyncio.sleep(0.01)
    t2 = asyncio.create_task(second())
    return await asyncio.gather(t1, t2, return_exceptions=True)


async def test_a_failed_batch_in_flight_replays_itself_and_its_successor(app, db, settings, monkeypatch):
    service = app.state.container.trade
    a = await make_trader(db, settings, {"USDT": "100000"})
    b = await make_trader(db, settings, {"USDT": "100000"})
    real = repo.execute_batch
    calls = {"n": 0}

    async def first_call_refused(conn, spec, args):
        calls["n"] += 1
        if calls["n"] == 1:
            await asyncio.sleep(0.1)   # keep it in flight while the next batch is sent
            raise InsufficientFunds("raced by a withdrawal")
        return await real(conn, spec, args)

    monkeypatch.setattr(repo, "execute_batch", first_call_refused)
    r1, r2 = await _two_batches(
        service, lambda: service.place_order(principal(a.user_id), limit("buy", "0.1", "40000")),
        lambda: service.place_order(principal(b.user_id), limit("buy", "0.1", "40100")))
    assert r1.status == "new" and r2.status == "new"       # both replayed and committed
    engine = engine_of(app)
    assert engine.stats["retries"] >= 1
    assert engine.snapshot() == await fresh_snapshot(app)
    assert {r["id"] for r in await db.fetch("SELECT id FROM trade.spot_order")} == {r1.order_id, r2.order_id}
    await check_books(db)


async def test_a_successor_that_overtakes_its_predecessor_is_sent_again(app, db, settings, monkeypatch):
    service = app.state.container.trade
    a = await make_trader(db, settings, {"USDT": "100000"})
    b = await make_trader(db, settings, {"USDT": "100000"})
    real = repo.execute_batch
    calls = {"n": 0}

    async def slow_first(conn, spec, args):
        calls["n"] += 1
        if calls["n"] == 1:
            await asyncio.sleep(0.1)   # the successor reaches the sequence fence first
        return await real(conn, spec, args)

    monkeypatch.setattr(repo, "execute_batch", slow_first)
    r1, r2 = await _two_batches(
        service, lambda: service.place_order(principal(a.user_id), limit("buy", "0.1", "40000")),
        lambda: service.place_order(principal(b.user_id), limit("buy", "0.1", "40100")))
    assert r1.status == "new" and r2.status == "new"
    engine = engine_of(app)
    assert engine.stats["resends"] >= 1 and engine.stats["retries"] == 0
    assert engine.snapshot() == await fresh_snapshot(app)
    await check_books(db)


async def test_funds_credited_by_the_batch_in_flight_are_used_not_refused(app, db, settings, monkeypatch):
    service = app.state.container.trade
    maker = await make_trader(db, settings, {"USDT": "100000"})
    seller = await make_trader(db, settings, {"BTC": "1"})            # no USDT until the sale settles
    await service.place_order(principal(maker.user_id), limit("buy", "0.1", "50000"))
    real = repo.execute_batch

    async def slow(conn, spec, args):
        await asyncio.sleep(0.05)
        return await real(conn, spec, args)

    monkeypatch.setattr(repo, "execute_batch", slow)
    sale, spend = await _two_batches(
        service, lambda: service.place_order(principal(seller.user_id), limit("sell", "0.1", "50000", "IOC")),
        # spends the sale's proceeds (~4996 USDT after fees), which only exist once the sale commits
        lambda: service.place_order(principal(seller.user_id), limit("buy", "0.01", "40000")))
    assert sale.status == "filled"
    assert spend.status == "new", spend
    usdt_available, usdt_locked = (await balances(db, seller.user_id))["USDT"]
    assert usdt_locked > 0 and usdt_available > 0
    assert engine_of(app).snapshot() == await fresh_snapshot(app)
    await check_books(db)
