"""Registration, email verification, login, refresh rotation, logout and sessions through HTTP
(embedded mail mode: emails land in the dev mailbox under the test's data dir)."""
from __future__ import annotations


from mycrypto.notify.mailbox import read_mailbox
from tests.e2e.auth.helpers import (PASSWORD, bearer, eventually, login, register_verified, token_from_link,
                                    wait_for_links)



async def _drain(client) -> None:
    await client._transport.app.state.container.outbox_relay.run_once()


async def test_register_writes_user_token_and_email_atomically(auth_client, auth_settings, db):
    r = await auth_client.post("/api/v1/auth/register", json={"email": "  Alice@Example.COM ", "password": PASSWORD})
    assert r.status_code == 202
    assert r.json()["status"] == "accepted"
    user = await db.fetchrow("SELECT id, email, email_verified_at, password_hash FROM auth.app_user")
    assert user["email"] == "alice@example.com" and user["email_verified_at"] is None
    assert user["password_hash"].startswith("$argon2id$")
    token = await db.fetchrow("SELECT token_hash, expires_at, used_at FROM auth.email_token WHERE user_id = $1",
                              user["id"])
    assert token is not None and len(token["token_hash"]) == 32 and token["used_at"] is None
    row = await db.fetchrow("SELECT topic, payload FROM ops.outbox")
    assert row["topic"] == "email.verify_email" and row["payload"]["to"] == "alice@example.com"
    assert "token" not in str(row["payload"]["vars"]) and row["payload"]["sealed"].startswith("v2.default.")
    events = [r["event"] for r in await db.fetch("SELECT event FROM auth.audit_log")]
    assert events == ["register"]


async def test_email_link_verifies_in_a_browser_and_is_idempotent(auth_client, auth_settings, db):
    await auth_client.post("/api/v1/auth/register", json={"email": "bob@example.com", "password": PASSWORD})
    [link] = await wait_for_links(auth_client, auth_settings, "bob@example.com", "/verify-email")
    assert link.startswith(auth_settings.base_url + "/api/v1/auth/verify-email?token=")
    path = link[len(auth_settings.base_url):]
    r = await auth_client.get(path, headers={"Accept": "text/html"})
    assert r.status_code == 200 and "Email confirmed" in r.text and "text/html" in r.headers["content-type"]
    assert await db.fetchval("SELECT email_verified_at IS NOT NULL FROM auth.app_user") is True
    again = await auth_client.get(path)  # link scanners / double clicks
    assert again.status_code == 200 and again.json() == {"status": "already_verified"}
    bad = await auth_client.get("/api/v1/auth/verify-email?token=ev_not-a-real-token-at-all")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_email_token"
    bad_html = await auth_client.get("/api/v1/auth/verify-email?token=ev_nope-nope-nope",
                                     headers={"Accept": "text/html"})
    assert bad_html.status_code == 400 and "invalid_email_token" in bad_html.text


async def test_existing_email_gets_same_answer_and_owner_is_told(auth_client, auth_settings, db):
    await register_verified(auth_client, auth_settings, "carol@example.com")
    r = await auth_client.post("/api/v1/auth/register",
                               json={"email": "CAROL@example.com", "password": "another-long-passphrase-9"})
    assert r.status_code == 202
    assert await db.fetchval("SELECT count(*) FROM auth.app_user") == 1
    async def told() -> bool:
        await _drain(auth_client)
        return any("tried to sign up" in m["subject"] for m in read_mailbox(auth_settings.data_dir / "mailbox")
                   if "carol" in m["to"])
    assert await eventually(told)
    # the password of the existing account did not change
    await login(auth_client, "carol@example.com")


async def test_unverified_user_can_log_in_but_is_marked_unverified(auth_client):
    await auth_client.post("/api/v1/auth/register", json={"email": "dan@example.com", "password": PASSWORD})
    tokens = await login(auth_client, "dan@example.com")
    assert tokens["user"]["email_verified"] is False
    me = await auth_client.get("/api/v1/auth/me", headers=bearer(tokens))
    assert me.status_code == 200 and me.json()["email"] == "dan@example.com"
    assert me.json()["email_verified"] is False


async def test_resend_verification(auth_client, auth_settings):
    await auth_client.post("/api/v1/auth/register", json={"email": "erin@example.com", "password": PASSWORD})
    r = await auth_client.post("/api/v1/auth/resend-verification", json={"email": "erin@example.com"})
    assert r.status_code == 202
    r2 = await auth_client.post("/api/v1/auth/resend-verification", json={"email": "nobody@example.com"})
    assert r2.status_code == 202 and r2.json() == r.json()
    links = await wait_for_links(auth_client, auth_settings, "erin@example.com", "/verify-email", count=2)
    assert len(links) == 2
    r = await auth_client.post("/api/v1/auth/verify-email", json={"token": token_from_link(links[0])})
    assert r.status_code == 200


