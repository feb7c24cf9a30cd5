"""Security suite fixtures: a real server (uvicorn on a free port, real PostgreSQL) with two ordinary users
and an admin, each signed in over HTTP, alice also with a signed API key - the attacker's view.

`platform` is module-scoped data on a function-scoped database (a fresh clone per test module would be
cheaper, but the root fixtures are function-scoped; each test module builds its platform once per test,
so tests keep their own small number of requests).
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, make_settings
from tests.support.factories import DEFAULT_PASSWORD, create_user, fund


@dataclass
class User:
    id: int
    email: str
    access_token: str
    refresh_token: str
    session_id: str
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""
    api_key: str = ""
    api_secret: str = ""
    api_key_id: int = 0

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass
class Platform:
    url: str
    server: LiveServer
    settings: Any
    db: Any
    alice: User
    bob: User
    admin: User

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


def sign_in(url: str, email: str, *, cookies: bool = False) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.post("/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD, "use_cookies": cookies})
        assert r.status_code == 200, r.text
        return {"body": r.json(), "cookies": dict(r.cookies)}


def new_user(url: str, user_id: int, email: str) -> User:
    plain = sign_in(url, email)["body"]
    web = sign_in(url, email, cookies=True)
    return User(user_id, email, plain["access_token"], plain["refresh_token"], plain["session_id"],
                cookies=web["cookies"], csrf=web["body"]["csrf_token"])


def add_api_key(url: str, user: User, permissions: list[str] | None = None) -> None:
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.post("/api/v1/auth/api-keys", headers=user.bearer,
                   json={"label": "security-suite", "permissions": permissions or ["read", "trade"]})
        assert r.status_code == 201, r.text
        body = r.json()
        user.api_key, user.api_secret, user.api_key_id = body["api_key"], body["secret"], body["id"]


async def start_platform(db: Any, db_dsn: str, *, access_log: bool = False, **overrides: Any) -> Platform:
    """Users first (directly in the database: factories), then the server, then sign-ins over HTTP."""
    ids = {}
    for name, role in (("alice", "user"), ("bob", "user"), ("admin", "admin")):
        ids[name] = await create_user(db, email=f"{name}@example.com", role=role)
    for name in ("alice", "bob"):
        await fund(db, ids[name], "USDT", "100000")
        await fund(db, ids[name], "BTC", "10")
    values: dict[str, Any] = {"wallet_watch_interval_s": 0}
    values.update(overrides)
    settings = make_settings(db_dsn, **values)
    server = LiveServer(settings, access_log=access_log).start()
    users = {name: new_user(server.url, ids[name], f"{name}@example.com") for name in ids}
    add_api_key(server.url, users["alice"])
    add_api_key(server.url, users["bob"])
    return Platform(server.url, server, settings, db, users["alice"], users["bob"], users["admin"])


@pytest.fixture
async def platform(db: Any, db_dsn: str) -> AsyncIterator[Platform]:
    """Rate limits OFF (the suite's many requests would trip them); test_owasp_api4 turns them on."""
    p = await start_platform(db, db_dsn, rate_limits_enabled=False)
    try:
        yield p
    finally:
        p.server.stop()
