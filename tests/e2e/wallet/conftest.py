"""Wallet e2e fixtures: the all-in-one app with the background watcher off, and an HTTP client."""
from __future__ import annotations

import pytest

from tests.e2e.wallet.helpers import started_app, wallet_settings


@pytest.fixture
def wsettings(db_dsn):
    return wallet_settings(db_dsn)


@pytest.fixture
async def wapp(wsettings):
    async for app, client in started_app(wsettings):
        yield app, client
