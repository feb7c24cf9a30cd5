"""Withdrawals through HTTP: verified email, 2FA, holds, every transition, failures, daily limit, races."""
import asyncio
from decimal import Decimal as D

from tests.e2e.wallet.helpers import assert_books_ok, enable_2fa, fresh_code, ledger_state, parts
from tests.support.factories import bearer, create_user, fund

BTC_ADDR = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
ETH_ADDR = "0x52908400098527886E0F7030069857D2E4169EE7"
URL = "/api/v1/wallet/withdrawals"


async def _bal(client, h, asset):
    return (await client.get(f"/api/v1/wallet/balances/{asset}", headers=h)).json()


async def test_an_unverified_email_cannot_withdraw_but_can_see_balances(wapp, wsettings, db):
    _, client = wapp
    user = await create_user(db, verified=False)
    await fund(db, user, "BTC", "1")
    h = bearer(wsettings, user)
    before = await ledger_state(db)
    r = await client.post(URL, json={"asset": "BTC", "address": BTC_ADDR, "amount": "0.1"}, headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "email_not_verified"
    assert await ledger_state(db) == before
    assert (await _bal(client, h, "BTC"))["available"] == "1"


async def test_2fa_code_is_required_checked_and_single_use(wapp, wsettings, db):
    _, client = wapp
    user = await create_user(db)
    await fund(db, user, "ETH", "10")
    secret = await enable_2fa(db, wsettings, user)
    h = bearer(wsettings, user)
    body = {"asset": "ETH", "address": ETH_ADDR, "amount": "1"}
    before = await ledger_state(db)
    for extra, code in (({}, "totp_required"), ({"totp_code": ""}, "totp_required"),
                        ({"totp_code": "12345"}, "invalid_totp"), ({"totp_code": "abcdef"}, "invalid_totp")):
        r = await client.post(URL, json={**body, **extra}, headers=h)
        assert r.status_code == 401 and r.json()["error"]["code"] == code
    assert await ledger_state(db) == before
    code = await fresh_code(db, user, secret)
    assert (await client.post(URL, json={**body, "totp_code": code}, headers=h)).status_code == 201
    r = await client.post(URL, json={**body, "totp_code": code}, headers=h)  # replayed code
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_totp"
    # a refused withdrawal does not burn the code: the same code works once the request is valid
    await db.execute("UPDATE auth.app_user SET totp_last_step = NULL WHERE id = $1", user)
    code = await fresh_code(db, user, secret)
    r = await client.post(URL, json={**body, "amount": "100", "totp_code": code}, headers=h)
    assert r.json()["error"]["code"] == "daily_limit_exceeded"
    assert (await client.post(URL, json={**body, "totp_code": code}, headers=h)).status_code == 201


async def test_hold_cancel_and_no_cancel_after_broadcast(wapp, wsettings, db):
    app, client = wapp
    user = await create_user(db)
    await fund(db, user, "USDT", "1000")
    h = bearer(wsettings, user)
    w = (await client.post(URL, json={"asset": "USDT", "address": ETH_ADDR, "amount": "100"}, headers=h)).json()
    assert w["status"] == "approved" and w["fee"] == "1" and w["total"] == "101"
    assert await _bal(client, h, "USDT") == {"asset": "USDT", "available": "899", "locked": "101", "total": "1000"}
    r = await client.post(f"{URL}/{w['id']}/cancel", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["finished_at"]
    assert await _bal(client, h, "USDT") == {"asset": "USDT", "available": "1000", "locked": "0", "total": "1000"}
    r = await client.post(f"{URL}/{w['id']}/cancel", headers=h)  # released exactly once
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_withdrawal_state"
    assert (await _bal(client, h, "USDT"))["available"] == "1000"

    w2 = (await client.post(URL, json={"asset": "USDT", "address": ETH_ADDR, "amount": "50"}, headers=h)).json()
    await parts(app).run_once()
    assert (await client.get(f"{URL}/{w2['id']}", headers=h)).json()["status"] == "broadcast"
    r = await client.post(f"{URL}/{w2['id']}/cancel", headers=h)
    assert r.status_code == 409 and "broadcast" in r.json()["error"]["message"]
    assert await _bal(client, h, "USDT") == {"asset": "USDT", "available": "949", "locked": "0", "total": "949"}
    await assert_books_ok(db)


async def test_admin_reject_releases_and_a_second_decision_is_refused(wapp, wsettings, db):
    _, client = wapp
    user, admin = await create_user(db), await create_user(db, role="admin")
    await fund(db, user, "BTC", "2")
    h, ha = bearer(wsettings, user), bearer(wsettings, admin, role="admin")
    w = (await client.post(URL, json={"asset": "BTC", "address": BTC_ADDR, "amount": "1.5"}, headers=h)).json()
    assert w["status"] == "requested"
    r = await client.post(f"/api/v1/wallet/admin/withdrawals/{w['id']}/reject", json={"reason": "unusual activity"},
                          headers=ha)
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["email"]
    assert (await _bal(client, h, "BTC"))["available"] == "2"
    for action, kw in (("approve", {}), ("reject", {"json": {"reason": "again"}})):
        r = await client.post(f"/api/v1/wallet/admin/withdrawals/{w['id']}/{action}", headers=ha, **kw)
        assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_withdrawal_state"
    r = await client.post("/api/v1/wallet/admin/withdrawals/987654/approve", headers=ha)
    assert r.status_code == 404 and r.json()["error"]["code"] == "withdrawal_not_found"
    r = await client.post(f"/api/v1/wallet/admin/withdrawals/{w['id']}/reject", json={"reason": ""}, headers=ha)
    assert r.status_code == 422
    mine = (await client.get(f"{URL}/{w['id']}", headers=h)).json()
    assert mine["status"] == "rejected" and mine["reason"] == "unusual activity"
    await assert_books_ok(db)


async def test_a_refused_broadcast_fails_the_withdrawal_and_releases_the_hold(wapp, wsettings, db):
    app, client = wapp
    user = await create_user(db)
    await fund(db, user, "ETH", "5")
    h = bearer(wsettings, user)
    await parts(app).chain.refuse_broadcasts("ethereum", "nonce too low")
    w = (await client.post(URL, json={"asset": "ETH", "address": ETH_ADDR, "amount": "2"}, headers=h)).json()
    result = await parts(app).run_once()
    assert result["withdrawals"]["failed"] == 1
    failed = (await client.get(f"{URL}/{w['id']}", headers=h)).json()
    assert failed["status"] == "failed" and "nonce too low" in failed["reason"] and failed["txid"] is None
    assert await _bal(client, h, "ETH") == {"asset": "ETH", "available": "5", "locked": "0", "total": "5"}
    # failed withdrawals do not count toward the daily limit
    await parts(app).chain.refuse_broadcasts("ethereum", None)
    r = await client.post(URL, json={"asset": "ETH", "address": ETH_ADDR, "amount": "4.9995"}, headers=h)
    assert r.status_code == 201
    assert (await parts(app).run_once())["withdrawals"]["broadcast"] == 1
    assert await _bal(client, h, "ETH") == {"asset": "ETH", "available": "0", "locked": "0", "total": "0"}
    await assert_books_ok(db)


async def test_daily_limit_counts_the_last_24_hours_except_released_ones(wapp, wsettings, db):
    _, client = wapp
    user = await create_user(db)
    await fund(db, user, "BTC", "20")
    h = bearer(wsettings, user)
    for amount in ("0.5", "0.5", "0.5"):
        assert (await client.post(URL, json={"asset": "BTC", "address": BTC_ADDR, "amount": amount},
                                  headers=h)).status_code == 201
    w = (await client.post(URL, json={"asset": "BTC", "address": BTC_ADDR, "amount": "3.5"}, headers=h)).json()
    assert w["status"] == "requested"  # 1.5 + 3.5 = 5: exactly at the limit
    r = await client.post(URL, json={"asset": "BTC", "address": BTC_ADDR, "amount": "0.0001"}, headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "daily_limit_exceeded"
    assert r.json()["error"]["details"]["remaining"] == "0"
    await client.post(f"{URL}/{w['id']}/cancel", headers=h)  # cancelled: no longer counts
    assert (await client.post(URL, json={"asset": "BTC", "address": BTC_ADDR, "amount": "3.5"},
                              headers=h)).status_code == 201
    # withdrawals older than 24 hours no longer count
    await db.execute("UPDATE wallet.withdrawal SET requested_at = now() - interval '25 hours' WHERE user_id = $1", user)
    assert (await client.post(URL, json={"asset": "BTC", "address": BTC_ADDR, "amount": "5"},
                              headers=h)).status_code == 201


async def test_listing_and_paging_my_withdrawals(wapp, wsettings, db):
    _, client = wapp
    user = await create_user(db)
    await fund(db, user, "USDT", "10000")
    h = bearer(wsettings, user)
    ids = []
    for i in range(5):
        ids.append((await client.post(URL, json={"asset": "USDT", "address": ETH_ADDR, "amount": f"{10 + i}"},
                                      headers=h)).json()["id"])
    page1 = (await client.get(f"{URL}?limit=2", headers=h)).json()
    page2 = (await client.get(f"{URL}?limit=2&cursor={page1['next_cursor']}", headers=h)).json()
    page3 = (await client.get(f"{URL}?limit=2&cursor={page2['next_cursor']}", headers=h)).json()
    assert [w["id"] for w in page1["items"] + page2["items"] + page3["items"]] == ids[::-1]
    assert page3["next_cursor"] is None
    assert (await client.get(f"{URL}?status=approved&asset=usdt", headers=h)).json()["items"][0]["amount"] == "14"
    assert (await client.get(f"{URL}?status=bogus", headers=h)).status_code == 422
    assert (await client.get(f"{URL}?cursor=-3", headers=h)).json()["error"]["code"] == "invalid_cursor"


async def test_100_concurrent_http_withdrawals_for_one_balance(wapp, wsettings, db):
    _, client = wapp
    user = await create_user(db)
    await fund(db, user, "ETH", "3.0005")  # exactly one withdrawal of 3 ETH + 0.0005 fee
    h = bearer(wsettings, user)
    responses = await asyncio.gather(*(client.post(URL, json={"asset": "ETH", "address": ETH_ADDR, "amount": "3"},
                                                   headers=h) for _ in range(100)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [400] * 99, codes
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 400} == {"insufficient_funds"}
    assert await _bal(client, h, "ETH") == {"asset": "ETH", "available": "0", "locked": "3.0005", "total": "3.0005"}
    await assert_books_ok(db)
    assert D((await _bal(client, h, "ETH"))["locked"]) == D("3.0005")


async def test_the_auto_approve_threshold_is_configurable_per_asset_without_a_restart(wapp, wsettings, db):
    """docs/wallet.md: an operator changes `wallet.asset.withdrawal_auto_approve_max`; the next request uses it."""
    _, client = wapp
    user = await create_user(db)
    await fund(db, user, "BTC", "5")
    h = bearer(wsettings, user)
    body = {"asset": "BTC", "address": BTC_ADDR, "amount": "0.8"}
    assert (await client.post(URL, json=body, headers=h)).json()["status"] == "requested"   # seed: 0.5 BTC
    await db.execute("UPDATE wallet.asset SET withdrawal_auto_approve_max = 1 WHERE code = 'BTC'")
    assert (await client.post(URL, json=body, headers=h)).json()["status"] == "approved"
    assets = {a["asset"]: a for a in (await client.get("/api/v1/wallet/assets")).json()["assets"]}
    assert assets["BTC"]["withdrawal_auto_approve_max"] == "1"
    await db.execute("UPDATE wallet.asset SET withdrawal_auto_approve_max = 0 WHERE code = 'BTC'")   # all by an admin
    r = await client.post(URL, json={**body, "amount": "0.0001"}, headers=h)
    assert r.json()["status"] == "requested", r.text
    await assert_books_ok(db)
