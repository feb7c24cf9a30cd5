"""Key rotation end to end on a real PostgreSQL: each phase of a rotation is an app started with that phase's
key sets on the same database (as a rolling restart does).

- JWT: tokens signed with the old key keep working once a new key is active, and stop at its retirement;
  a tampered or unknown `kid` is refused.
- Data keys: API-key HMAC requests and TOTP logins keep working across a DATA_ENCRYPTION key rotation,
  through `mycrypto keys rotate` and after the old key is retired; rotate is idempotent and resumable,
  leaves undecryptable values alone, and does not break logins running at the same time.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import os
import time
from contextlib import asynccontextmanager
from urllib.parse import urlencode

import asyncpg
import httpx
import jwt
import pyotp
import pytest
from asgi_lifespan import LifespanManager
from click.testing import CliRunner
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mycrypto.apps import create_app
from mycrypto.auth.apikeys import SECRET_PURPOSE
from mycrypto.auth.keyrotation import key_status, rotate
from mycrypto.auth.totp import TOTP_PURPOSE
from mycrypto.common.crypto import _key, decrypt, encrypt
from mycrypto.config import KeyRing
from mycrypto.db.database import connect_once
from tests.conftest import make_settings
from tests.e2e.auth.helpers import fast_hash_settings
from tests.support.factories import DEFAULT_PASSWORD, create_user

OLD = "old-key-" + "o" * 40
NEW = "new-key-" + "n" * 40
_n = itertools.count(1)


@asynccontextmanager
async def phase(db_dsn, tmp_path, **keys):
    """The platform as deployed with these key variables (a fresh process: empty caches)."""
    settings = make_settings(db_dsn, data_dir=tmp_path, rate_limits_enabled=False, **fast_hash_settings(), **keys)
    app = create_app(settings, access_log=False)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            yield settings, client


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


async def _me(client, token: str) -> tuple[int, str]:
    r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    return r.status_code, (r.json()["error"]["code"] if r.status_code >= 400 else r.json()["email"])


# ------------------------------------------------------------------------------------------- JWT
async def test_jwt_old_tokens_work_until_their_key_is_retired(db, db_dsn, tmp_path):
    await create_user(db, email="jay@example.com")
    login = {"email": "jay@example.com", "password": DEFAULT_PASSWORD}

    async with phase(db_dsn, tmp_path, JWT_SECRET=OLD) as (_, c):  # before: one key (legacy id `default`)
        r = await c.post("/api/v1/auth/login", json=login)
        t1, refresh1 = r.json()["access_token"], r.json()["refresh_token"]
        assert jwt.get_unverified_header(t1)["kid"] == "default"
        assert await _me(c, t1) == (200, "jay@example.com")

    async with phase(db_dsn, tmp_path, JWT_KEYS=f"k2:{NEW}", JWT_SECRET=OLD) as (_, c):  # new key active
        assert await _me(c, t1) == (200, "jay@example.com")  # old token still verifies
        r = await c.post("/api/v1/auth/refresh", json={"refresh_token": refresh1})
        assert r.status_code == 200, r.text
        t2 = r.json()["access_token"]
        assert jwt.get_unverified_header(t2)["kid"] == "k2"
        assert await _me(c, t2) == (200, "jay@example.com")
        header, payload, sig = t2.split(".")
        relabelled = _b64({"alg": "HS256", "typ": "JWT", "kid": "default"}) + f".{payload}.{sig}"
        assert await _me(c, relabelled) == (401, "invalid_token")  # kid tampering: signature no longer fits
        unknown = _b64({"alg": "HS256", "typ": "JWT", "kid": "k3"}) + f".{payload}.{sig}"
        assert await _me(c, unknown) == (401, "unknown_token_key")
        claims = jwt.decode(t2, options={"verify_signature": False})
        no_kid_new_key = jwt.encode(claims, NEW, algorithm="HS256")  # no kid = legacy key only
        assert await _me(c, no_kid_new_key) == (401, "invalid_token")

    async with phase(db_dsn, tmp_path, JWT_KEYS=f"k2:{NEW}") as (_, c):  # old key retired
        assert await _me(c, t1) == (401, "unknown_token_key")
        assert await _me(c, t2) == (200, "jay@example.com")
        assert await _me(c, jwt.encode(claims, OLD, algorithm="HS256")) == (401, "unknown_token_key")


async def test_web_sessions_csrf_across_a_jwt_rotation(db, db_dsn, tmp_path):
    """Cookie mode: the CSRF token made under the old key keeps working while that key is in the set, and a
    refresh then hands out one under the new key, so the session survives the old key's retirement."""
    await create_user(db, email="web@example.com")
    async with phase(db_dsn, tmp_path, JWT_SECRET=OLD) as (_, c):
        r = await c.post("/api/v1/auth/login", json={"email": "web@example.com", "password": DEFAULT_PASSWORD,
                                                     "use_cookies": True})
        assert r.status_code == 200, r.text
        old_csrf, jar = r.json()["csrf_token"], httpx.Cookies(c.cookies)

    async with phase(db_dsn, tmp_path, JWT_KEYS=f"k2:{NEW}", JWT_SECRET=OLD) as (_, c):
        c.cookies = jar
        r = await c.post("/api/v1/auth/refresh", headers={"X-CSRF-Token": old_csrf})
        assert r.status_code == 200, r.text
        new_csrf, jar = r.json()["csrf_token"], httpx.Cookies(c.cookies)
        assert new_csrf != old_csrf
        assert jwt.get_unverified_header(jar.get("mc_access"))["kid"] == "k2"

    async with phase(db_dsn, tmp_path, JWT_KEYS=f"k2:{NEW}") as (_, c):
        c.cookies = jar
        r = await c.post("/api/v1/auth/refresh", headers={"X-CSRF-Token": old_csrf})
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"  # made under the retired key
        r = await c.post("/api/v1/auth/refresh", headers={"X-CSRF-Token": new_csrf})
        assert r.status_code == 200, r.text
        r = await c.get("/api/v1/auth/me")
        assert r.status_code == 200 and r.json()["email"] == "web@example.com"


