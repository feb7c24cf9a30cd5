"""User A can never read or change user B's balances, deposits or withdrawals; admin routes are admin-only."""
import pytest

from tests.e2e.wallet.helpers import ledger_state, parts
from tests.support.factories import bearer, create_user, fund

BTC_ADDR = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


@pytest.fixture
async def two_users(wapp, wsettings, db):
    app, client = wapp
    a, b = await create_user(db), await create_user(db)
    await fund(db, a, "BTC", "1")
    await fund(db, b, "BTC", "2")
    w = await client.post("/api/v1/wallet/withdrawals", json={"asset": "BTC", "address": BTC_ADDR, "amount": "0.7"},
                          headers=bearer(wsettings, b))
    assert w.status_code == 201
    address = (await client.get("/api/v1/wallet/deposit-address/BTC", headers=bearer(wsettings, b))).json()["address"]
    await parts(app).chain.send("BTC", address, __import__("decimal").Decimal("0.3"))
    await parts(app).run_once()
    deposit_id = await db.fetchval("SELECT id FROM wallet.deposit WHERE user_id = $1", b)
    return client, bearer(wsettings, a), bearer(wsettings, b), w.json()["id"], deposit_id, a, b


async def test_a_sees_only_their_own_money(two_users):
    client, ha, hb, wid, did, a, b = two_users
    assert {x["asset"]: x["total"] for x in (await client.get("/api/v1/wallet/balances", headers=ha)).json()["balances"]}["BTC"] == "1"
    assert (await client.get("/api/v1/wallet/balances/BTC", headers=hb)).json()["total"] == "2"
    assert (await client.get("/api/v1/wallet/withdrawals", headers=ha)).json()["items"] == []
    assert (await client.get("/api/v1/wallet/deposits", headers=ha)).json()["items"] == []
    history = (await client.get("/api/v1/wallet/history", headers=ha)).json()["items"]
    assert all(not i["reference"].startswith(("withdrawal:", "deposit:")) for i in history)
    csv_text = (await client.get("/api/v1/wallet/history.csv", headers=ha)).text
    assert "withdrawal" not in csv_text and "deposit:" not in csv_text


async def test_a_cannot_read_or_cancel_bs_withdrawal_or_read_bs_deposit(two_users, db):
    client, ha, hb, wid, did, a, b = two_users
    before = await ledger_state(db)
    for method, path in (("GET", f"/api/v1/wallet/withdrawals/{wid}"), ("POST", f"/api/v1/wallet/withdrawals/{wid}/cancel"),
                         ("GET", f"/api/v1/wallet/deposits/{did}")):
        r = await client.request(method, path, headers=ha)
        assert r.status_code == 404, (path, r.text)  # not 403: do not even confirm it exists
        assert r.json()["error"]["code"] in ("withdrawal_not_found", "deposit_not_found")
    assert await ledger_state(db) == before
    assert (await client.get(f"/api/v1/wallet/withdrawals/{wid}", headers=hb)).status_code == 200
    assert (await client.get(f"/api/v1/wallet/deposits/{did}", headers=hb)).status_code == 200


async def test_admin_routes_refuse_users(two_users, db):
    client, ha, hb, wid, did, a, b = two_users
    before = await ledger_state(db)
    for method, path in (("GET", "/api/v1/wallet/admin/withdrawals"),
                         ("POST", f"/api/v1/wallet/admin/withdrawals/{wid}/approve"),
                         ("POST", f"/api/v1/wallet/admin/withdrawals/{wid}/reject"),
                         ("GET", f"/api/v1/wallet/admin/users/{b}/balances"),
                         ("GET", f"/api/v1/wallet/admin/users/{b}/history")):
        kwargs = {"json": {"reason": "x"}} if path.endswith("reject") else {}
        r = await client.request(method, path, headers=hb, **kwargs)
        assert r.status_code == 403 and r.json()["error"]["code"] == "admin_required", path
    assert await ledger_state(db) == before


async def test_everything_needs_authentication(wapp):
    _, client = wapp
    for method, path in (("GET", "/api/v1/wallet/balances"), ("GET", "/api/v1/wallet/balances/BTC"),
                         ("GET", "/api/v1/wallet/deposit-address/BTC"), ("GET", "/api/v1/wallet/deposits"),
                         ("GET", "/api/v1/wallet/withdrawals"), ("POST", "/api/v1/wallet/withdrawals"),
                         ("POST", "/api/v1/wallet/withdrawals/1/cancel"), ("GET", "/api/v1/wallet/history"),
                         ("GET", "/api/v1/wallet/history.csv"), ("POST", "/api/v1/wallet/faucet"),
                         ("GET", "/api/v1/wallet/admin/withdrawals")):
        r = await client.request(method, path, json={})
        assert r.status_code in (401, 422), path
        if r.status_code == 422:  # body validation may run first; it must still not reach the service
            r = await client.request(method, path)
        assert r.status_code in (401, 422)
    r = await client.get("/api/v1/wallet/balances", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    assert (await client.get("/api/v1/wallet/assets")).status_code == 200  # public


async def test_an_admin_cannot_approve_their_own_withdrawal(wapp, wsettings, db):
    _, client = wapp
    admin = await create_user(db, role="admin")
    await fund(db, admin, "BTC", "3")
    h = bearer(wsettings, admin, role="admin")
    w = (await client.post("/api/v1/wallet/withdrawals", json={"asset": "BTC", "address": BTC_ADDR, "amount": "2"},
                           headers=h)).json()
    r = await client.post(f"/api/v1/wallet/admin/withdrawals/{w['id']}/approve", headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "self_approval_forbidden"
    other = await create_user(db, role="admin")
    r = await client.post(f"/api/v1/wallet/admin/withdrawals/{w['id']}/approve",
                          headers=bearer(wsettings, other, role="admin"))
    assert r.status_code == 200 and r.json()["status"] == "approved"


async def test_admin_lookups_are_audited(two_users, wsettings, db):
    client, ha, hb, wid, did, a, b = two_users
    admin = await create_user(db, role="admin")
    h = bearer(wsettings, admin, role="admin")
    r = await client.get(f"/api/v1/wallet/admin/users/{b}/balances", headers={**h, "User-Agent": "ops-console"})
    assert r.status_code == 200 and {x["asset"]: x["total"] for x in r.json()["balances"]}["BTC"] == "2"  # the 0.3 deposit is still pending
    r = await client.get(f"/api/v1/wallet/admin/users/{b}/history?type=withdrawal", headers=h)
    assert [i["amount"] for i in r.json()["items"]] == ["-0.7"]
    assert (await client.get("/api/v1/wallet/admin/users/999999/balances", headers=h)).status_code == 404
    r = await client.post(f"/api/v1/wallet/admin/withdrawals/{wid}/reject", json={"reason": "kyc"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["reason"] == "kyc"
    events = await db.fetch("SELECT event, user_id, user_agent, details FROM auth.audit_log WHERE actor_user_id = $1 "
                            "ORDER BY id", admin)
    assert [(e["event"], e["user_id"]) for e in events] == [
        ("admin_viewed_balances", b), ("admin_viewed_history", b), ("withdrawal_rejected", b)]
    assert events[0]["user_agent"] == "ops-console" and events[2]["details"]["reason"] == "kyc"
