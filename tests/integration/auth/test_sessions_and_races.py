"""Races on real PostgreSQL transactions (refresh rotation, duplicate sign-up) and cross-replica session
revocation through the status cache (effective within its TTL)."""
from __future__ import annotations

import asyncio

import httpx
from asgi_lifespan import LifespanManager

from mycrypto.apps import create_app
from tests.conftest import make_settings
from tests.e2e.auth.helpers import PASSWORD, fast_hash_settings


async def _app_client(settings):  # noqa: ANN001, ANN202
    app = create_app(settings, access_log=False)
    manager = LifespanManager(app)
    await manager.__aenter__()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    return app, manager, client


async def test_concurrent_refreshes_of_one_token_rotate_once_and_revoke(db_dsn, db, tmp_path):
    settings = make_settings(db_dsn, data_dir=tmp_path, rate_limits_enabled=False, **fast_hash_settings())
    app, manager, client = await _app_client(settings)
    try:
        await client.post("/api/v1/auth/register", json={"email": "race@example.com", "password": PASSWORD})
        tokens = (await client.post("/api/v1/auth/login", json={"email": "race@example.com",
                                                                "password": PASSWORD})).json()
        results = await asyncio.gather(*(client.post("/api/v1/auth/refresh",
                                                     json={"refresh_token": tokens["refresh_token"]})
                                         for _ in range(5)))
        codes = sorted(r.status_code for r in results)
        assert codes.count(200) == 1 and codes.count(401) == 4
        losers = {r.json()["error"]["code"] for r in results if r.status_code == 401}
        # the first loser detects the reuse and revokes the family; later ones find it revoked
        assert "refresh_token_reused" in losers and losers <= {"refresh_token_reused", "invalid_refresh_token"}
        # reuse revoked the family, including the token the winner got
        winner = next(r.json() for r in results if r.status_code == 200)
        r = await client.post("/api/v1/auth/refresh", json={"refresh_token": winner["refresh_token"]})
        assert r.status_code == 401
        assert await db.fetchval("SELECT count(*) FROM auth.refresh_token WHERE revoked_at IS NULL") == 0
    finally:
        await client.aclose()
        await manager.__aexit__(None, None, None)


async def test_concurrent_sign_ups_of_one_email_create_one_user(db_dsn, db, tmp_path):
    settings = make_settings(db_dsn, data_dir=tmp_path, rate_limits_enabled=False, **fast_hash_settings())
    app, manager, client = await _app_client(settings)
    try:
        results = await asyncio.gather(*(client.post("/api/v1/auth/register",
                                                     json={"email": "twin@example.com", "password": PASSWORD})
                                         for _ in range(6)))
        assert {r.status_code for r in results} == {202}
        assert await db.fetchval("SELECT count(*) FROM auth.app_user") == 1
        assert await db.fetchval("SELECT count(*) FROM auth.email_token") == 1
        topics = sorted(r["topic"] for r in await db.fetch("SELECT topic FROM ops.outbox"))
        assert topics == ["email.account_exists"] * 5 + ["email.verify_email"]
    finally:
        await client.aclose()
        await manager.__aexit__(None, None, None)


async def test_a_session_revoked_on_one_replica_stops_working_on_another_within_the_ttl(db_dsn, tmp_path):
    settings = make_settings(db_dsn, data_dir=tmp_path, **fast_hash_settings())
    app1, m1, c1 = await _app_client(settings)
    app2, m2, c2 = await _app_client(settings)
    try:
        app2.state.container.auth.status_cache.ttl = 0.5
        await c1.post("/api/v1/auth/register", json={"email": "rep@example.com", "password": PASSWORD})
        tokens = (await c1.post("/api/v1/auth/login", json={"email": "rep@example.com", "password": PASSWORD})).json()
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await c2.get("/api/v1/auth/me", headers=auth)).status_code == 200  # replica 2 caches the status
        assert (await c1.post("/api/v1/auth/logout", headers=auth)).status_code == 204
        assert (await c1.get("/api/v1/auth/me", headers=auth)).status_code == 401  # at once where it happened
        await asyncio.sleep(0.6)
        r = await c2.get("/api/v1/auth/me", headers=auth)
        assert r.status_code == 401 and r.json()["error"]["code"] == "session_revoked"
    finally:
        for client, manager in ((c1, m1), (c2, m2)):
            await client.aclose()
            await manager.__aexit__(None, None, None)
