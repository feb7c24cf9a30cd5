"""Password policy, change, forgot/reset by email (JSON and the HTML form), argon2 rehash, login lockout
with increasing backoff that always expires, and rate limits (429 + Retry-After)."""
from __future__ import annotations


from tests.e2e.auth.helpers import (NEW_PASSWORD, PASSWORD, bearer, eventually, login, register_verified,
                                    token_from_link, wait_for_links)


async def test_password_policy_codes(auth_client, db):
    cases = {"short-pass": "password_too_short", "passwordpassword": "password_too_common",
             "qwerty123456": "password_too_common", "Monkey2024!!!": "password_too_common",
             "aaaaaaaaaaaaaaaa": "password_too_common", "zoe.smith-is-great-99": "password_contains_email",
             "x" * 300: "password_too_long"}
    for i, (password, code) in enumerate(cases.items()):
        email = "zoe.smith@example.com" if code == "password_contains_email" else f"policy{i}@example.com"
        r = await auth_client.post("/api/v1/auth/register", json={"email": email, "password": password})
        assert r.status_code == 422, (password, r.text)
        assert r.json()["error"]["code"] == code, password
    assert await db.fetchval("SELECT count(*) FROM auth.app_user") == 0


async def test_change_password_needs_current_and_signs_out_other_sessions(auth_client, auth_settings, db):
    await register_verified(auth_client, auth_settings, "pat@example.com")
    here = await login(auth_client, "pat@example.com")
    other = await login(auth_client, "pat@example.com")
    r = await auth_client.post("/api/v1/auth/password", json={"current_password": "not-my-password-1",
                                                              "new_password": NEW_PASSWORD}, headers=bearer(here))
    assert r.status_code == 401 and r.json()["error"]["code"] == "wrong_password"
    r = await auth_client.post("/api/v1/auth/password", json={"current_password": PASSWORD,
                                                              "new_password": "short"}, headers=bearer(here))
    assert r.status_code == 422 and r.json()["error"]["code"] == "password_too_short"
    r = await auth_client.post("/api/v1/auth/password", json={"current_password": PASSWORD,
                                                              "new_password": NEW_PASSWORD}, headers=bearer(here))
    assert r.status_code == 204
    assert (await auth_client.get("/api/v1/auth/me", headers=bearer(here))).status_code == 200
    assert (await auth_client.get("/api/v1/auth/me", headers=bearer(other))).status_code == 401
    r = await auth_client.post("/api/v1/auth/login", json={"email": "pat@example.com", "password": PASSWORD})
    assert r.status_code == 401
    await login(auth_client, "pat@example.com", NEW_PASSWORD)
    assert await eventually(lambda: db.fetchval(
        "SELECT count(*) = 1 FROM ops.email_delivery WHERE topic = 'email.security_notice'"))


