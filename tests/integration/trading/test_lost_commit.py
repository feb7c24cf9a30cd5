"""A batch whose database connection is lost while it commits, on real PostgreSQL. Only the database
knows whether such a commit landed, and its old backend may still be running it, so the engine bumps
the market's fencing epoch (waiting for a commit that holds the fence row; one arriving later writes
nothing) and reads the committed update id it returns:
- the answer was lost after the commit: the batch is acknowledged once, never replayed (a replay
  would place the order a second time - the guard test shows it);
- the commit was still queued behind a lock: it lands first, and is then acknowledged once;
- the database cannot be asked in time: the client is told 503 order_outcome_unknown, never "not
  executed", and the engine refences before it reads the database again, so a lost commit can never
  land behind its back."""
import asyncio

import asyncpg

from mycrypto.trading import engine as engine_module
from mycrypto.trading.engine import recovery
from mycrypto.trading import repository as repo
from mycrypto.trading.errors import OutcomeUnknown
from mycrypto.trading.schemas import PlaceOrderRequest
from tests.e2e.trading.kit import check_books, make_trader
from tests.integration.trading.test_group_commit import engine_of, fresh_snapshot, principal
from tests.support.waiting import eventually


def buy(price="40000"):
    return PlaceOrderRequest("BTC-USDT", "buy", "limit", "0.1", price)


async def _engine_waiting_on_fence(db) -> bool:
    n = await db.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                          "AND application_name = 'mycrypto-trade-engine' AND wait_event_type = 'Lock'")
    return n == 1


async def _fence(db, engine) -> int:
    return await db.fetchval("SELECT book_update_id FROM trade.market_engine WHERE market_id = $1", engine.spec.id)


async def _place_and_lose_the_connection(app, db, settings, user_id, *, answer_lost: bool):
    """Place an order and cut the engine's side of its connection while the commit is in flight.
    answer_lost=True: the commit completes in the database first and only its answer is lost.
    answer_lost=False: the connection is cut while the commit still waits for the fence row (locked
    here), and the lock is released half a second later. Returns the placement's outcome."""
    engine = engine_of(app)
    before = await _fence(db, engine)
    blocker = await asyncpg.connect(settings.database_url)
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("SELECT 1 FROM trade.market_engine WHERE market_id = $1 FOR UPDATE", engine.spec.id)
        placing = asyncio.create_task(app.state.container.trade.place_order(principal(user_id), buy()))
        await eventually(lambda: _engine_waiting_on_fence(db), what="engine commit waiting on the fence row")
        conns = [c for c in engine._conns if c is not None]
        if answer_lost:
            for conn in conns:
                conn._transport.pause_reading()   # the answer will sit unread in the socket
            await tx.commit()
            await eventually(lambda: _fence_moved(db, engine, before), what="the commit landing")
        for conn in conns:
            conn.terminate()   # client side only: PostgreSQL does not notice a backend waiting on a lock
        if not answer_lost:
            await asyncio.sleep(0.5)
            await tx.commit()
        return (await asyncio.wait_for(asyncio.gather(placing, return_exceptions=True), 15))[0]
    finally:
        await blocker.close()


async def _fence_moved(db, engine, before) -> bool:
    return await _fence(db, engine) > before


async def _orders_of(db, user_id):
    return [r["id"] for r in await db.fetch("SELECT id FROM trade.spot_order WHERE user_id = $1", user_id)]


async def _engine_agrees_and_carries_on(app, db, user_id):
    engine = engine_of(app)
    later = await app.state.container.trade.place_order(principal(user_id), buy("40100"))
    assert later.status == "new"   # with fresh connections
    assert engine.snapshot() == await fresh_snapshot(app)
    await check_books(db)


async def test_a_commit_whose_answer_was_lost_is_acknowledged_once_not_replayed(app, db, settings):
    u = await make_trader(db, settings, {"USDT": "100000"})
    result = await _place_and_lose_the_connection(app, db, settings, u.user_id, answer_lost=True)
    assert not isinstance(result, BaseException), result
    assert result.status == "new"
    assert await _orders_of(db, u.user_id) == [result.order_id]   # executed exactly once
    await _engine_agrees_and_carries_on(app, db, u.user_id)


async def test_a_commit_lost_while_queued_on_a_lock_is_acknowledged_once(app, db, settings):
    u = await make_trader(db, settings, {"USDT": "100000"})
    result = await _place_and_lose_the_connection(app, db, settings, u.user_id, answer_lost=False)
    assert not isinstance(result, BaseException), result
    assert result.status == "new"
    assert await _orders_of(db, u.user_id) == [result.order_id]
    assert engine_of(app).stats["retries"] >= 1
    await _engine_agrees_and_carries_on(app, db, u.user_id)


