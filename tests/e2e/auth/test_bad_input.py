"""Every abuse case from the issue's "Bad input" list: a 4xx JSON error with a stable code, nothing changed,
never a 500. Replayed refresh tokens, replayed TOTP codes, bad HMACs and stale timestamps are covered in
test_accounts.py / test_twofactor_and_keys.py; token forgeries and malformed requests are here."""
from __future__ import annotations

import time

import jwt
import pytest

from tests.e2e.auth.helpers import PASSWORD, bearer, login, register_verified

TABLES = ("auth.app_user", "auth.email_token", "auth.refresh_token", "auth.api_key", "auth.recovery_code",
          "ops.outbox")


async def snapshot(db) -> dict[str, int]:
    return {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}


def _error(r) -> str:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body["error"]) >= {"code", "message", "request_id"}
    return body["error"]["code"]


@pytest.mark.parametrize(("body", "headers", "code"), [
    (b'{"email": "a@example.com", "password": ', {"content-type": "application/json"}, "malformed_json"),
    (b"not json at all", {"content-type": "application/json"}, "malformed_json"),
    (b'{"email": 12345, "password": "long-enough-password-1"}', {"content-type": "application/json"},
     "validation_error"),
    (b'{"email": "a@example.com", "password": ["x"]}', {"content-type": "application/json"}, "validation_error"),
    (b'{"email": "a@example.com", "password": "long-enough-password-1", "role": "admin"}',
     {"content-type": "application/json"}, "validation_error"),
    (b'[]', {"content-type": "application/json"}, "validation_error"),
    (b'{}', {"content-type": "application/json"}, "validation_error"),
])
async def test_malformed_and_wrongly_typed_bodies(auth_client, db, body, headers, code):
    before = await snapshot(db)
    r = await auth_client.post("/api/v1/auth/register", content=body, headers=headers)
    assert _error(r) == code
    assert await snapshot(db) == before


async def test_oversized_body_is_413(auth_client, db):
    before = await snapshot(db)
    huge = b'{"email": "a@example.com", "password": "' + b"x" * 100_000 + b'"}'
    r = await auth_client.post("/api/v1/auth/register", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 413 and _error(r) == "payload_too_large"
    assert await snapshot(db) == before


@pytest.mark.parametrize(("email", "code"), [
    ("not-an-email", "invalid_email"),
    ("a@b", "invalid_email"),
    ("a@@example.com", "invalid_email"),
    ("a" * 250 + "@example.com", "invalid_email"),
    ("\u0430lice@example.com", "email_mixed_script"),          # Cyrillic a + Latin
    ("\u0430\u0440\u0440\u04cf\u0435@example.com", "email_lookalike"),  # all-Cyrillic "apple"
    ("\uff41lice@example.com", "email_lookalike"),             # full-width a
    ("al\u200bice@example.com", "email_invalid_characters"),    # zero-width space
    ("alice@\u0430pple.com", "email_mixed_script"),            # look-alike domain
])
async def test_invalid_and_lookalike_emails(auth_client, db, email, code):
    before = await snapshot(db)
    r = await auth_client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert _error(r) == code
    assert await snapshot(db) == before


async def test_forged_expired_and_misdirected_access_tokens(auth_client, auth_settings, db):
    await register_verified(auth_client, auth_settings, "vic@example.com")
    tokens = await login(auth_client, "vic@example.com")
    good = tokens["access_token"]
    claims = jwt.decode(good, options={"verify_signature": False})
    key = auth_settings.jwt_secret.get_secret_value()
    now = int(time.time())

    def forge(**changes) -> str:
        return jwt.encode({**claims, **changes}, key, algorithm="HS256")

    header, payload, sig = good.split(".")
    import base64
    import json

    def b64(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    cases = {
        "expired": (forge(iat=now - 7200, nbf=now - 7200, exp=now - 3600), "token_expired"),
        "wrong audience": (forge(aud="someone-else"), "invalid_token"),
        "wrong issuer": (forge(iss="evil"), "invalid_token"),
        "alg none": (b64({"alg": "none", "typ": "JWT"}) + "." + payload + ".", "invalid_token"),
        "tampered payload": (header + "." + b64({**claims, "sub": "999"}) + "." + sig, "invalid_token"),
        "wrong key": (jwt.encode(claims, "another-secret-key-of-sufficient-length-123", algorithm="HS256"),
                      "invalid_token"),
        "HS512": (jwt.encode(claims, key * 2, algorithm="HS512"), "invalid_token"),
        "no jti": (jwt.encode({k: v for k, v in claims.items() if k != "jti"}, key, algorithm="HS256"),
                   "invalid_token"),
        "refresh typ": (forge(typ="refresh"), "invalid_token"),
        "garbage": ("abc.def", "invalid_token"),
    }
    before = await snapshot(db)
    for name, (token, code) in cases.items():
        r = await auth_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, name
        assert _error(r) == code, name
    r = await auth_client.get("/api/v1/auth/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert _error(r) == "invalid_authorization_header"
    r = await auth_client.get("/api/v1/auth/me")
    assert _error(r) == "unauthorized"
    assert await snapshot(db) == before
    assert (await auth_client.get("/api/v1/auth/me", headers=bearer(tokens))).status_code == 200


async def test_bad_tokens_on_public_endpoints(auth_client, db):
    before = await snapshot(db)
    r = await auth_client.post("/api/v1/auth/refresh", json={"refresh_token": "rt_forged"})
    assert _error(r) == "invalid_refresh_token"
    r = await auth_client.post("/api/v1/auth/refresh", json={"refresh_token": 42})
    assert _error(r) == "validation_error"
    r = await auth_client.post("/api/v1/auth/refresh")
    assert _error(r) == "invalid_refresh_token"
    r = await auth_client.post("/api/v1/auth/verify-email", json={"token": "ev_forged_token_value"})
    assert _error(r) == "invalid_email_token"
    r = await auth_client.post("/api/v1/auth/reset-password", json={"token": "pr_forged_token_value",
                                                                     "new_password": "a-perfectly-fine-passphrase"})
    assert _error(r) == "invalid_email_token"
    r = await auth_client.post("/api/v1/auth/login", json={"email": "ghost@example.com", "password": PASSWORD})
    assert _error(r) == "invalid_credentials"
    r = await auth_client.post("/api/v1/auth/logout")
    assert _error(r) == "unauthorized"
    after = await snapshot(db)
    assert after == before
