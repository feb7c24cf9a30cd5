"""Shared fixtures: a fresh migrated PostgreSQL database per test, settings, the app and an HTTP client.

Tiers: tests/unit (pure, no I/O), tests/integration (real PostgreSQL/Redis/RabbitMQ/SMTP),
tests/e2e (through HTTP, including a real uvicorn server), tests/browser (Chromium).
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from mycrypto.apps import create_app
from mycrypto.config import Settings
from mycrypto.db.database import Database
from tests.support.databases import TestDatabases, server_dsn
from tests.support.services import free_port, in_ci


@pytest.fixture(scope="session")
def test_databases() -> Iterator[TestDatabases]:
    try:
        admin_dsn, embedded = server_dsn()
    except Exception as exc:  # no server at all: that is a failure in CI, a skip on a laptop
        if in_ci():
            pytest.fail(f"no PostgreSQL for tests: {exc}")
        pytest.skip(f"no PostgreSQL for tests: {exc}")
    dbs = TestDatabases(admin_dsn)
    try:
        dbs.create_template()
    except Exception as exc:
        pytest.fail(f"cannot create the test template database: {exc}")
    yield dbs
    dbs.close()
    if embedded is not None:
        embedded.stop()


@pytest.fixture
def db_dsn(test_databases: TestDatabases) -> Iterator[str]:
    """A fresh, fully migrated database for this test only."""
    dsn = test_databases.new_clone()
    yield dsn
    test_databases.drop_later(dsn)


def make_settings(db_dsn: str, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        env="test", database_url=db_dsn, redis_url=None, amqp_url=None, smtp_url=None,
        db_pool_min=1, db_pool_max=5, log_json=False, log_level="WARNING", rate_limits_enabled=True,
        registration_enabled=True, host="127.0.0.1", port=8000, trade_markets=[], cors_origins=[],
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(db_dsn: str) -> Settings:
    return make_settings(db_dsn)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """A pool on the test database (separate from the app's), for arranging and asserting."""
    database = Database(settings.database_url, min_size=1, max_size=3)  # type: ignore[arg-type]
    await database.connect()
    yield database
    await database.close()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[object]:
    application = create_app(settings, access_log=False)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


class LiveServer:
    """A real uvicorn server in a background thread (for ccxt, browsers, load drivers)."""

    def __init__(self, settings: Settings, *, access_log: bool = False) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings.model_copy(update={"port": self.port}), access_log=access_log)
        # the WebSocket implementation `mycrypto serve` runs (cli.py; the streams write frames through it)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_config=None, lifespan="on", ws="websockets-sansio"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 60
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(settings).start()
    yield server
    server.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def run(coro):  # noqa: ANN001 - for sync tests that need one async call
    return asyncio.run(coro)
