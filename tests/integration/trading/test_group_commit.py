"""The engine's group commit on real PostgreSQL: batching, acknowledgement after commit, the replay
after a refused commit (optimistic balance read raced), database failures and restarts."""
import asyncio
import random

import asyncpg
import pytest
from asgi_lifespan import LifespanManager

from mycrypto.apps import create_app
from mycrypto.auth.principal import Principal
from mycrypto.trading import repository as repo
from mycrypto.trading.schemas import PlaceOrderRequest
from tests.e2e.trading.kit import check_books, make_trader


def principal(user_id: int) -> Principal:
    return Principal(user_id=user_id, role="user", email=f"u{user_id}@example.com", email_verified=True,
                     totp_enabled=False)


def engine_of(app, symbol="BTC-USDT"):
    registry = app.state.container.trade_registry
    return registry.engines[registry.by_symbol[symbol].id]


async def fresh_snapshot(app, symbol="BTC-USDT"):
    """The book rebuilt from the database right now (what a restarted engine would load)."""
    from mycrypto.trading.domain.matching import OrderBook

    registry = app.state.container.trade_registry
    spec = registry.by_symbol[symbol]
    async with app.state.container.db.acquire() as conn:
        states = await repo.open_orders_for_rebuild(conn, spec)
    book = OrderBook()
    for o in states:
        book.restore(o.id, o.user_id, o.side, o.price, o.remaining)
    return book.snapshot()


async def test_many_concurrent_orders_commit_in_groups_and_ack_only_committed(app, db, settings):
    service = app.state.container.trade
    users = [await make_trader(db, settings, {"USDT": "1000000", "BTC": "20"}) for _ in range(6)]
    rng = random.Random(7)

    async def one(i):
        u = users[i % len(users)]
        side = rng.choice(["buy", "sell"])
        price = str(50000 + rng.randint(-20, 20) * 10)
        return await service.place_order(principal(u.user_id), PlaceOrderRequest(
            "BTC-USDT", side, "limit", quantity=str(rng.randint(1, 50) / 1000), price=price))

    results = await asyncio.gather(*[one(i) for i in range(300)])
    engine = engine_of(app)
    assert engine.stats["commands"] >= 300 and engine.stats["batches"] < 300   # grouped
    ids = [r.order_id for r in results]
    stored = {r["id"] for r in await db.fetch("SELECT id FROM trade.spot_order")}
    assert set(ids) <= stored and len(set(ids)) == 300
    assert engine.snapshot() == await fresh_snapshot(app)
    await check_books(db)


async def test_a_commit_refused_by_the_ledger_is_replayed_with_fresh_balances(app, db, settings, monkeypatch):
    service = app.state.container.trade
    poor = await make_trader(db, settings, {"USDT": "100"})
    rich = await make_trader(db, settings, {"USDT": "100000"})
    registry = app.state.container.trade_registry
    spec = registry.by_symbol["BTC-USDT"]
    _, poor_acc = await registry.accounts.pair(poor.user_id, spec)   # (base, quote)
    await registry.accounts.pair(rich.user_id, spec)
    real = repo.available_units
    calls = []

    async def stale_read(conn, ids, decimals):
        # the optimistic read sees money a concurrent withdrawal already took: inflate it once
        got = await real(conn, ids, decimals)
        calls.append(1)
        if len(calls) == 1:
            got[poor_acc] = got.get(poor_acc, 0) + 10**15
        return got

    monkeypatch.setattr(repo, "available_units", stale_read)
    big = PlaceOrderRequest("BTC-USDT", "buy", "limit", quantity="0.1", price="50000")
    small = PlaceOrderRequest("BTC-USDT", "buy", "limit", quantity="0.1", price="40000")
    r_poor, r_rich = await asyncio.gather(service.place_order(principal(poor.user_id), big),
                                          service.place_order(principal(rich.user_id), small),
                                          return_exceptions=True)
    assert getattr(r_poor, "code", None) == "insufficient_funds"
    assert r_rich.status == "new"
    assert engine_of(app).stats["retries"] == 1
    assert engine_of(app).snapshot() == await fresh_snapshot(app)
    await check_books(db)


