"""Two trade replicas on one database: a replica that owns no market (TRADE_ENGINES=false) forwards signed
/api/v3 order commands to the owner unchanged (the owner verifies the signature again) and answers reads
from the database. Driven with the real ccxt client, checked against the ledger."""
from __future__ import annotations

from decimal import Decimal as D

import ccxt
import httpx

from tests.conftest import LiveServer
from tests.e2e.compat.kit import ccxt_config, key_user, ledger
from tests.e2e.trading.kit import check_books


async def test_api_only_replica_forwards_orders_to_the_owner(settings, db):
    owner = LiveServer(settings).start()
    api_only = LiveServer(settings.model_copy(update={"trade_engines": False})).start()
    try:
        async with httpx.AsyncClient(base_url=api_only.url) as client:
            seller = await key_user(client, db, settings, {"BTC": "1"})
            buyer = await key_user(client, db, settings, {"USDT": "100000"})
        s = ccxt.binance(ccxt_config(api_only.url, seller))
        b = ccxt.binance(ccxt_config(api_only.url, buyer))
        s.load_markets()
        b.load_markets()
        ask = s.create_order("BTC/USDT", "limit", "sell", 0.5, 50000)
        assert ask["status"] == "open"
        fill = b.create_order("BTC/USDT", "market", "buy", 0.2)
        assert (fill["status"], fill["filled"], fill["cost"], fill["fee"]["cost"]) == ("closed", 0.2, 10000, 10)
        # reads on the non-owner come from the database
        assert s.fetch_order(ask["id"], "BTC/USDT")["filled"] == 0.2
        assert [t["id"] for t in b.fetch_my_trades("BTC/USDT")] == [fill["trades"][0]["id"]]
        assert s.cancel_order(ask["id"], "BTC/USDT")["status"] == "canceled"
        s.create_order("BTC/USDT", "limit", "sell", 0.1, 52000)
        assert [o["status"] for o in s.cancel_all_orders("BTC/USDT")] == ["canceled"]
        assert await ledger(db, seller.user_id) == {"BTC": (D("0.8"), D(0)), "USDT": (D(10000) - D(8), D(0))}
        bal = b.fetch_balance()
        assert (bal["BTC"]["free"], bal["USDT"]["free"]) == (0.2, 100000 - 10010)
        # the owner served the commands: its engine holds the market
        async with httpx.AsyncClient(base_url=owner.url) as client:
            r = await client.get("/api/v3/trades?symbol=BTCUSDT")
            assert [t["id"] for t in r.json()] == [int(fill["trades"][0]["id"])]
    finally:
        api_only.stop()
        owner.stop()
    await check_books(db)


async def test_the_trade_service_alone_serves_api_v3(client, db, settings):
    """`mycrypto serve trade` (no auth or wallet routers in the process) still authenticates signed
    requests and reads balances: the adapter depends on their modules, not on their HTTP services."""
    from asgi_lifespan import LifespanManager

    from mycrypto.apps import create_app
    from tests.e2e.compat.kit import binance_error, sget

    user = await key_user(client, db, settings, {"USDT": "123"})   # key made through the all-in-one app
    trade_only = create_app(settings.model_copy(update={"trade_engines": False}), services=("trade",),
                            access_log=False)
    async with LifespanManager(trade_only, startup_timeout=60, shutdown_timeout=60):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=trade_only), base_url="http://t") as c:
            assert (await c.get("/api/v3/ping")).json() == {}
            assert [s["symbol"] for s in (await c.get("/api/v3/exchangeInfo")).json()["symbols"]] == [
                "BTCUSDT", "ETHUSDT", "ETHBTC"]
            account = (await sget(c, user, "account")).json()
            assert {b["asset"]: b["free"] for b in account["balances"]}["USDT"] == "123.00000000"
            binance_error(await sget(c, user, "account", secret="wrong"), -1022, 400)
            binance_error(await c.get("/sapi/v1/account/status"), -1020, 404)