async def test_when_the_database_cannot_say_the_client_is_told_the_outcome_is_unknown(app, db, settings,
                                                                                     monkeypatch):
    monkeypatch.setattr(recovery, "FENCE_QUERY_TIMEOUT", 0.0001)   # the database "does not answer"
    u = await make_trader(db, settings, {"USDT": "100000"})
    result = await _place_and_lose_the_connection(app, db, settings, u.user_id, answer_lost=False)
    assert isinstance(result, OutcomeUnknown), result
    assert (result.http_status, result.code) == (503, "order_outcome_unknown")
    # ...and rightly so: the lost commit was queued on the fence row ahead of the engine's refence, so
    # it landed when the lock went. The engine read the database only after its refence (a later
    # lost commit would have been refused by the new epoch), so its book shows the order.
    engine = engine_of(app)
    [order_id] = await eventually(lambda: _orders_of(db, u.user_id), what="the lost commit landing")
    await eventually(lambda: _rebuilt(engine), what="the engine rebuilt")
    assert [o[0] for o in engine.snapshot()] == [order_id]
    await _engine_agrees_and_carries_on(app, db, u.user_id)


async def _rebuilt(engine) -> bool:
    return not engine.dirty


async def test_without_the_fence_check_a_lost_answer_would_place_the_order_twice(app, db, settings, monkeypatch):
    """Guard for the first test: with the old behaviour (replay after a lost connection) the order is
    executed a second time, so that test can fail."""
    async def replay_everything(self, batches):
        self.dirty = True
        return [cmd for b in batches for cmd in b.cmds]

    monkeypatch.setattr(engine_module.MarketEngine, "_resolve_lost", replay_everything)
    u = await make_trader(db, settings, {"USDT": "100000"})
    result = await _place_and_lose_the_connection(app, db, settings, u.user_id, answer_lost=True)
    assert len(await _orders_of(db, u.user_id)) == 2, result


async def test_a_lost_successor_of_a_refused_batch_cannot_land_after_the_replay(app, db, settings, monkeypatch):
    """Batch N is refused by the database while its pipelined successor N+1 loses its connection after
    sending. Both are replayed - so N+1's commit, reaching the database late, must be refused (it
    would otherwise pass the fence of the replay, which reuses its update id, and execute twice)."""
    service = app.state.container.trade
    a = await make_trader(db, settings, {"USDT": "100000"})
    b = await make_trader(db, settings, {"USDT": "100000"})
    engine = engine_of(app)
    real = repo.execute_batch
    lost: list = []

    async def refused_then_lost(conn, spec, args):
        if not lost and not hasattr(refused_then_lost, "refused"):
            refused_then_lost.refused = True
            await asyncio.sleep(0.3)   # keep N in flight while N+1 is sent
            raise asyncpg.DeadlockDetectedError("refused (test): rolled back")
        if not lost:
            lost.append(args)          # N+1 is on its way when its connection dies
            raise ConnectionResetError("connection lost after sending")
        return await real(conn, spec, args)

    monkeypatch.setattr(repo, "execute_batch", refused_then_lost)
    monkeypatch.setattr(engine, "batch_max", 1)
    ra, rb = await asyncio.wait_for(asyncio.gather(
        service.place_order(principal(a.user_id), buy()), service.place_order(principal(b.user_id), buy()),
        return_exceptions=True), 15)
    assert not isinstance(ra, BaseException) and not isinstance(rb, BaseException), (ra, rb)
    late = await db.fetchval(repo._COMMIT_BATCH, *lost[0])   # the lost commit arrives now
    assert late == 0   # refused by the epoch: nothing written
    assert await _orders_of(db, b.user_id) == [rb.order_id]
    assert engine.snapshot() == await fresh_snapshot(app)
    await check_books(db)


async def test_concurrent_rebuilds_after_an_unknown_outcome_refence_once(app, db, settings):
    """After an unknown outcome the sequencer and the registry's tick may both rebuild; each rebuild
    must refence first. Two refences of the same epoch would make the second look like a takeover
    and give the market up, so they take turns (and the second finds the book already rebuilt)."""
    engine = engine_of(app)
    epoch = engine.epoch
    engine.dirty = engine._unfenced = True   # as _resolve_lost leaves it when the database could not say
    assert await asyncio.gather(engine.try_rebuild(), engine.try_rebuild()) == [True, True]
    assert engine.accepting and not engine.dirty and engine.epoch == epoch + 1
    u = await make_trader(db, settings, {"USDT": "100000"})
    await _engine_agrees_and_carries_on(app, db, u.user_id)
