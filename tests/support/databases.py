"""Real PostgreSQL for tests: one migrated template per session, one fresh clone per test.

TEST_DATABASE_URL (or DATABASE_URL) names a server and a maintenance database we may CREATE DATABASE
from; CI points it at the machine's PostgreSQL. Without either, an embedded pgserver instance under
var/test-pgdata is used, so the suite also runs on a laptop with nothing installed.
Clones are dropped by a background thread so a test does not wait for DROP DATABASE.
"""
from __future__ import annotations

import asyncio
import os
import queue
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from mycrypto.db.migrate import migrate

ROOT = Path(__file__).resolve().parents[2]


def server_dsn() -> tuple[str, object | None]:
    """DSN of a maintenance database on the test server, and the embedded server handle if we started one."""
    dsn = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if dsn:
        return dsn, None
    from mycrypto.db.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(ROOT / "var" / "test-pgdata")
    server.start("postgres")
    return server.dsn("postgres"), server


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


class TestDatabases:
    """Creates the migrated template and hands out clones of it."""

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self.prefix = f"mct_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.template = f"{self.prefix}_tpl"
        self._n = 0
        self._drops: queue.Queue[str | None] = queue.Queue()
        self._dropper = threading.Thread(target=self._drop_loop, daemon=True)
        self._dropper.start()

    def _run(self, coro):  # noqa: ANN001 - tiny sync bridge for session setup/teardown
        return asyncio.run(coro)

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.admin_dsn, timeout=10)

    def create_template(self) -> None:
        async def go() -> None:
            conn = await self._admin()
            try:
                await conn.execute(f'CREATE DATABASE "{self.template}"')
            finally:
                await conn.close()
            conn = await asyncpg.connect(with_database(self.admin_dsn, self.template))
            try:
                await migrate(conn)
            finally:
                await conn.close()
        self._run(go())

    def new_clone(self) -> str:
        self._n += 1
        name = f"{self.prefix}_{self._n}"

        async def go() -> None:
            conn = await self._admin()
            try:
                await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            finally:
                await conn.close()
        self._run(go())
        return with_database(self.admin_dsn, name)

    async def new_clone_async(self) -> str:
        self._n += 1
        name = f"{self.prefix}_{self._n}"
        conn = await self._admin()
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        finally:
            await conn.close()
        return with_database(self.admin_dsn, name)

    def drop_later(self, dsn: str) -> None:
        self._drops.put(urlsplit(dsn).path.lstrip("/"))

    def _drop_loop(self) -> None:
        while True:
            name = self._drops.get()
            if name is None:
                return
            try:
                self._run(self._drop(name))
            except Exception:  # a leftover test database is harmless; the session-end sweep retries
                pass

    async def _drop(self, name: str) -> None:
        conn = await self._admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    def close(self) -> None:
        self._drops.put(None)
        self._dropper.join(timeout=120)

        async def sweep() -> None:
            conn = await self._admin()
            try:
                names = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1",
                                         self.prefix + "%")
                for row in names:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
            finally:
                await conn.close()
        self._run(sweep())
