"""A pooled connection the server terminated while it sat idle (a PostgreSQL restart, pg_terminate_backend,
a proxy's idle timeout) must fail as "the database connection was lost" (`DB_DOWN`), never as an
unexplained error: the trade engine decides between "replay" and "find out what committed" on DB_DOWN.

Found by the seeded simulation (docs/simulation.md): asyncpg hands out such a connection before it has
noticed the socket closed, and the first statement on it raises `InternalClientError` ("cannot switch to
state ...; another operation (2) is in progress") - which DB_DOWN did not include.
"""
from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg

from mycrypto.db.database import DB_DOWN, Database


async def test_statements_on_server_terminated_pool_connections_fail_as_db_down(db_dsn: str) -> None:
    database = Database(db_dsn, min_size=6, max_size=6)
    await database.connect()
    observer = await asyncpg.connect(db_dsn)
    outcomes: Counter = Counter()
    try:
        for trial in range(12):
            await asyncio.gather(*(database.fetchval("SELECT 1") for _ in range(6)))
            await observer.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            for _ in range(trial % 4):   # vary how far the loop got in reading the termination
                await asyncio.sleep(0)
            results = await asyncio.gather(*(database.fetchval("SELECT 1") for _ in range(6)),
                                           return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    outcomes[type(result).__name__] += 1
                    assert isinstance(result, DB_DOWN), f"{result!r} is not classified as a lost connection"
                else:
                    outcomes["ok"] += 1
        # the pool heals: after the failures, every statement works again
        assert await asyncio.gather(*(database.fetchval("SELECT 1") for _ in range(6))) == [1] * 6
    finally:
        await observer.close()
        await database.close()
    assert sum(n for k, n in outcomes.items() if k != "ok") > 0, outcomes   # the fault really happened
