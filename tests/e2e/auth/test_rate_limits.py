"""Rate limits through HTTP on every protected action (docs/auth.md "Rate limits"): login, resend, reset
and 2FA attempts per IP and/or per account (register and forgot-password are in
test_passwords_and_lockout.py), each refused with 429 `rate_limited` + Retry-After and changing
nothing; and, with REDIS_URL set, the buckets live in Redis and are shared by every replica.

Buckets refill continuously, so where a bucket refills within seconds (login: 30 per 5 minutes per
IP) the test allows a token or two of refill instead of assuming an exact count."""
from __future__ import annotations

import uuid

import httpx
import redis.asyncio as aioredis
from asgi_lifespan import LifespanManager

from mycrypto.apps import create_app
from tests.conftest import make_settings
from tests.e2e.auth.helpers import PASSWORD, bearer, fast_hash_settings, login, register_verified
from tests.support.services import REDIS_URL, require


def _refused(r: httpx.Response) -> bool:
    if r.status_code != 429:
        return False
    assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
    return True


async def test_login_is_limited_per_account_and_per_ip(auth_client, db):
    # per account (the normalised email, known or not): 10 per 5 minutes
    ghost = [await auth_client.post("/api/v1/auth/login", json={"email": "Ghost@example.com", "password": PASSWORD})
             for _ in range(11)]
    assert [r.status_code for r in ghost[:10]] == [401] * 10 and _refused(ghost[10])
    assert await db.fetchval("SELECT count(*) FROM auth.audit_log WHERE event = 'login_failed'") == 10
    # per IP, over many accounts: 30 per 5 minutes (11 spent above)
    statuses = []
    for i in range(25):
        r = await auth_client.post("/api/v1/auth/login", json={"email": f"spray{i}@example.com", "password": PASSWORD})
        statuses.append(r.status_code)
        if _refused(r):
            break
    assert statuses[-1] == 429 and 19 <= statuses.index(429) <= 21, statuses
    assert set(statuses[:-1]) == {401}


async def test_resend_verification_is_limited_per_account_and_per_ip(auth_client, db):
    await auth_client.post("/api/v1/auth/register", json={"email": "nell@example.com", "password": PASSWORD})
    tokens_before = await db.fetchval("SELECT count(*) FROM auth.email_token")
    codes = [(await auth_client.post("/api/v1/auth/resend-verification", json={"email": "nell@example.com"})).status_code
             for _ in range(4)]
    assert codes == [202, 202, 202, 429]  # 3 per hour per address
    assert await db.fetchval("SELECT count(*) FROM auth.email_token") == tokens_before + 3  # the 429 sent nothing
    # 5 per hour per IP: 4 spent above (the refused one too)
    r = await auth_client.post("/api/v1/auth/resend-verification", json={"email": "other@example.com"})
    assert r.status_code == 202
    assert _refused(await auth_client.post("/api/v1/auth/resend-verification", json={"email": "third@example.com"}))


async def test_reset_password_submissions_are_limited_per_ip(auth_client, db):
    body = {"token": "pr_guessed_token_value", "new_password": "a-perfectly-fine-passphrase"}
    codes = [(await auth_client.post("/api/v1/auth/reset-password", json=body)).status_code for _ in range(11)]
    assert codes[:10] == [400] * 10 and codes[10] == 429  # 10 guesses per hour per IP


async def test_2fa_attempts_are_limited_per_account(auth_client, auth_settings, db):
    await register_verified(auth_client, auth_settings, "otto@example.com")
    tokens = await login(auth_client, "otto@example.com")
    r = await auth_client.post("/api/v1/auth/2fa/enroll", headers=bearer(tokens))
    assert r.status_code == 200
    codes = [(await auth_client.post("/api/v1/auth/2fa/confirm", json={"code": "000000"},
                                     headers=bearer(tokens))).status_code for _ in range(21)]
    assert codes[:20] == [401] * 20 and codes[20] == 429  # 20 codes per 15 minutes per user
    assert await db.fetchval("SELECT totp_enabled_at FROM auth.app_user") is None


async def test_with_redis_the_buckets_are_in_redis_and_shared_by_replicas(db_dsn, tmp_path):
    redis_url = require("Redis", REDIS_URL, 6379)
    prefix = f"test:{uuid.uuid4().hex}:"
    settings = make_settings(db_dsn, redis_url=redis_url, rate_limit_prefix=prefix, data_dir=tmp_path,
                             **fast_hash_settings())
    replicas = [create_app(settings, ("auth",), access_log=False) for _ in range(2)]
    redis = aioredis.from_url(redis_url)
    try:
        async with LifespanManager(replicas[0]), LifespanManager(replicas[1]):
            clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://t") for a in replicas]
            async with clients[0], clients[1]:
                # 10 sign-ups per hour per IP, spread over both replicas
                codes = [(await clients[i % 2].post("/api/v1/auth/register",
                                                    json={"email": f"r{i}@example.com", "password": PASSWORD})).status_code
                         for i in range(10)]
                assert codes == [202] * 10
                for c in clients:
                    assert _refused(await c.post("/api/v1/auth/register",
                                                 json={"email": "late@example.com", "password": PASSWORD}))
        keys = {k.decode() async for k in redis.scan_iter(prefix + "*")}
        assert prefix + "register:ip:127.0.0.1" in keys
    finally:
        keys = [k async for k in redis.scan_iter(prefix + "*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()