async def test_registration_disabled(db_dsn, tmp_path):
    import httpx
    from asgi_lifespan import LifespanManager

    from mycrypto.apps import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(db_dsn, data_dir=tmp_path, registration_enabled=False), access_log=False)
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await c.post("/api/v1/auth/register", json={"email": "x@example.com", "password": PASSWORD})
    assert r.status_code == 403 and r.json()["error"]["code"] == "registration_disabled"


async def test_login_refresh_rotation_and_reuse_revokes_the_family(auth_client, auth_settings, db):
    await register_verified(auth_client, auth_settings, "fay@example.com")
    t1 = await login(auth_client, "fay@example.com")
    assert t1["token_type"] == "Bearer" and t1["refresh_token"].startswith("rt_")
    r = await auth_client.post("/api/v1/auth/refresh", json={"refresh_token": t1["refresh_token"]})
    assert r.status_code == 200
    t2 = r.json()
    assert t2["session_id"] == t1["session_id"] and t2["refresh_token"] != t1["refresh_token"]
    # replaying the rotated token: refused, and the whole session (incl. t2) is revoked
    r = await auth_client.post("/api/v1/auth/refresh", json={"refresh_token": t1["refresh_token"]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "refresh_token_reused"
    r = await auth_client.post("/api/v1/auth/refresh", json={"refresh_token": t2["refresh_token"]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_refresh_token"
    r = await auth_client.get("/api/v1/auth/me", headers=bearer(t2))
    assert r.status_code == 401 and r.json()["error"]["code"] == "session_revoked"
    assert await db.fetchval("SELECT count(*) FROM auth.audit_log WHERE event = 'refresh_token_reused'") == 1


async def test_logout_revokes_the_session_and_its_access_token(auth_client, auth_settings):
    await register_verified(auth_client, auth_settings, "gus@example.com")
    tokens = await login(auth_client, "gus@example.com")
    assert (await auth_client.get("/api/v1/auth/me", headers=bearer(tokens))).status_code == 200
    r = await auth_client.post("/api/v1/auth/logout", headers=bearer(tokens))
    assert r.status_code == 204
    r = await auth_client.get("/api/v1/auth/me", headers=bearer(tokens))
    assert r.status_code == 401 and r.json()["error"]["code"] == "session_revoked"
    r = await auth_client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401


async def test_sessions_list_revoke_one_and_all(auth_client, auth_settings):
    await register_verified(auth_client, auth_settings, "hal@example.com")
    a = await login(auth_client, "hal@example.com")
    b = await login(auth_client, "hal@example.com")
    c = await login(auth_client, "hal@example.com")
    r = await auth_client.get("/api/v1/auth/sessions", headers=bearer(a))
    sessions = r.json()
    assert len(sessions) == 3 and sum(s["current"] for s in sessions) == 1
    assert next(s for s in sessions if s["current"])["id"] == a["session_id"]
    r = await auth_client.delete(f"/api/v1/auth/sessions/{b['session_id']}", headers=bearer(a))
    assert r.status_code == 204
    assert (await auth_client.get("/api/v1/auth/me", headers=bearer(b))).status_code == 401
    r = await auth_client.delete(f"/api/v1/auth/sessions/{b['session_id']}", headers=bearer(a))
    assert r.status_code == 404 and r.json()["error"]["code"] == "session_not_found"
    r = await auth_client.delete("/api/v1/auth/sessions/not-a-uuid", headers=bearer(a))
    assert r.status_code == 404
    r = await auth_client.post("/api/v1/auth/sessions/revoke-all", json={"keep_current": True}, headers=bearer(a))
    assert r.status_code == 200
    assert (await auth_client.get("/api/v1/auth/me", headers=bearer(c))).status_code == 401
    assert (await auth_client.get("/api/v1/auth/me", headers=bearer(a))).status_code == 200
    r = await auth_client.post("/api/v1/auth/sessions/revoke-all", headers=bearer(a))
    assert (await auth_client.get("/api/v1/auth/me", headers=bearer(a))).status_code == 401


async def test_security_events_list_my_own(auth_client, auth_settings):
    await register_verified(auth_client, auth_settings, "ivy@example.com")
    await auth_client.post("/api/v1/auth/login", json={"email": "ivy@example.com", "password": "wrong-password-123"})
    tokens = await login(auth_client, "ivy@example.com")
    r = await auth_client.get("/api/v1/auth/security-events", headers={**bearer(tokens), "User-Agent": "pytest-ua"})
    events = r.json()
    names = [e["event"] for e in events]
    assert names[:3] == ["login", "login_failed", "email_verified"] and names[-1] == "register"
    assert all(e["ip"] and e["created_at"] for e in events)
    assert events[1]["details"]["reason"] == "password"
    r = await auth_client.get("/api/v1/auth/security-events?limit=1", headers=bearer(tokens))
    assert len(r.json()) == 1
    r = await auth_client.get("/api/v1/auth/security-events?limit=0", headers=bearer(tokens))
    assert r.status_code == 422
