"""One owner per market across replicas: two app instances on one database, forwarding to the owner,
takeover when the owner stops or loses its lock, and the rebuilt book equal to the one before."""
import asyncio
import time

import asyncpg
import httpx

from tests.conftest import LiveServer, make_settings
from tests.e2e.trading.kit import check_books, make_trader


def registry(server):
    return server.app.state.container.trade_registry


def owned(server):
    return {e.spec.symbol for e in registry(server).engines.values() if e.accepting}


async def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_two_replicas_one_owner_forwarding_and_takeover(db_dsn, db):
    settings = make_settings(db_dsn, trade_owner_poll_s=0.2)
    a = LiveServer(settings).start()
    b = None
    try:
        assert await wait_for(lambda: owned(a) == {"BTC-USDT", "ETH-USDT", "ETH-BTC"})
        b = LiveServer(settings).start()
        await asyncio.sleep(0.6)
        assert owned(b) == set()        # A holds every market's lock
        seller = await make_trader(db, settings, {"BTC": "2"})
        buyer = await make_trader(db, settings, {"USDT": "200000"})
        async with httpx.AsyncClient(timeout=30) as http:
            # orders sent to B are executed by A (forwarded), acknowledged after A's commit
            for i, price in enumerate(("50000", "50100", "50200")):
                r = await http.post(f"{b.url}/api/v1/trade/orders", headers=seller.headers,
                                    json={"symbol": "BTC-USDT", "side": "sell", "type": "limit", "price": price,
                                          "quantity": "0.3"})
                assert r.status_code == 201, r.text
            r = await http.post(f"{b.url}/api/v1/trade/orders", headers=buyer.headers,
                                json={"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "50000",
                                      "quantity": "0.1"})
            assert r.status_code == 201 and r.json()["status"] == "filled"
            r = await http.post(f"{b.url}/api/v1/trade/orders", headers=buyer.headers,
                                json={"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "49000",
                                      "quantity": "0.2", "client_order_id": "rest-1"})
            assert r.status_code == 201
            # B answers reads from the committed database state
            await asyncio.sleep(0.6)
            ob_b = (await http.get(f"{b.url}/api/v1/orderbook/BTC-USDT")).json()
            ob_a = (await http.get(f"{a.url}/api/v1/orderbook/BTC-USDT")).json()
            assert ob_b["bids"] == ob_a["bids"] and ob_b["asks"] == ob_a["asks"]
            assert ob_b["update_id"] == ob_a["update_id"]
            before = registry(a).engines[registry(a).by_symbol["BTC-USDT"].id].snapshot()
            assert len(before) == 4
            # the owner goes away: B takes every market over and rebuilds the same book
            a.stop()
            assert await wait_for(lambda: owned(b) == {"BTC-USDT", "ETH-USDT", "ETH-BTC"})
            after = registry(b).engines[registry(b).by_symbol["BTC-USDT"].id].snapshot()
            assert after == before
            # and keeps trading: the resting ask fills, the cancel by client id works
            r = await http.post(f"{b.url}/api/v1/trade/orders", headers=buyer.headers,
                                json={"symbol": "BTC-USDT", "side": "buy", "type": "market", "quantity": "0.2"})
            assert r.status_code == 201 and r.json()["executed_quantity"] == "0.2", r.text
            r = await http.delete(f"{b.url}/api/v1/trade/orders/client/rest-1", headers=buyer.headers)
            assert r.status_code == 200 and r.json()["status"] == "canceled"
            ids = (await db.fetch("SELECT id FROM trade.trade ORDER BY id"))
            assert [r["id"] for r in ids] == [1, 2]        # trade ids continue after the takeover
    finally:
        if b is not None:
            b.stop()
        a.stop()
    await check_books(db)