# -------------------------------------------------------------------------------------- data keys
def _signed(secret: str) -> str:
    query = urlencode({"recvWindow": 5000, "timestamp": int(time.time() * 1000)})
    return f"{query}&signature={hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()}"


async def _signed_me(client, api_key: str, secret: str) -> int:
    r = await client.get(f"/api/v1/auth/me?{_signed(secret)}", headers={"X-MBX-APIKEY": api_key})
    return r.status_code


async def _totp_login(db, client, email: str, seed: str) -> int:
    # forget the last used step: two logins inside one 30 s step would otherwise be a (refused) replay
    await db.execute("UPDATE auth.app_user SET totp_last_step = NULL WHERE email = $1", email)
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD,
                                                      "totp_code": pyotp.TOTP(seed).now()})
    return r.status_code


def _v1(master: str, purpose: str, plaintext: str) -> str:
    """A ciphertext exactly as written before key ids existed."""
    nonce = os.urandom(12)
    ct = AESGCM(_key(master, purpose)).encrypt(nonce, plaintext.encode(), purpose.encode())
    return "v1." + base64.urlsafe_b64encode(nonce + ct).decode()


async def _user_with_secrets(db, keys, *, v1: bool = False) -> tuple[str, str, str, str]:
    """A user with 2FA on and an API key, both encrypted under `keys` (or as legacy v1 ciphertexts)."""
    n = next(_n)
    email = f"rot{n}-{os.urandom(3).hex()}@example.com"
    user_id = await create_user(db, email=email)
    seed, api_key, secret = pyotp.random_base32(), os.urandom(24).hex(), os.urandom(32).hex()
    enc = (lambda p, s: _v1(keys, p, s)) if v1 else (lambda p, s: encrypt(keys, p, s))
    await db.execute("UPDATE auth.app_user SET totp_secret_enc = $2, totp_enabled_at = now() WHERE id = $1",
                     user_id, enc(TOTP_PURPOSE, seed))
    await db.execute("INSERT INTO auth.api_key (user_id, api_key, secret_enc, permissions) VALUES ($1, $2, $3, "
                     "ARRAY['read'])", user_id, api_key, enc(SECRET_PURPOSE, secret))
    return email, seed, api_key, secret


async def _stored(db) -> list[str]:
    rows = await db.fetch("SELECT secret_enc AS c FROM auth.api_key UNION ALL "
                          "SELECT totp_secret_enc FROM auth.app_user WHERE totp_secret_enc IS NOT NULL")
    return sorted(r["c"] for r in rows)