async def test_forgot_and_reset_password_by_email(auth_client, auth_settings, db):
    await register_verified(auth_client, auth_settings, "quinn@example.com")
    session = await login(auth_client, "quinn@example.com")
    r = await auth_client.post("/api/v1/auth/forgot-password", json={"email": "quinn@example.com"})
    assert r.status_code == 202
    r2 = await auth_client.post("/api/v1/auth/forgot-password", json={"email": "nobody@example.com"})
    assert r2.status_code == 202 and r2.json() == r.json()
    [link] = await wait_for_links(auth_client, auth_settings, "quinn@example.com", "/reset-password")
    token = token_from_link(link)
    page = await auth_client.get(link[len(auth_settings.base_url):])
    assert page.status_code == 200 and 'name="new_password"' in page.text and token in page.text
    # policy refusal does not spend the token
    r = await auth_client.post("/api/v1/auth/reset-password", json={"token": token, "new_password": "password1234"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "password_too_common"
    r = await auth_client.post("/api/v1/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD})
    assert r.status_code == 204
    r = await auth_client.post("/api/v1/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_email_token"  # single use
    assert (await auth_client.get("/api/v1/auth/me", headers=bearer(session))).status_code == 401  # all sessions out
    await login(auth_client, "quinn@example.com", NEW_PASSWORD)
    events = [r["event"] for r in await db.fetch("SELECT event FROM auth.audit_log ORDER BY id")]
    assert "password_reset_requested" in events and "password_reset" in events


async def test_reset_through_the_html_form_and_expired_tokens(auth_client, auth_settings, db):
    await register_verified(auth_client, auth_settings, "rae@example.com")
    await auth_client.post("/api/v1/auth/forgot-password", json={"email": "rae@example.com"})
    [link] = await wait_for_links(auth_client, auth_settings, "rae@example.com", "/reset-password")
    token = token_from_link(link)
    r = await auth_client.post("/api/v1/auth/reset-password/form", data={"token": token, "new_password": "short"})
    assert r.status_code == 422 and "at least 12" in r.text
    r = await auth_client.post("/api/v1/auth/reset-password/form", data={"token": token, "new_password": NEW_PASSWORD})
    assert r.status_code == 200 and "Password changed" in r.text
    await login(auth_client, "rae@example.com", NEW_PASSWORD)
    # an expired token is refused and changes nothing
    await auth_client.post("/api/v1/auth/forgot-password", json={"email": "rae@example.com"})
    newest = (await wait_for_links(auth_client, auth_settings, "rae@example.com", "/reset-password", count=2))[0]
    await db.execute("UPDATE auth.email_token SET expires_at = now() - interval '1 second' WHERE used_at IS NULL")
    r = await auth_client.post("/api/v1/auth/reset-password",
                               json={"token": token_from_link(newest), "new_password": "brand-new-passphrase-77"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_email_token"
    await login(auth_client, "rae@example.com", NEW_PASSWORD)


async def test_password_hash_is_upgraded_when_parameters_change(auth_client, auth_settings, db):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    await db.execute("INSERT INTO auth.app_user (email, password_hash, email_verified_at) VALUES ($1, $2, now())",
                     "sam@example.com", weak)
    await login(auth_client, "sam@example.com")
    upgraded = await db.fetchval("SELECT password_hash FROM auth.app_user WHERE email = 'sam@example.com'")
    assert upgraded != weak and "m=1024,t=1,p=1" in upgraded
    await login(auth_client, "sam@example.com")
    assert await db.fetchval("SELECT password_hash FROM auth.app_user WHERE email = 'sam@example.com'") == upgraded


async def test_lockout_backs_off_and_always_expires(auth_client, auth_settings, db):
    await register_verified(auth_client, auth_settings, "uma@example.com")
    for _ in range(5):
        r = await auth_client.post("/api/v1/auth/login", json={"email": "uma@example.com", "password": "wrong-guess-123"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    # locked for this (account, IP): even the right password is refused, without being checked
    r = await auth_client.post("/api/v1/auth/login", json={"email": "uma@example.com", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["error"]["code"] == "login_locked"
    first_wait = int(r.headers["Retry-After"])
    assert 1 <= first_wait <= 30
    row = await db.fetchrow("SELECT failures, locked_until FROM auth.login_failure")
    assert row["failures"] == 5
    # attempts during the lock do not extend it
    await auth_client.post("/api/v1/auth/login", json={"email": "uma@example.com", "password": "wrong-guess-123"})
    assert await db.fetchval("SELECT failures FROM auth.login_failure") == 5
    # the lock expires; the next failure locks longer (backoff)
    await db.execute("UPDATE auth.login_failure SET locked_until = now() - interval '1 second'")
    r = await auth_client.post("/api/v1/auth/login", json={"email": "uma@example.com", "password": "wrong-guess-123"})
    assert r.status_code == 401
    r = await auth_client.post("/api/v1/auth/login", json={"email": "uma@example.com", "password": PASSWORD})
    assert r.status_code == 429 and 30 < int(r.headers["Retry-After"]) <= 60
    # another IP is not locked out by this attacker
    await db.execute("UPDATE auth.login_failure SET ip = '203.0.113.9'")
    await login(auth_client, "uma@example.com")
    # ...and a successful login clears this IP's counter; a reset clears all of them
    await db.execute("UPDATE auth.login_failure SET ip = '127.0.0.1'")
    await db.execute("UPDATE auth.login_failure SET locked_until = now() + interval '10 minutes'")
    r = await auth_client.post("/api/v1/auth/forgot-password", json={"email": "uma@example.com"})
    assert r.status_code == 202, r.text
    [link] = await wait_for_links(auth_client, auth_settings, "uma@example.com", "/reset-password")
    r = await auth_client.post("/api/v1/auth/reset-password", json={"token": token_from_link(link),
                                                                     "new_password": NEW_PASSWORD})
    assert r.status_code == 204
    assert await db.fetchval("SELECT count(*) FROM auth.login_failure") == 0
    await auth_client._transport.app.state.container.rate_limiter.reset("login:acct:uma@example.com")
    await login(auth_client, "uma@example.com", NEW_PASSWORD)


async def test_rate_limits_answer_429_with_retry_after(auth_client, db):
    statuses = []
    for i in range(12):
        r = await auth_client.post("/api/v1/auth/register", json={"email": f"rl{i}@example.com", "password": PASSWORD})
        statuses.append(r.status_code)
    assert statuses[:10] == [202] * 10 and statuses[10:] == [429, 429]
    assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
    assert await db.fetchval("SELECT count(*) FROM auth.app_user") == 10
    # per account, from any IP: forgot-password for one address
    codes = [(await auth_client.post("/api/v1/auth/forgot-password", json={"email": "rl1@example.com"})).status_code
             for _ in range(4)]
    assert codes == [202, 202, 202, 429]
