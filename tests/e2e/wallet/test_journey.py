"""The issue's "done when", end to end through HTTP and the real `mycrypto` command.

A user deposits via the simulator (CLI subprocess), sees it pending with its confirmations, then
credited; withdraws with 2FA; an admin approves a large withdrawal; the processor broadcasts both and
the watcher confirms them; history and CSV show everything; `mycrypto verify` passes (as a
subprocess too, text and JSON).
"""
import csv
import io
import json
from decimal import Decimal

from tests.e2e.wallet.helpers import assert_books_ok, enable_2fa, fresh_code, parts, run_cli
from tests.support.factories import bearer, create_user


async def test_deposit_withdraw_approve_history_verify(wapp, wsettings, db, db_dsn):
    app, client = wapp
    user = await create_user(db)
    admin = await create_user(db, role="admin")
    h, ha = bearer(wsettings, user), bearer(wsettings, admin, role="admin")

    # --- deposit address, then 2.5 BTC sent from outside with the simulator CLI
    r = await client.get("/api/v1/wallet/deposit-address/BTC", headers=h)
    assert r.status_code == 200, r.text
    address = r.json()["address"]
    assert address.startswith("bcrt1q") and r.json()["confirmations_required"] == 2
    again = await client.get("/api/v1/wallet/deposit-address/BTC", headers=h)
    assert again.json()["address"] == address  # one address per user and asset

    cli = run_cli("chain", "send", "--to", address, "--asset", "BTC", "--amount", "2.5", dsn=db_dsn)
    assert cli.returncode == 0, cli.stderr
    assert "0 confirmations" in cli.stdout

    await parts(app).run_once()
    deposits = (await client.get("/api/v1/wallet/deposits", headers=h)).json()["items"]
    assert len(deposits) == 1
    assert deposits[0]["status"] == "pending" and deposits[0]["confirmations"] == 0
    assert deposits[0]["amount"] == "2.5" and deposits[0]["confirmations_required"] == 2
    assert (await client.get("/api/v1/wallet/balances/BTC", headers=h)).json()["total"] == "0"

    assert run_cli("chain", "mine", "1", dsn=db_dsn).returncode == 0
    await parts(app).run_once()
    dep = (await client.get(f"/api/v1/wallet/deposits/{deposits[0]['id']}", headers=h)).json()
    assert dep["status"] == "pending" and dep["confirmations"] == 1

    assert run_cli("chain", "mine", "1", dsn=db_dsn).returncode == 0
    await parts(app).run_once()
    await parts(app).run_once()  # scanning again must not credit twice
    dep = (await client.get(f"/api/v1/wallet/deposits/{deposits[0]['id']}", headers=h)).json()
    assert dep["status"] == "credited" and dep["confirmations"] == 2 and dep["credited_at"]
    bal = (await client.get("/api/v1/wallet/balances/BTC", headers=h)).json()
    assert bal == {"asset": "BTC", "available": "2.5", "locked": "0", "total": "2.5"}

    # --- withdraw with 2FA: small one is auto-approved, large one waits for an admin
    secret = await enable_2fa(db, wsettings, user)
    dest = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    body = {"asset": "BTC", "address": dest, "amount": "0.1"}
    r = await client.post("/api/v1/wallet/withdrawals", json=body, headers=h)
    assert r.status_code == 401 and r.json()["error"]["code"] == "totp_required"
    r = await client.post("/api/v1/wallet/withdrawals", json={**body, "totp_code": "000000"}, headers=h)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_totp"
    r = await client.post("/api/v1/wallet/withdrawals", headers={**h, "Idempotency-Key": "small-1"},
                          json={**body, "totp_code": await fresh_code(db, user, secret)})
    assert r.status_code == 201, r.text
    small = r.json()
    assert small["status"] == "approved" and small["fee"] == "0.00002" and small["total"] == "0.10002"

    big_body = {"asset": "BTC", "address": dest, "amount": "1.2", "totp_code": await fresh_code(db, user, secret)}
    r = await client.post("/api/v1/wallet/withdrawals", json=big_body, headers=h)
    assert r.status_code == 201, r.text
    big = r.json()
    assert big["status"] == "requested"  # above the 0.5 BTC auto-approve threshold
    bal = (await client.get("/api/v1/wallet/balances/BTC", headers=h)).json()
    assert bal == {"asset": "BTC", "available": "1.19996", "locked": "1.30004", "total": "2.5"}

    # the processor broadcasts only the approved one
    await parts(app).run_once()
    r = await client.get(f"/api/v1/wallet/withdrawals/{small['id']}", headers=h)
    assert r.json().get("status") == "broadcast", r.text
    assert (await client.get(f"/api/v1/wallet/withdrawals/{big['id']}", headers=h)).json()["status"] == "requested"

    # --- the admin sees the pending one, approves it; it is broadcast and both confirm
    listed = (await client.get("/api/v1/wallet/admin/withdrawals?status=requested", headers=ha)).json()["items"]
    assert [w["id"] for w in listed] == [big["id"]] and listed[0]["user_id"] == user
    r = await client.post(f"/api/v1/wallet/admin/withdrawals/{big['id']}/approve", headers=ha)
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["approved_by"] == admin
    await parts(app).run_once()
    big_now = (await client.get(f"/api/v1/wallet/withdrawals/{big['id']}", headers=h)).json()
    assert big_now["status"] == "broadcast" and big_now["txid"]
    assert run_cli("chain", "mine", "2", dsn=db_dsn).returncode == 0
    await parts(app).run_once()
    for wid in (small["id"], big["id"]):
        assert (await client.get(f"/api/v1/wallet/withdrawals/{wid}", headers=h)).json()["status"] == "confirmed"
    bal = (await client.get("/api/v1/wallet/balances/BTC", headers=h)).json()
    assert bal == {"asset": "BTC", "available": "1.19996", "locked": "0", "total": "1.19996"}
    audit = await db.fetch("SELECT event FROM auth.audit_log WHERE actor_user_id = $1 ORDER BY id", admin)
    assert [a["event"] for a in audit] == ["admin_listed_withdrawals", "withdrawal_approved"]

    # --- history shows it all; CSV too, with plain decimal amounts
    items = (await client.get("/api/v1/wallet/history", headers=h)).json()["items"]
    seen = sorted((i["type"], i["amount"], i["status"]) for i in items)
    assert seen == sorted([("deposit", "2.5", "credited"), ("withdrawal", "-0.1", "confirmed"),
                           ("fee", "-0.00002", "confirmed"), ("withdrawal", "-1.2", "confirmed"),
                           ("fee", "-0.00002", "confirmed")])
    assert sum(Decimal(i["amount"]) for i in items) == Decimal("1.19996")
    r = await client.get("/api/v1/wallet/history.csv", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted((x["type"], x["amount"]) for x in rows) == sorted((t, a) for t, a, _ in seen)
    assert all("e" not in x["amount"].lower() for x in rows)

    # --- the books verify, in-process and through the real command
    await assert_books_ok(db)
    cli = run_cli("verify", dsn=db_dsn)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "RESULT: OK" in cli.stdout
    cli = run_cli("verify", "--json", dsn=db_dsn)
    report = json.loads(cli.stdout)
    assert cli.returncode == 0 and report["ok"] is True
    assert report["summary"]["assets"]["BTC"]["chain_out"] == "1.3"
    assert report["summary"]["assets"]["BTC"]["fees"] == "0.00004"