async def test_api_keys_and_totp_survive_a_data_key_rotation_and_retirement(db, db_dsn, tmp_path):
    old_ring, both = KeyRing.single(OLD), KeyRing((("d2", NEW), ("default", OLD)))
    users = [await _user_with_secrets(db, old_ring), await _user_with_secrets(db, OLD, v1=True)]

    async with phase(db_dsn, tmp_path, DATA_ENCRYPTION_KEY=OLD) as (_, c):  # before
        for email, seed, api_key, secret in users:
            assert await _signed_me(c, api_key, secret) == 200
            assert await _totp_login(db, c, email, seed) == 200

    keys = {"DATA_ENCRYPTION_KEYS": f"d2:{NEW}", "DATA_ENCRYPTION_KEY": OLD}
    async with phase(db_dsn, tmp_path, **keys) as (settings, c):  # new key active, old one still decrypts
        assert settings.data_keys == both
        users.append(await _user_with_secrets(db, settings.data_keys))  # written under d2 from now on
        for email, seed, api_key, secret in users:
            assert await _signed_me(c, api_key, secret) == 200
            assert await _totp_login(db, c, email, seed) == 200
        conn = await connect_once(db_dsn)
        try:
            status = await key_status(conn, settings.data_keys)
            assert status["stores"] == {"api_key_secrets": {"d2": 1, "default": 1, "default (v1)": 1},
                                        "totp_seeds": {"d2": 1, "default": 1, "default (v1)": 1}}
            assert status["pending_reencryption"] == 4 and status["unknown_key_ids"] == []
            result = await rotate(conn, settings.data_keys, batch_size=1)
            assert result.reencrypted == {"api_key_secrets": 2, "totp_seeds": 2} and result.complete
            assert result.batches == 4
            again = await rotate(conn, settings.data_keys, batch_size=1)  # idempotent: nothing left to do
            assert again.total == 0 and again.complete
        finally:
            await conn.close()
        assert all(c_.startswith("v2.d2.") for c_ in await _stored(db))
        for email, seed, api_key, secret in users:  # still fine on the running platform
            assert await _totp_login(db, c, email, seed) == 200
        assert await db.fetchval("SELECT count(*) FROM auth.audit_log WHERE event = 'data_keys_rotated'") == 1

    async with phase(db_dsn, tmp_path, DATA_ENCRYPTION_KEYS=f"d2:{NEW}") as (settings, c):  # old key retired
        assert settings.data_keys.ids == ("d2",)
        for email, seed, api_key, secret in users:
            assert await _signed_me(c, api_key, secret) == 200
            assert await _totp_login(db, c, email, seed) == 200


async def test_retiring_a_key_before_rotating_fails_closed_not_500(db, db_dsn, tmp_path):
    email, seed, api_key, secret = await _user_with_secrets(db, KeyRing.single(OLD))
    async with phase(db_dsn, tmp_path, DATA_ENCRYPTION_KEYS=f"d2:{NEW}") as (_, c):
        assert await _signed_me(c, api_key, secret) == 401
        assert await _totp_login(db, c, email, seed) == 401  # the seed is unreadable: the code cannot match


async def test_rotate_is_resumable_and_leaves_undecryptable_values_alone(db, db_dsn):
    old_ring, both = KeyRing.single(OLD), KeyRing((("d2", NEW), ("default", OLD)))
    users = [await _user_with_secrets(db, old_ring) for _ in range(5)]
    stranger = await _user_with_secrets(db, KeyRing((("zz", "a-key-nobody-configured-" + "z" * 20),)))
    stranger_values = await db.fetch(
        "SELECT u.totp_secret_enc AS t, k.secret_enc AS s FROM auth.app_user u JOIN auth.api_key k "
        "ON k.user_id = u.id WHERE u.email = $1", stranger[0])

    class Interrupted(Exception):
        pass

    def crash_after_two(store: str, done: int) -> None:
        if store == "api_key_secrets" and done >= 4:
            raise Interrupted()

    conn = await connect_once(db_dsn)
    try:
        with pytest.raises(Interrupted):  # e.g. the operator's session dropped mid-run
            await rotate(conn, both, batch_size=2, progress=crash_after_two)
        assert sum(c_.startswith("v2.d2.") for c_ in await _stored(db)) == 4  # two committed batches
        result = await rotate(conn, both, batch_size=2)  # run again: carries on, re-does nothing
        assert result.reencrypted == {"api_key_secrets": 1, "totp_seeds": 5}
        stranger_ids = await db.fetchrow("SELECT u.id AS uid, k.id AS kid FROM auth.app_user u JOIN auth.api_key k "
                                         "ON k.user_id = u.id WHERE u.email = $1", stranger[0])
        assert result.undecryptable == {"api_key_secrets": [stranger_ids["kid"]], "totp_seeds": [stranger_ids["uid"]]}
        assert result.remaining == {"api_key_secrets": 1, "totp_seeds": 1} and not result.complete
        status = await key_status(conn, both)
        assert status["unknown_key_ids"] == ["zz"]
    finally:
        await conn.close()
    after = await db.fetch(
        "SELECT u.totp_secret_enc AS t, k.secret_enc AS s FROM auth.app_user u JOIN auth.api_key k "
        "ON k.user_id = u.id WHERE u.email = $1", stranger[0])
    assert after == stranger_values  # never overwritten
    for email, seed, api_key, secret in users:  # every value still decrypts to what it was
        row = await db.fetchrow("SELECT u.totp_secret_enc AS t, k.secret_enc AS s FROM auth.app_user u "
                                "JOIN auth.api_key k ON k.user_id = u.id WHERE u.email = $1", email)
        assert decrypt(both, TOTP_PURPOSE, row["t"]) == seed and decrypt(both, SECRET_PURPOSE, row["s"]) == secret
        assert row["t"].startswith("v2.d2.") and row["s"].startswith("v2.d2.")


