"""Conditional orders through the trade service on real PostgreSQL: the hold at placement, the trigger
by a crossing trade (and its fill) committed with that trade, OCO cancellation of the sibling with its
hold released, cancel, persistence across a restart (the rebuild loads untriggered orders into the
trigger book), and `mycrypto verify` passing throughout (locked = open orders incl. untriggered ones)."""
from decimal import Decimal as D

from asgi_lifespan import LifespanManager

from mycrypto.apps import create_app
from mycrypto.trading.schemas import PlaceOcoRequest, PlaceOrderRequest
from tests.e2e.trading.kit import balances, check_books, make_trader
from tests.integration.trading.test_group_commit import engine_of, principal


def lim(side, price, qty, **kw):
    return PlaceOrderRequest("BTC-USDT", side, "limit", quantity=qty, price=price, **kw)


async def trade_at(service, a, b, price, qty="0.01"):
    """Make one trade at `price` between traders a (seller) and b (buyer)."""
    await service.place_order(principal(a.user_id), lim("sell", price, qty))
    return await service.place_order(principal(b.user_id), lim("buy", price, qty))


async def condition_row(db, order_id):
    return await db.fetchrow("SELECT * FROM trade.order_condition WHERE order_id = $1", order_id)


async def test_stop_limit_holds_triggers_on_the_crossing_trade_and_fills(app, db, settings):
    service = app.state.container.trade
    a = await make_trader(db, settings, {"USDT": "100000", "BTC": "5"})
    b = await make_trader(db, settings, {"USDT": "100000", "BTC": "5"})
    s = await make_trader(db, settings, {"BTC": "1"})
    await trade_at(service, a, b, "50000")
    stop = await service.place_order(principal(s.user_id), PlaceOrderRequest(
        "BTC-USDT", "sell", "stop_limit", quantity="0.5", price="48900", stop_price="49000"))
    assert stop.to_dict()["status"] == "untriggered" and stop.to_dict()["type"] == "stop_limit"
    assert (await balances(db, s.user_id))["BTC"] == (D("0.5"), D("0.5"))       # held from placement
    assert (await condition_row(db, stop.order_id))["triggered_at"] is None
    assert engine_of(app).snapshot() == [] or all(r[1] != stop.order_id for r in engine_of(app).snapshot())
    await check_books(db)
    listed = [o.to_dict() for o in await service.open_orders(principal(s.user_id))]
    assert [(o["order_id"], o["status"], o["stop_price"]) for o in listed] == [(stop.order_id, "untriggered", "49000")]
    # a bid at 48950 waits; trades at 49500 do not cross; a trade at 49000 does: the stop becomes a
    # limit sell at 48900 in the same batch and fills against the 48950 bid
    await service.place_order(principal(b.user_id), lim("buy", "48950", "1"))
    await trade_at(service, a, b, "49500")
    assert (await condition_row(db, stop.order_id))["triggered_at"] is None
    crossing = await trade_at(service, a, b, "49000")
    row = await condition_row(db, stop.order_id)
    assert row["triggered_at"] is not None and row["trigger_trade_id"] == crossing.fills[0].trade_id
    got = (await service.get_order(principal(s.user_id), order_id=stop.order_id)).to_dict()
    assert got["status"] == "filled" and got["executed_quantity"] == "0.5" and got["type"] == "stop_limit"
    assert got["fills"][0]["trade_id"] == crossing.fills[0].trade_id + 1     # right after the crossing trade
    assert got["fills"][0]["price"] == "48950"
    usdt_avail, _ = (await balances(db, s.user_id))["USDT"]
    assert usdt_avail > D("24000") and (await balances(db, s.user_id))["BTC"] == (D("0.5"), D("0"))
    await check_books(db)


async def test_cancel_releases_the_hold_and_a_repeated_client_id_returns_the_order(app, db, settings):
    service = app.state.container.trade
    u = await make_trader(db, settings, {"USDT": "100000"})
    req = PlaceOrderRequest("BTC-USDT", "buy", "stop_market", quantity="1", stop_price="60000", client_order_id="s1")
    stop = await service.place_order(principal(u.user_id), req)
    # a stop-market buy holds at stop * 1.05 (+ fees at the worse rate)
    usdt = (await balances(db, u.user_id))["USDT"]
    assert usdt[1] == stop.hold_amount and stop.hold_amount >= D("63000")
    again = await service.place_order(principal(u.user_id), req)
    assert again.order_id == stop.order_id and not again.created
    cancelled = await service.cancel_order(principal(u.user_id), order_id=stop.order_id)
    assert cancelled.status == "canceled"
    assert (await balances(db, u.user_id))["USDT"] == (D("100000"), D("0"))
    await check_books(db)


