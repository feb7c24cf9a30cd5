"""Fixtures of the auth end-to-end tests: an app in embedded mail mode with a temp data dir."""
from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from mycrypto.apps import create_app
from tests.conftest import make_settings
from tests.e2e.auth.helpers import fast_hash_settings
from tests.support.smtp import SmtpSink


@pytest.fixture
def auth_settings(db_dsn, tmp_path):
    return make_settings(db_dsn, data_dir=tmp_path, **fast_hash_settings())


@pytest.fixture
async def auth_app(auth_settings) -> AsyncIterator[object]:
    application = create_app(auth_settings, access_log=False)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@pytest.fixture
async def auth_client(auth_app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=auth_app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def smtp_sink():
    with SmtpSink() as sink:
        yield sink
