"""The simulation's invariant checks can fail: after a short seeded run they hold, and each one reports
a planted defect (an engine book that differs from the database, fees not accounted, an acknowledged
order missing, a deposit never credited, books that do not balance)."""
from __future__ import annotations

from mycrypto.sim import invariants as inv
from mycrypto.sim.driver import Simulation


async def test_each_invariant_check_catches_a_planted_defect(db_dsn: str) -> None:
    sim = Simulation(db_dsn, seed=5, ops=600, users=30, round_size=48)
    await sim.setup()
    try:
        for _ in range(12):
            await sim.run_round(sim.gen.round(48))
        assert not sim.bugs, sim.bugs
        await sim.check(600)                     # everything holds after real trading
        conn = sim.platform.observer
        registry = sim.platform.registry

        # 1. an engine's in-memory book differs from the database's open orders
        engine = next(e for e in registry.engines.values() if e.orders)
        order = next(iter(engine.orders.values()))
        order_id, price = order.id, order.price
        engine.book.restore(10**12, order.user_id, order.side, order.price, 1)   # a phantom resting order
        problems, compared = await inv.check_engines(conn, registry)
        assert compared >= 1 and any("in-memory book differs" in p for p in problems), problems
        engine.dirty = True
        await engine.try_rebuild()               # the rebuilt book equals the database again
        problems, _ = await inv.check_engines(conn, registry)
        assert problems == []
        assert order_id in engine.orders and engine.orders[order_id].price == price

        # 2. a trade's fee that never reached the fee account
        assert await inv.check_fees(conn) == []
        await conn.execute("ALTER TABLE trade.trade DISABLE TRIGGER USER")
        await conn.execute("UPDATE trade.trade SET buyer_fee = buyer_fee + 0.01 "
                           "WHERE (market_id, id) = (SELECT market_id, id FROM trade.trade LIMIT 1)")
        assert any(p.startswith("fees ") for p in await inv.check_fees(conn))

        # 3. an acknowledged order the database does not have
        cid = next(iter(sim.answers.orders))
        user_id, _, status = sim.answers.orders[cid]
        sim.answers.order(cid, user_id, 10**15, status)
        assert any("is not in the database" in p for p in await inv.check_answers(conn, sim.answers))

        # 4. a deposit sent and mined but never credited
        sim.answers.deposits.append("0x" + "ab" * 32)
        assert any("not credited" in p for p in await inv.check_deposits(conn, sim.answers))

        # 5. books that do not balance (`mycrypto verify`)
        assert await inv.check_books(conn) == []
        await conn.execute("UPDATE wallet.account SET available = available + 1 "
                           "WHERE id = (SELECT id FROM wallet.account WHERE kind = 'user' LIMIT 1)")
        assert any("accounts_match_ledger" in p for p in await inv.check_books(conn))
    finally:
        await sim.platform.stop()
