"""The development faucet: capped, recorded as a balanced 'faucet' posting, never in production."""
from tests.e2e.wallet.helpers import assert_books_ok, ledger_state, started_app, wallet_settings
from tests.support.factories import bearer, create_user


async def test_faucet_grants_capped_test_funds(wapp, wsettings, db):
    _, client = wapp
    user = await create_user(db, verified=False)  # a newcomer: one click, no email round trip needed
    h = bearer(wsettings, user)
    r = await client.post("/api/v1/wallet/faucet", json={"asset": "BTC"}, headers=h)
    assert r.status_code == 200 and r.json()["amount"] == "1" and r.json()["balance"]["available"] == "1"
    r = await client.post("/api/v1/wallet/faucet", json={"asset": "usdt", "amount": "123.45"}, headers=h)
    assert r.status_code == 200 and r.json()["balance"]["total"] == "123.45"
    before = await ledger_state(db)
    for body, code in (({"asset": "BTC", "amount": "1.1"}, "faucet_limit"), ({"asset": "BTC", "amount": "-1"}, "invalid_amount"),
                       ({"asset": "BTC", "amount": "1e0"}, "invalid_amount"),
                       ({"asset": "BTC", "amount": "1\n"}, "invalid_amount"), ({"asset": "BTC", "amount": 1}, "invalid_amount"),
                       ({"asset": "USDT", "amount": 2**64}, "invalid_amount"), ({"asset": "XYZ"}, "unknown_asset"),
                       ({"asset": "ETH", "amount": "0.000000001"}, "amount_precision")):
        r = await client.post("/api/v1/wallet/faucet", json=body, headers=h)
        assert 400 <= r.status_code < 500 and r.json()["error"]["code"] == code
    assert await ledger_state(db) == before
    kinds = await db.fetch("SELECT kind::text FROM wallet.posting WHERE ref_type = 'faucet'")
    assert [k["kind"] for k in kinds] == ["faucet", "faucet"]
    await assert_books_ok(db)


async def test_faucet_is_refused_when_disabled_or_in_production(db_dsn, db):
    for overrides in ({"faucet_enabled": False}, {"env": "production"}):
        settings = wallet_settings(db_dsn, **overrides)
        async for _, client in started_app(settings):
            user = await create_user(db)
            before = await ledger_state(db)
            r = await client.post("/api/v1/wallet/faucet", json={"asset": "BTC"}, headers=bearer(settings, user))
            assert r.status_code == 403 and r.json()["error"]["code"] == "faucet_disabled"
            assert await ledger_state(db) == before


async def test_development_deposit_helper_has_the_real_bounds(client, db, settings):
    """Issue 11: POST /web/dev/deposit credited 18446744073709551616 USDT. Refused now (422
    simulated_deposit_too_large; a JSON number is invalid_amount), and nothing is sent or credited."""
    user = await create_user(db)
    h = bearer(settings, user)
    address = (await client.get("/api/v1/wallet/deposit-address/USDT", headers=h)).json()["address"]
    before = await ledger_state(db)
    for amount, code in (("18446744073709551616", "simulated_deposit_too_large"),
                         ("200000000000.000001", "simulated_deposit_too_large"),
                         (18446744073709551616, "invalid_amount"), ("10\n", "invalid_amount")):
        r = await client.post("/web/dev/deposit", json={"asset": "USDT", "address": address, "amount": amount},
                              headers=h)
        assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
    assert await db.fetchval("SELECT count(*) FROM chainsim.transfer") == 0
    assert await db.fetchval("SELECT count(*) FROM wallet.deposit") == 0
    assert await ledger_state(db) == before
    r = await client.post("/web/dev/deposit", json={"asset": "USDT", "address": address, "amount": "25"}, headers=h)
    assert r.status_code == 201 and r.json()["amount"] == "25"