async def test_rotate_while_logins_and_signed_requests_flow(db, db_dsn, tmp_path):
    users = [await _user_with_secrets(db, KeyRing.single(OLD)) for _ in range(16)]
    keys = {"DATA_ENCRYPTION_KEYS": f"d2:{NEW}", "DATA_ENCRYPTION_KEY": OLD}
    async with phase(db_dsn, tmp_path, **keys) as (settings, c):
        conn = await connect_once(db_dsn)
        try:
            async def traffic(user) -> list[int]:
                email, seed, api_key, secret = user
                r = await c.post("/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD,
                                                             "totp_code": pyotp.TOTP(seed).now()})
                return [r.status_code, await _signed_me(c, api_key, secret)]

            # rotate in one-row transactions while every user signs in and signs a request (bounded)
            outcome = await asyncio.wait_for(asyncio.gather(
                rotate(conn, settings.data_keys, batch_size=1), *(traffic(u) for u in users)), timeout=120)
            result, statuses = outcome[0], outcome[1:]
            assert statuses == [[200, 200]] * len(users)
            # rows busy at the moment were left for a later pass, never skipped for good
            final = await rotate(conn, settings.data_keys, batch_size=50)
            assert result.total + final.total == 2 * len(users) and final.complete
        finally:
            await conn.close()
    assert all(c_.startswith("v2.d2.") for c_ in await _stored(db))


def test_keys_cli_status_and_rotate(db_dsn):
    async def arrange() -> list:
        conn = await connect_once(db_dsn)
        try:
            uid = await conn.fetchval("INSERT INTO auth.app_user (email, password_hash) VALUES ('c@example.com', 'x') "
                                      "RETURNING id")
            await conn.execute("UPDATE auth.app_user SET totp_secret_enc = $2 WHERE id = $1", uid,
                               encrypt(OLD, TOTP_PURPOSE, "SEED"))
            for i in range(3):
                await conn.execute("INSERT INTO auth.api_key (user_id, api_key, secret_enc) VALUES ($1, $2, $3)",
                                   uid, f"cli{i}" + "k" * 20, _v1(OLD, SECRET_PURPOSE, f"s{i}"))
        finally:
            await conn.close()

    asyncio.run(arrange())
    env = {"DATABASE_URL": db_dsn, "MYCRYPTO_ENV": "test", "LOG_JSON": "false",
           "DATA_ENCRYPTION_KEYS": f"d2:{NEW}", "DATA_ENCRYPTION_KEY": OLD, "JWT_KEYS": f"k2:{NEW},k1:{OLD}"}

    def cli(*args: str, **extra: str):  # noqa: ANN202
        from mycrypto.cli import main
        return CliRunner().invoke(main, ["keys", *args], env={**env, **extra}, catch_exceptions=False)

    r = cli("status", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["jwt"] == {"active": "k2", "configured": ["k2", "k1"]}
    assert report["data"]["stores"] == {"api_key_secrets": {"default (v1)": 3}, "totp_seeds": {"default": 1}}
    assert report["data"]["pending_reencryption"] == 4 and NEW not in r.output and OLD not in r.output
    r = cli("rotate", "--batch-size", "2")
    assert r.exit_code == 0, r.output
    assert "api_key_secrets: re-encrypted 3, remaining 0" in r.output and "older data keys can be retired" in r.output
    r = cli("rotate")
    assert r.exit_code == 0 and "0 re-encrypted" in r.output
    r = cli("status", DATA_ENCRYPTION_KEYS=f"d2:{NEW}", DATA_ENCRYPTION_KEY="")
    assert r.exit_code == 0, r.output
    assert "api_key_secrets: d2: 3" in r.output and "not under the active data key: 0" in r.output
    r = cli("status", DATA_ENCRYPTION_KEYS=f"d3:{OLD}", DATA_ENCRYPTION_KEY="")  # d2 retired too early
    assert r.exit_code == 1 and "d2" in r.output and "put those keys back" in r.output
    r = cli("rotate", "--batch-size", "0")
    assert r.exit_code == 2
