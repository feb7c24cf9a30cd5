"""Fixtures of the alert tests: the whole app with email going to a real SMTP server (aiosmtpd)."""
from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from mycrypto.apps import create_app
from tests.conftest import make_settings
from tests.support.smtp import SmtpSink


@pytest.fixture
def smtp_sink():
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def settings(db_dsn, tmp_path, smtp_sink):
    # email retries fast, so a test never waits on the relay's backoff
    return make_settings(db_dsn, data_dir=tmp_path, smtp_url=smtp_sink.url, email_retry_base_s=0.2,
                         alerts_max_per_user=5)


@pytest.fixture
async def app(settings) -> AsyncIterator[object]:
    application = create_app(settings, access_log=False)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
