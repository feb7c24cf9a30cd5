"""Ownership (user A can never read or change user B's sessions or keys) and the web-app cookie mode
with its CSRF contract (docs/auth.md "Web app: cookies and CSRF")."""
from __future__ import annotations

from tests.e2e.auth.helpers import bearer, login, register_verified, signed_query


async def test_user_a_cannot_touch_user_b_sessions_or_keys(auth_client, auth_settings, db):
    await register_verified(auth_client, auth_settings, "alice@example.com")
    await register_verified(auth_client, auth_settings, "bob@example.com")
    a = await login(auth_client, "alice@example.com")
    b = await login(auth_client, "bob@example.com")
    r = await auth_client.post("/api/v1/auth/api-keys", json={"label": "b-key"}, headers=bearer(b))
    b_key = r.json()

    # reads only ever show the caller's own
    a_sessions = (await auth_client.get("/api/v1/auth/sessions", headers=bearer(a))).json()
    assert [s["id"] for s in a_sessions] == [a["session_id"]]
    assert (await auth_client.get("/api/v1/auth/api-keys", headers=bearer(a))).json() == []
    a_events = (await auth_client.get("/api/v1/auth/security-events", headers=bearer(a))).json()
    b_user = await db.fetchval("SELECT id FROM auth.app_user WHERE email = 'bob@example.com'")
    assert all(e["event"] != "api_key_created" for e in a_events)
    assert await db.fetchval("SELECT count(*) FROM auth.audit_log WHERE user_id = $1 AND event = 'api_key_created'",
                             b_user) == 1

    # changes to B's things are 404s (indistinguishable from "does not exist") and change nothing
    r = await auth_client.delete(f"/api/v1/auth/sessions/{b['session_id']}", headers=bearer(a))
    assert r.status_code == 404 and r.json()["error"]["code"] == "session_not_found"
    r = await auth_client.delete(f"/api/v1/auth/api-keys/{b_key['id']}", headers=bearer(a))
    assert r.status_code == 404 and r.json()["error"]["code"] == "api_key_not_found"
    # revoke-all and logout with B's refresh token only ever touch A
    await auth_client.post("/api/v1/auth/sessions/revoke-all", json={"keep_current": True}, headers=bearer(a))
    r = await auth_client.post("/api/v1/auth/logout", json={"refresh_token": b["refresh_token"]}, headers=bearer(a))
    assert r.status_code == 204
    assert (await auth_client.get("/api/v1/auth/me", headers=bearer(b))).status_code == 200
    r = await auth_client.get(f"/api/v1/auth/me?{signed_query(b_key['secret'], {})}",
                              headers={"X-MBX-APIKEY": b_key["api_key"]})
    assert r.status_code == 200 and r.json()["email"] == "bob@example.com"
    assert await db.fetchval("SELECT revoked_at FROM auth.api_key") is None


async def test_cookie_mode_login_csrf_refresh_and_logout(auth_client, auth_settings):
    await register_verified(auth_client, auth_settings, "web@example.com")
    r = await auth_client.post("/api/v1/auth/login", json={"email": "web@example.com",
                                                           "password": "violet-harbour-lantern-93", "use_cookies": True})
    assert r.status_code == 200
    body = r.json()
    assert "access_token" not in body and "refresh_token" not in body and body["csrf_token"]
    set_cookies = r.headers.get_list("set-cookie")
    access = next(c for c in set_cookies if c.startswith("mc_access="))
    refresh = next(c for c in set_cookies if c.startswith("mc_refresh="))
    csrf_cookie = next(c for c in set_cookies if c.startswith("mc_csrf="))
    assert "HttpOnly" in access and "SameSite=strict" in access and "Path=/" in access
    assert "HttpOnly" in refresh and "Path=/api/v1/auth" in refresh
    assert "HttpOnly" not in csrf_cookie
    assert "Secure" not in access  # plain http in development; production always sets Secure
    csrf = body["csrf_token"]

    # safe methods need only the cookie
    assert (await auth_client.get("/api/v1/auth/me")).status_code == 200
    # unsafe methods need the CSRF header
    r = await auth_client.post("/api/v1/auth/sessions/revoke-all", json={"keep_current": True})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = await auth_client.post("/api/v1/auth/sessions/revoke-all", json={"keep_current": True},
                               headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = await auth_client.post("/api/v1/auth/sessions/revoke-all", json={"keep_current": True},
                               headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200

    # refresh from the cookie (needs the header too); the cookies rotate
    r = await auth_client.post("/api/v1/auth/refresh")
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    old_refresh = auth_client.cookies.get("mc_refresh")
    r = await auth_client.post("/api/v1/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["csrf_token"] == csrf
    assert auth_client.cookies.get("mc_refresh") != old_refresh

    # logout clears the cookies and ends the session
    r = await auth_client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert any(c.startswith("mc_access=") and "Max-Age=0" in c for c in r.headers.get_list("set-cookie"))
    auth_client.cookies.clear()
    r = await auth_client.post("/api/v1/auth/refresh", json={"refresh_token": old_refresh})
    assert r.status_code == 401