async def test_oco_fill_of_the_limit_leg_cancels_the_stop_and_releases_its_hold(app, db, settings):
    service = app.state.container.trade
    a = await make_trader(db, settings, {"USDT": "100000", "BTC": "5"})
    b = await make_trader(db, settings, {"USDT": "100000", "BTC": "5"})
    s = await make_trader(db, settings, {"BTC": "2"})
    await trade_at(service, a, b, "50000")
    pair = await service.place_oco(principal(s.user_id), PlaceOcoRequest(
        "BTC-USDT", "sell", quantity="1", price="52000", stop_price="48000", stop_limit_price="47900"))
    stop, limit_leg = pair.orders
    assert pair.order_list_id == min(stop.order_id, limit_leg.order_id)
    assert (await balances(db, s.user_id))["BTC"] == (D("0"), D("2"))     # each leg holds its quantity
    await service.place_order(principal(b.user_id), lim("buy", "52000", "0.25"))   # fills part of the limit leg
    got = (await service.get_order(principal(s.user_id), order_id=stop.order_id)).to_dict()
    assert got["status"] == "canceled" and got["reason"] == "oco" and got["hold_remaining"] == "0"
    assert (await balances(db, s.user_id))["BTC"] == (D("1"), D("0.75"))
    await check_books(db)


async def test_oco_stop_trigger_cancels_the_limit_leg(app, db, settings):
    service = app.state.container.trade
    a = await make_trader(db, settings, {"USDT": "100000", "BTC": "5"})
    b = await make_trader(db, settings, {"USDT": "100000", "BTC": "5"})
    s = await make_trader(db, settings, {"BTC": "2"})
    await trade_at(service, a, b, "50000")
    pair = await service.place_oco(principal(s.user_id), PlaceOcoRequest(
        "BTC-USDT", "sell", quantity="1", price="52000", stop_price="48000"))
    stop, limit_leg = pair.orders
    assert stop.to_dict()["type"] == "stop_market"
    await service.place_order(principal(b.user_id), lim("buy", "47000", "2"))
    await trade_at(service, a, b, "48000")
    got_limit = (await service.get_order(principal(s.user_id), order_id=limit_leg.order_id)).to_dict()
    got_stop = (await service.get_order(principal(s.user_id), order_id=stop.order_id)).to_dict()
    assert got_limit["status"] == "canceled" and got_limit["reason"] == "oco"
    assert got_stop["status"] == "filled" and got_stop["fills"][0]["price"] == "47000"
    assert (await balances(db, s.user_id))["BTC"] == (D("1"), D("0"))
    await check_books(db)


async def test_untriggered_orders_and_oco_links_survive_a_restart(settings, db):
    a = await make_trader(db, settings, {"USDT": "100000", "BTC": "5"})
    b = await make_trader(db, settings, {"USDT": "100000", "BTC": "5"})
    s = await make_trader(db, settings, {"BTC": "3", "USDT": "100000"})
    app1 = create_app(settings, access_log=False)
    async with LifespanManager(app1, startup_timeout=60, shutdown_timeout=60):
        service = app1.state.container.trade
        await trade_at(service, a, b, "50000")
        stop = await service.place_order(principal(s.user_id), PlaceOrderRequest(
            "BTC-USDT", "buy", "stop_limit", quantity="0.2", price="51100", stop_price="51000"))
        pair = await service.place_oco(principal(s.user_id), PlaceOcoRequest(
            "BTC-USDT", "sell", quantity="1", price="53000", stop_price="45000"))
        before = engine_of(app1).snapshot()
    app2 = create_app(settings, access_log=False)
    async with LifespanManager(app2, startup_timeout=60, shutdown_timeout=60):
        engine = engine_of(app2)
        assert engine.snapshot() == before
        assert sorted(engine.conds.orders) == sorted([stop.order_id, pair.orders[0].order_id])
        assert engine.conds.oco == {pair.orders[0].order_id: pair.orders[1].order_id,
                                    pair.orders[1].order_id: pair.orders[0].order_id}
        assert engine.conds.last == 5_000_000   # 50000.00 in ticks
        service = app2.state.container.trade
        # the restarted engine still triggers: asks at 51050, then a trade at 51000 fires the stop buy
        await service.place_order(principal(a.user_id), lim("sell", "51050", "1"))
        await trade_at(service, a, b, "51000")
        got = (await service.get_order(principal(s.user_id), order_id=stop.order_id)).to_dict()
        assert got["status"] == "filled" and got["fills"][0]["price"] == "51050"
        # and the OCO link works: filling the limit leg cancels the untriggered stop
        await service.place_order(principal(b.user_id), lim("buy", "53000", "1"))
        got = (await service.get_order(principal(s.user_id), order_id=pair.orders[0].order_id)).to_dict()
        assert got["status"] == "canceled" and got["reason"] == "oco"
        assert not engine.conds.orders and not engine.conds.oco
    await check_books(db)


async def test_verify_flags_an_untriggered_order_with_fills(app, db, settings):
    from mycrypto.ops.verify import verify_books

    service = app.state.container.trade
    s = await make_trader(db, settings, {"BTC": "1"})
    stop = await service.place_order(principal(s.user_id), PlaceOrderRequest(
        "BTC-USDT", "sell", "stop_market", quantity="0.5", stop_price="40000"))
    async with db.acquire() as conn:
        assert (await verify_books(conn)).ok
    await db.execute("UPDATE trade.spot_order SET filled_quantity = 0.1 WHERE id = $1", stop.order_id)
    async with db.acquire() as conn:
        report = await verify_books(conn)
    assert [c.name for c in report.failures] == ["conditional_orders_consistent"]