async def test_a_replica_that_lost_its_lock_is_fenced_out(db_dsn, db):
    # A polls rarely, so it does not notice the loss before it tries to commit again
    a = LiveServer(make_settings(db_dsn, trade_owner_poll_s=30, trade_markets=["BTC-USDT"])).start()
    b = None
    try:
        assert owned(a) == {"BTC-USDT"}
        b = LiveServer(make_settings(db_dsn, trade_owner_poll_s=0.2, trade_markets=["BTC-USDT"])).start()
        u = await make_trader(db, a.app.state.container.settings, {"USDT": "100000"})
        async with httpx.AsyncClient(timeout=30) as http:
            body = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "40000", "quantity": "0.1"}
            assert (await http.post(f"{a.url}/api/v1/trade/orders", headers=u.headers, json=body)).status_code == 201
            # A's lock connection dies (network blip, killed backend): the lock is free
            conn = await asyncpg.connect(db_dsn)
            try:
                killed = await conn.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'mycrypto-trade-owner' AND datname = current_database()")
            finally:
                await conn.close()
            assert killed >= 1
            assert await wait_for(lambda: owned(b) == {"BTC-USDT"})
            # A still believes it owns the market; its next commit is refused by the epoch fence.
            # The request was forwarded-marked, so A answers itself instead of forwarding: 503.
            r = await http.post(f"{a.url}/api/v1/trade/orders", json=body,
                                headers={**u.headers, "X-MyCrypto-Forwarded": "1"})
            assert r.status_code == 503 and r.json()["error"]["code"] == "market_unavailable"
            assert await wait_for(lambda: owned(a) == set())
            # from now on A forwards to B
            r = await http.post(f"{a.url}/api/v1/trade/orders", headers=u.headers, json=body)
            assert r.status_code == 201, r.text
            assert len(registry(b).engines[registry(b).by_symbol["BTC-USDT"].id].snapshot()) == 2
    finally:
        if b is not None:
            b.stop()
        a.stop()
    await check_books(db)


async def test_markets_split_across_replicas_forward_to_their_owners(db_dsn, db):
    """TRADE_MARKETS splits the markets: each replica owns its own and forwards the others' commands;
    cancel-all without a symbol cancels on both replicas."""
    a = LiveServer(make_settings(db_dsn, trade_owner_poll_s=0.2, trade_markets=["BTC-USDT"])).start()
    b = None
    try:
        b = LiveServer(make_settings(db_dsn, trade_owner_poll_s=0.2, trade_markets=["ETH-USDT", "ETH-BTC"])).start()
        assert await wait_for(lambda: owned(a) == {"BTC-USDT"} and owned(b) == {"ETH-USDT", "ETH-BTC"})
        u = await make_trader(db, a.app.state.container.settings, {"USDT": "100000", "ETH": "1"})
        async with httpx.AsyncClient(timeout=30) as http:
            btc = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "40000", "quantity": "0.1"}
            eth = {"symbol": "ETH-USDT", "side": "sell", "type": "limit", "price": "3000", "quantity": "0.5"}
            r = await http.post(f"{b.url}/api/v1/trade/orders", headers=u.headers, json=btc)   # B -> A
            assert r.status_code == 201 and r.json()["status"] == "new", r.text
            r = await http.post(f"{a.url}/api/v1/trade/orders", headers=u.headers, json=eth)   # A -> B
            assert r.status_code == 201 and r.json()["status"] == "new", r.text
            # each order lives in its owner's engine only
            assert [o[3] for o in registry(a).engines[registry(a).by_symbol["BTC-USDT"].id].snapshot()] == [4000000]
            assert [o[3] for o in registry(b).engines[registry(b).by_symbol["ETH-USDT"].id].snapshot()] == [300000]
            for server in (a, b):
                opened = (await http.get(f"{server.url}/api/v1/trade/orders/open", headers=u.headers)).json()
                assert sorted(o["symbol"] for o in opened) == ["BTC-USDT", "ETH-USDT"]
            r = await http.delete(f"{a.url}/api/v1/trade/orders", headers=u.headers)
            assert r.status_code == 200, r.text
            assert sorted((o["symbol"], o["status"]) for o in r.json()) == [("BTC-USDT", "canceled"),
                                                                           ("ETH-USDT", "canceled")]
            assert (await http.get(f"{b.url}/api/v1/trade/orders/open", headers=u.headers)).json() == []
            assert registry(b).engines[registry(b).by_symbol["ETH-USDT"].id].snapshot() == []
        rows = await db.fetch("SELECT asset, available, locked FROM wallet.account WHERE user_id = $1", u.user_id)
        assert {r["asset"]: (r["available"], r["locked"]) for r in rows if r["asset"] in ("USDT", "ETH")} == {
            "USDT": (100000, 0), "ETH": (1, 0)}
    finally:
        if b is not None:
            b.stop()
        a.stop()
    await check_books(db)