async def test_database_failure_during_commit_answers_503_and_keeps_the_book_true(app, db, settings, monkeypatch):
    service = app.state.container.trade
    u = await make_trader(db, settings, {"USDT": "100000"})
    await service.place_order(principal(u.user_id), PlaceOrderRequest("BTC-USDT", "buy", "limit", "0.1", "40000"))
    real = repo.execute_batch

    async def broken(*args, **kwargs):
        raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")

    monkeypatch.setattr(repo, "execute_batch", broken)
    with pytest.raises(Exception) as info:
        await service.place_order(principal(u.user_id), PlaceOrderRequest("BTC-USDT", "buy", "limit", "0.1", "41000"))
    assert info.value.http_status == 503 and info.value.code == "database_unavailable"
    monkeypatch.setattr(repo, "execute_batch", real)
    engine = engine_of(app)
    assert engine.snapshot() == await fresh_snapshot(app)
    assert [o[3] for o in engine.snapshot()] == [4000000]      # the uncommitted order is gone
    ok = await service.place_order(principal(u.user_id), PlaceOrderRequest("BTC-USDT", "buy", "limit", "0.1", "41000"))
    assert ok.status == "new"
    await check_books(db)


async def test_restart_mid_stream_rebuilds_an_identical_book(settings, db):
    users = [await make_trader(db, settings, {"USDT": "1000000", "BTC": "50", "ETH": "500"}) for _ in range(5)]
    rng = random.Random(11)
    app1 = create_app(settings, access_log=False)
    acked = []
    async with LifespanManager(app1, startup_timeout=60, shutdown_timeout=60):
        service = app1.state.container.trade
        stop = asyncio.Event()

        async def stream(k):
            while not stop.is_set():
                u = rng.choice(users)
                sym = rng.choice(["BTC-USDT", "ETH-USDT"])
                base = 50000 if sym == "BTC-USDT" else 2500
                req = PlaceOrderRequest(sym, rng.choice(["buy", "sell"]), "limit",
                                        quantity=str(rng.randint(1, 30) / 100), price=str(base + rng.randint(-30, 30)),
                                        time_in_force=rng.choice(["GTC", "GTC", "IOC"]))
                try:
                    acked.append(await service.place_order(principal(u.user_id), req))
                except Exception as exc:   # 503 while shutting down: not executed
                    assert getattr(exc, "http_status", None) == 503, exc
                    return

        tasks = [asyncio.create_task(stream(k)) for k in range(8)]
        await asyncio.sleep(1.5)
        engines = {sym: engine_of(app1, sym) for sym in ("BTC-USDT", "ETH-USDT")}
    # shutdown happened while the streams were running: stop them, capture the final books
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    before = {sym: e.snapshot() for sym, e in engines.items()}
    assert sum(len(b) for b in before.values()) > 10 and len(acked) > 50
    app2 = create_app(settings, access_log=False)
    async with LifespanManager(app2, startup_timeout=60, shutdown_timeout=60):
        for sym in ("BTC-USDT", "ETH-USDT"):
            after = engine_of(app2, sym)
            assert after.snapshot() == before[sym], sym
            assert after.update_id == engines[sym].update_id
            # the per-order money state survived too
            old = engines[sym].orders
            assert {i: (o.hold_rem, o.filled, o.fee, o.fee_exact) for i, o in after.orders.items()} == \
                   {i: (o.hold_rem, o.filled, o.fee, o.fee_exact) for i, o in old.items()}
        # every acknowledged order is in the database
        stored = {r["id"] for r in await db.fetch("SELECT id FROM trade.spot_order")}
        assert {r.order_id for r in acked} <= stored
    await check_books(db)
