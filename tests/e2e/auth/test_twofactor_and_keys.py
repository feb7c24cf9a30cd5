"""2FA (enroll, confirm, login with a code, replay refused, recovery codes, disable) and API keys
(create shown once, list, revoke, Binance-style signed requests with every refusal code)."""
from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

from tests.e2e.auth.helpers import bearer, login, register_verified, signed_query, totp_now


async def _enable_2fa(client, tokens) -> tuple[str, list[str]]:
    r = await client.post("/api/v1/auth/2fa/enroll", headers=bearer(tokens))
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    assert r.json()["otpauth_uri"].startswith("otpauth://totp/MyCrypto:")
    r = await client.post("/api/v1/auth/2fa/confirm", json={"code": totp_now(secret)}, headers=bearer(tokens))
    assert r.status_code == 200, r.text
    codes = r.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    return secret, codes


async def test_2fa_enroll_confirm_login_replay_recovery_disable(auth_client, auth_settings, db):
    await register_verified(auth_client, auth_settings, "tess@example.com")
    tokens = await login(auth_client, "tess@example.com")
    r = await auth_client.post("/api/v1/auth/2fa/confirm", json={"code": "123456"}, headers=bearer(tokens))
    assert r.status_code == 409 and r.json()["error"]["code"] == "totp_not_enrolled"
    r = await auth_client.post("/api/v1/auth/2fa/enroll", headers=bearer(tokens))
    secret = r.json()["secret"]
    r = await auth_client.post("/api/v1/auth/2fa/confirm", json={"code": "000000"}, headers=bearer(tokens))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_totp"
    assert await db.fetchval("SELECT totp_enabled_at FROM auth.app_user") is None
    code = totp_now(secret)
    r = await auth_client.post("/api/v1/auth/2fa/confirm", json={"code": code}, headers=bearer(tokens))
    assert r.status_code == 200
    codes = r.json()["recovery_codes"]
    assert await db.fetchval("SELECT count(*) FROM auth.recovery_code") == 10
    assert (await db.fetchval("SELECT totp_secret_enc FROM auth.app_user")).startswith("v2.default.")
    r = await auth_client.post("/api/v1/auth/2fa/enroll", headers=bearer(tokens))
    assert r.status_code == 409 and r.json()["error"]["code"] == "totp_already_enabled"

    # login now needs the code
    r = await auth_client.post("/api/v1/auth/login", json={"email": "tess@example.com", "password": "violet-harbour-lantern-93"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "totp_required"
    # the code used to confirm cannot be replayed
    r = await auth_client.post("/api/v1/auth/login", json={"email": "tess@example.com",
                                                           "password": "violet-harbour-lantern-93", "totp_code": code})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_totp"
    fresh = totp_now(secret, offset_steps=1)  # next step (accepted within the drift window)
    t2 = await login(auth_client, "tess@example.com", totp_code=fresh)
    assert t2["user"]["totp_enabled"] is True
    r = await auth_client.post("/api/v1/auth/login", json={"email": "tess@example.com",
                                                           "password": "violet-harbour-lantern-93", "totp_code": fresh})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_totp"  # replay refused

    # a recovery code works once
    t3 = await login(auth_client, "tess@example.com", totp_code=codes[0].upper())
    assert t3["session_id"]
    r = await auth_client.post("/api/v1/auth/login", json={"email": "tess@example.com",
                                                           "password": "violet-harbour-lantern-93", "totp_code": codes[0]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_totp"

    # regenerate recovery codes (needs a code), then disable (needs a code)
    r = await auth_client.post("/api/v1/auth/2fa/recovery-codes", json={"code": codes[1]}, headers=bearer(t3))
    assert r.status_code == 200 and codes[2] not in r.json()["recovery_codes"]
    new_codes = r.json()["recovery_codes"]
    r = await auth_client.post("/api/v1/auth/2fa/disable", json={"code": codes[2]}, headers=bearer(t3))
    assert r.status_code == 401  # old recovery codes were replaced
    r = await auth_client.post("/api/v1/auth/2fa/disable", json={"code": new_codes[0]}, headers=bearer(t3))
    assert r.status_code == 204
    row = await db.fetchrow("SELECT totp_secret_enc, totp_enabled_at FROM auth.app_user")
    assert row["totp_secret_enc"] is None and row["totp_enabled_at"] is None
    await login(auth_client, "tess@example.com")
    events = {r["event"] for r in await db.fetch("SELECT event FROM auth.audit_log")}
    assert {"totp_enabled", "totp_disabled", "recovery_codes_regenerated"} <= events


async def test_api_key_lifecycle_and_signed_requests(auth_client, auth_settings, db):
    await register_verified(auth_client, auth_settings, "kim@example.com")
    tokens = await login(auth_client, "kim@example.com")
    secret_2fa, _ = await _enable_2fa(auth_client, tokens)
    body = {"label": "bot", "permissions": ["read", "trade"]}
    r = await auth_client.post("/api/v1/auth/api-keys", json=body, headers=bearer(tokens))
    assert r.status_code == 401 and r.json()["error"]["code"] == "totp_required"
    r = await auth_client.post("/api/v1/auth/api-keys", json={**body, "totp_code": totp_now(secret_2fa, 1)},
                               headers=bearer(tokens))
    assert r.status_code == 201, r.text
    created = r.json()
    key, secret = created["api_key"], created["secret"]
    assert len(key) == 64 and len(secret) == 64 and created["permissions"] == ["read", "trade"]
    stored = await db.fetchval("SELECT secret_enc FROM auth.api_key")
    assert secret not in stored and stored.startswith("v2.default.")
    listed = (await auth_client.get("/api/v1/auth/api-keys", headers=bearer(tokens))).json()
    assert [k["api_key"] for k in listed] == [key] and "secret" not in listed[0]

    # a signed request authenticates as the key, with its permissions
    r = await auth_client.get(f"/api/v1/auth/me?{signed_query(secret, {'recvWindow': 5000})}",
                              headers={"X-MBX-APIKEY": key})
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["email"] == "kim@example.com" and me["api_key_id"] == created["id"]
    assert me["permissions"] == ["read", "trade"]

    async def code(query: str, headers: dict | None = None) -> tuple[int, str]:
        r = await auth_client.get(f"/api/v1/auth/me?{query}", headers={"X-MBX-APIKEY": key, **(headers or {})})
        return r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else "ok"

    now = int(time.time() * 1000)
    assert await code(signed_query("x" * 64, {})) == (401, "signature_invalid")
    tampered = signed_query(secret, {"symbol": "BTCUSDT"}).replace("BTCUSDT", "ETHUSDT")
    assert await code(tampered) == (401, "signature_invalid")
    assert await code(urlencode({"timestamp": now})) == (401, "signature_missing")
    assert await code(signed_query(secret, {}, timestamp_ms=now - 60_000)) == (400, "timestamp_outside_recv_window")
    assert await code(signed_query(secret, {}, timestamp_ms=now + 10_000)) == (400, "timestamp_outside_recv_window")
    assert await code(signed_query(secret, {"recvWindow": 70000})) == (400, "recv_window_invalid")
    q = "recvWindow=5000"
    assert await code(f"{q}&signature={hmac.new(secret.encode(), q.encode(), hashlib.sha256).hexdigest()}") == \
        (400, "timestamp_missing")
    q = "timestamp=abc"
    assert await code(f"{q}&signature={hmac.new(secret.encode(), q.encode(), hashlib.sha256).hexdigest()}") == \
        (400, "timestamp_invalid")
    r = await auth_client.get(f"/api/v1/auth/me?{signed_query(secret, {})}", headers={"X-MBX-APIKEY": "Z" * 64})
    assert r.status_code == 401 and r.json()["error"]["code"] == "api_key_invalid"
    r = await auth_client.get(f"/api/v1/auth/me?{signed_query(secret, {})}", headers={"X-MBX-APIKEY": "bad key!"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "api_key_invalid"

    # API keys cannot manage the account
    r = await auth_client.get(f"/api/v1/auth/api-keys?{signed_query(secret, {})}", headers={"X-MBX-APIKEY": key})
    assert r.status_code == 403 and r.json()["error"]["code"] == "session_required"
    r = await auth_client.post(f"/api/v1/auth/2fa/disable?{signed_query(secret, {})}", json={"code": "123456"},
                               headers={"X-MBX-APIKEY": key})
    assert r.status_code == 403 and r.json()["error"]["code"] == "session_required"

    # revoke: the key stops working at once on this replica
    r = await auth_client.delete(f"/api/v1/auth/api-keys/{created['id']}", headers=bearer(tokens))
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert await code(signed_query(secret, {})) == (401, "api_key_invalid")
    r = await auth_client.delete(f"/api/v1/auth/api-keys/{created['id']}", headers=bearer(tokens))
    assert r.status_code == 404 and r.json()["error"]["code"] == "api_key_not_found"
    events = [r["event"] for r in await db.fetch("SELECT event FROM auth.audit_log WHERE event LIKE 'api_key%'")]
    assert events == ["api_key_created", "api_key_revoked"]


async def test_api_key_ip_allowlist_and_permissions(auth_client, auth_settings):
    await register_verified(auth_client, auth_settings, "lou@example.com")
    tokens = await login(auth_client, "lou@example.com")
    r = await auth_client.post("/api/v1/auth/api-keys", json={"permissions": ["withdraw"]}, headers=bearer(tokens))
    assert r.status_code == 422 and r.json()["error"]["code"] == "withdraw_requires_ip_allowlist"
    r = await auth_client.post("/api/v1/auth/api-keys", json={"permissions": ["read"], "ip_allowlist": ["nope"]},
                               headers=bearer(tokens))
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_ip_allowlist"
    r = await auth_client.post("/api/v1/auth/api-keys", json={"permissions": ["read", "sudo"]}, headers=bearer(tokens))
    assert r.status_code == 422
    # the ASGI test client's address is 127.0.0.1
    r = await auth_client.post("/api/v1/auth/api-keys", json={"ip_allowlist": ["10.1.2.0/24"]}, headers=bearer(tokens))
    far = r.json()
    r = await auth_client.get(f"/api/v1/auth/me?{signed_query(far['secret'], {})}",
                              headers={"X-MBX-APIKEY": far["api_key"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "ip_not_allowed"
    r = await auth_client.post("/api/v1/auth/api-keys", json={"permissions": ["read", "withdraw"],
                                                              "ip_allowlist": ["127.0.0.1"]}, headers=bearer(tokens))
    near = r.json()
    assert near["permissions"] == ["read", "withdraw"] and near["ip_allowlist"] == ["127.0.0.1/32"]
    r = await auth_client.get(f"/api/v1/auth/me?{signed_query(near['secret'], {})}",
                              headers={"X-MBX-APIKEY": near["api_key"]})
    assert r.status_code == 200 and r.json()["permissions"] == ["read", "withdraw"]


async def test_unverified_user_cannot_create_api_keys(auth_client):
    await auth_client.post("/api/v1/auth/register", json={"email": "mo@example.com", "password": "violet-harbour-lantern-93"})
    tokens = await login(auth_client, "mo@example.com")
    r = await auth_client.post("/api/v1/auth/api-keys", json={}, headers=bearer(tokens))
    assert r.status_code == 403 and r.json()["error"]["code"] == "email_not_verified"
