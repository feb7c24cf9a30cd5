"""Deposits through HTTP: addresses per user and asset, pending with confirmations, background watcher."""
import asyncio
import re
from decimal import Decimal as D

from tests.e2e.wallet.helpers import assert_books_ok, parts, started_app, wallet_settings
from tests.support.factories import bearer, create_user


async def test_addresses_per_user_and_asset_match_the_asset_format(wapp, wsettings, db):
    _, client = wapp
    users = [await create_user(db) for _ in range(2)]
    seen = set()
    for user in users:
        h = bearer(wsettings, user)
        mine = {}
        for asset, pattern in (("BTC", r"^bcrt1q[02-9ac-hj-np-z]{38}$"), ("ETH", r"^0x[0-9a-f]{40}$"),
                               ("USDT", r"^0x[0-9a-f]{40}$")):
            r = await client.get(f"/api/v1/wallet/deposit-address/{asset}", headers=h)
            assert r.status_code == 200
            assert re.match(pattern, r.json()["address"]) and r.json()["asset"] == asset
            mine[asset] = r.json()["address"]
        assert mine["ETH"] == mine["USDT"]  # one address per user and chain (asset family)
        seen |= set(mine.values())
    assert len(seen) == 4  # ... and users never share one


async def test_concurrent_first_requests_agree_on_one_address(wapp, wsettings, db):
    _, client = wapp
    user = await create_user(db)
    h = bearer(wsettings, user)
    rs = await asyncio.gather(*(client.get("/api/v1/wallet/deposit-address/ETH", headers=h) for _ in range(10)))
    assert len({r.json()["address"] for r in rs}) == 1
    assert await db.fetchval("SELECT count(*) FROM wallet.deposit_address WHERE user_id = $1", user) == 1


async def test_unverified_users_are_credited_and_see_pending_deposits(wapp, wsettings, db):
    app, client = wapp
    user = await create_user(db, verified=False)
    h = bearer(wsettings, user)
    address = (await client.get("/api/v1/wallet/deposit-address/USDT", headers=h)).json()["address"]
    sim = parts(app).chain
    await sim.send("USDT", address, D("250.75"))
    await sim.send("USDT", address, D("0.00000001"))
    await parts(app).run_once()
    page = (await client.get("/api/v1/wallet/deposits?status=pending", headers=h)).json()
    assert sorted(d["amount"] for d in page["items"]) == ["0.00000001", "250.75"]
    assert all(d["confirmations"] == 0 and d["confirmations_required"] == 3 for d in page["items"])
    await sim.mine(3)
    await parts(app).run_once()
    assert (await client.get("/api/v1/wallet/deposits?status=pending", headers=h)).json()["items"] == []
    assert (await client.get("/api/v1/wallet/balances/USDT", headers=h)).json()["available"] == "250.75000001"
    outbox = await db.fetch("SELECT payload FROM ops.outbox WHERE topic = 'wallet.deposit_credited'")
    assert sorted(o["payload"]["amount"] for o in outbox) == ["0.00000001", "250.75"]
    await assert_books_ok(db)


async def test_the_background_watcher_credits_without_anyone_calling_it(db_dsn, db):
    settings = wallet_settings(db_dsn, wallet_watch_interval_s=0.2)
    async for app, client in started_app(settings):
        user = await create_user(db)
        h = bearer(settings, user)
        address = (await client.get("/api/v1/wallet/deposit-address/BTC", headers=h)).json()["address"]
        await parts(app).chain.send("BTC", address, D("0.42"))
        await parts(app).chain.mine(2)
        for _ in range(100):
            if (await client.get("/api/v1/wallet/balances/BTC", headers=h)).json()["available"] == "0.42":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the background watcher did not credit the deposit")
        # and it broadcasts approved withdrawals by itself too
        r = await client.post("/api/v1/wallet/withdrawals", headers=h,
                              json={"asset": "BTC", "address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                                    "amount": "0.2"})
        for _ in range(100):
            if (await client.get(f"/api/v1/wallet/withdrawals/{r.json()['id']}", headers=h)).json()["txid"]:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the background processor did not broadcast")
    await assert_books_ok(db)


async def test_no_chain_adapter_means_503_for_new_addresses(db_dsn, db):
    settings = wallet_settings(db_dsn, chain_simulator=False)
    async for app, client in started_app(settings):
        user = await create_user(db)
        r = await client.get("/api/v1/wallet/deposit-address/BTC", headers=bearer(settings, user))
        assert r.status_code == 503 and r.json()["error"]["code"] == "chain_unavailable"
        assert parts(app).watcher is None and parts(app).processor is None


async def test_assets_are_public_with_their_rules(wapp):
    _, client = wapp
    assets = {a["asset"]: a for a in (await client.get("/api/v1/wallet/assets")).json()["assets"]}
    assert set(assets) >= {"BTC", "ETH", "USDT"}
    assert assets["BTC"]["withdrawal_fee"] == "0.00002" and assets["BTC"]["decimals"] == 8
    assert assets["USDT"]["confirmations_required"] == 3 and assets["USDT"]["min_withdrawal"] == "10"
