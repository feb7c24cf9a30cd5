"""Alerts survive restarts and takeovers: the persisted cursor makes a new owner evaluate the trades its
predecessor did not, and the conditional firing makes it never fire what its predecessor already fired.
Real apps are started and stopped between trades; two replicas share one database for the takeover."""
import asyncio
from contextlib import asynccontextmanager

import httpx
from asgi_lifespan import LifespanManager

from mycrypto.apps import create_app
from tests.conftest import LiveServer
from tests.e2e.alerts.kit import (ALERTS, create, email_of, evaluated_up_to, firings, stream_rows, trade_at,
                                  traders, wait_fired)
from tests.e2e.trading.kit import make_trader
from tests.support.waiting import eventually


@asynccontextmanager
async def running(settings):
    """One app instance (engines, evaluators, relay) and a client to it."""
    app = create_app(settings, access_log=False)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            yield app, c


async def cursor(db):
    return await db.fetchval("SELECT last_trade_id FROM trade.alert_cursor WHERE market_id = "
                             "(SELECT id FROM trade.market WHERE symbol = 'BTC-USDT')")


async def reference_and_alert(app, client, seller, buyer, user) -> dict:
    """A trade at 50000, then an alert above 50500, evaluated up to that trade."""
    first = await trade_at(client, seller, buyer, "50000")
    alert = await create(client, user, {"type": "price", "direction": "above", "price": "50500"})
    await evaluated_up_to(app, "BTC-USDT", first)
    return alert


async def test_restart_between_the_reference_and_the_crossing(db, settings, smtp_sink):
    seller, buyer = await traders(db, settings)
    user = await make_trader(db, settings)
    async with running(settings) as (app, client):
        alert = await reference_and_alert(app, client, seller, buyer, user)
    async with running(settings) as (app, client):
        await trade_at(client, seller, buyer, "50400")
        crossing = await trade_at(client, seller, buyer, "50600")
        [fired] = await wait_fired(db, alert["alert_id"])
        assert fired["trade_id"] == crossing
        await smtp_sink.wait_for(to=await email_of(db, user.user_id), subject_contains="Price alert")


async def test_trades_committed_while_nobody_evaluated_are_caught_up_on_start(db, settings, smtp_sink):
    seller, buyer = await traders(db, settings)
    user = await make_trader(db, settings)
    async with running(settings) as (app, client):
        alert = await reference_and_alert(app, client, seller, buyer, user)
        # the evaluator dies (say, a bug) while the engine keeps committing trades
        container = app.state.container
        market_id = container.trade_registry.by_symbol["BTC-USDT"].id
        evaluator = container.alerts.evaluators.pop(market_id)   # no longer fed committed batches
        await evaluator.stop()
        crossing = await trade_at(client, seller, buyer, "50600")
        await trade_at(client, seller, buyer, "50700")
        await asyncio.sleep(0.5)
        assert await firings(db, alert["alert_id"]) == []
        assert await cursor(db) < crossing
    async with running(settings) as (app, client):   # the next owner reads the trades back from the database
        [fired] = await wait_fired(db, alert["alert_id"])
        assert fired["trade_id"] == crossing
        assert len(await stream_rows(db, user.user_id)) == 1


async def test_a_replay_after_a_lost_cursor_fires_nothing_twice(db, settings, smtp_sink):
    seller, buyer = await traders(db, settings)
    user = await make_trader(db, settings)
    async with running(settings) as (app, client):
        await trade_at(client, seller, buyer, "50000")
        alert = await create(client, user, {"type": "price", "direction": "above", "price": "50500"}, repeat=True,
                             cooldown_seconds=60)
        crossing = await trade_at(client, seller, buyer, "50600")
        await trade_at(client, seller, buyer, "50000")
        last = await trade_at(client, seller, buyer, "50600")            # inside the cooldown: consumed
        await wait_fired(db, alert["alert_id"])
        await evaluated_up_to(app, "BTC-USDT", last)
    # as if the owner had died before saving its cursor: the next one replays every trade
    await db.execute("UPDATE trade.alert_cursor SET last_trade_id = 0")
    async with running(settings) as (app, client):
        await evaluated_up_to(app, "BTC-USDT", last)
        assert await cursor(db) >= last
    rows = await firings(db, alert["alert_id"])
    assert [r["trade_id"] for r in rows] == [crossing]
    assert await db.fetchval("SELECT fire_count FROM trade.price_alert WHERE id = $1", alert["alert_id"]) == 1
    assert len(await stream_rows(db, user.user_id)) == 1
    to = await email_of(db, user.user_id)
    await smtp_sink.wait_for(to=to, subject_contains="Price alert")
    await asyncio.sleep(1.0)
    assert len(smtp_sink.to(to)) == 1


async def test_alert_created_on_another_replica_fires_on_the_owner_and_after_takeover(db, settings):
    settings = settings.model_copy(update={"trade_owner_poll_s": 0.2})
    seller, buyer = await traders(db, settings)
    user = await make_trader(db, settings)
    a = LiveServer(settings).start()
    b = None
    try:
        await eventually(lambda: _owns(a), 15, "replica A owns BTC-USDT")
        b = LiveServer(settings).start()
        assert not await _owns(b)
        async with httpx.AsyncClient(timeout=30) as http:
            client_b = _Base(http, b.url)
            await trade_at(client_b, seller, buyer, "50000")               # forwarded to the owner A
            # created on B: the owner A hears of them through NOTIFY
            first = await create(client_b, user, {"type": "price", "direction": "below", "price": "49500"},
                                 repeat=True, cooldown_seconds=60)
            later = await create(client_b, user, {"type": "price", "direction": "below", "price": "49000"})
            crossing = await trade_at(client_b, seller, buyer, "49400")
            [fired] = await wait_fired(db, first["alert_id"])
            assert fired["trade_id"] == crossing
            await trade_at(client_b, seller, buyer, "50000")               # re-armed
            a.stop()                                                         # the owner goes away
            await eventually(lambda: _owns(b), 20, "replica B took BTC-USDT over")
            again = await trade_at(client_b, seller, buyer, "48900")       # crosses both; `first` is in its cooldown
            [fired] = await wait_fired(db, later["alert_id"])
            assert fired["trade_id"] == again
            market_id = b.app.state.container.trade_registry.by_symbol["BTC-USDT"].id
            await eventually(lambda: _settled(b, market_id, again), 20, "B evaluated the trades")
            assert [r["trade_id"] for r in await firings(db, first["alert_id"])] == [crossing]
            got = (await client_b.get(f"{ALERTS}/{first['alert_id']}", headers=user.headers)).json()
            assert got["fire_count"] == 1 and got["status"] == "active"
            assert len(await stream_rows(db, user.user_id)) == 2
    finally:
        if b is not None:
            b.stop()
        a.stop()


async def _owns(server) -> bool:
    registry = server.app.state.container.trade_registry
    spec = registry.by_symbol.get("BTC-USDT")
    return spec is not None and registry.engine(spec.id) is not None


async def _settled(server, market_id, trade_id) -> bool:
    evaluator = server.app.state.container.alerts.evaluators.get(market_id)
    return evaluator is not None and evaluator.started and evaluator.settled >= trade_id


class _Base:
    """An httpx client bound to one live server's URL (the kit's helpers take a client with relative paths)."""

    def __init__(self, http, url):
        self.http, self.url = http, url

    async def post(self, path, **kw):
        return await self.http.post(self.url + path, **kw)

    async def get(self, path, **kw):
        return await self.http.get(self.url + path, **kw)
