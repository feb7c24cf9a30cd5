"""The asyncpg connection pool and the unit of work every use case runs in.

`async with db.unit_of_work() as uow:` opens a transaction on one pooled connection and ROLLS BACK
unless `await uow.commit()` was called, so an exception (or a forgotten commit) can never leave
half a money movement behind. Repositories receive `uow.conn`; they never commit.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import asyncpg
import orjson

log = logging.getLogger("mycrypto.db")
_transaction_observers: list[Callable[[float], None]] = []


def observe_transactions(observer: Callable[[float], None]) -> None:
    """Tell `observer` each unit of work's duration in seconds (BEGIN..COMMIT/ROLLBACK). common/metrics.py
    adds its histogram here: db/ sits below common/ and imports none of it."""
    _transaction_observers.append(observer)


class DatabaseUnavailable(Exception):
    """The database cannot be reached or refused the connection; the message is one clear line."""


# The driver's errors that mean "the database could not be reached, or the connection was lost": the
# outcome of a statement in flight is unknown (it may have committed), unlike a refusal the data
# explains. The trade engine decides between "replay" and "find out what committed" on this.
# asyncpg's InternalClientError ("cannot switch to state N; another operation is in progress") is what a
# pooled connection whose session the server terminated mid-operation raises (MagicStack/asyncpg#784,
# #1069; seen in the PostgreSQL restart drill and found by the seeded simulation, where the pool hands out a connection terminated while idle): the connection is broken, the outcome unknown.
DB_DOWN = (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
           asyncpg.TooManyConnectionsError, asyncpg.AdminShutdownError, asyncpg.CrashShutdownError,
           asyncpg.InternalClientError, DatabaseUnavailable, TimeoutError)


class Queryable(Protocol):
    """What a repository function receives: an asyncpg Connection (inside a unit of work), a Pool, or
    `Database` (a read outside any transaction). Functions that need the caller's transaction take
    `asyncpg.Connection` instead."""

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]: ...

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None: ...

    async def fetchval(self, query: str, *args: Any) -> Any: ...

    async def execute(self, query: str, *args: Any) -> str: ...


def describe_dsn(dsn: str) -> str:
    """host:port/db without the password, for messages and logs."""
    parts = urlsplit(dsn)
    host = parts.hostname or "unix-socket"
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}{parts.path or '/'}"


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(typename, schema="pg_catalog", encoder=lambda v: orjson.dumps(v).decode(),
                                  decoder=orjson.loads, format="text")


async def connect_once(dsn: str, timeout: float = 10.0) -> asyncpg.Connection:
    """One connection (CLI tools, migrations), with errors turned into DatabaseUnavailable."""
    try:
        conn = await asyncpg.connect(dsn, timeout=timeout)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError, ValueError) as exc:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {describe_dsn(dsn)}: {exc}") from None
    await _init_connection(conn)
    return conn


class Database:
    """Owns the pool. Reads that need no transaction may use `fetch*`; writes use `unit_of_work()`."""

    def __init__(self, dsn: str, *, min_size: int = 2, max_size: int = 10,
                 statement_timeout_ms: int = 15000, statement_cache_size: int = 100) -> None:
        self.dsn = dsn
        self.min_size = min_size
        self.max_size = max(max_size, min_size)
        self.statement_timeout_ms = statement_timeout_ms
        # 0 behind PgBouncer in transaction mode: asyncpg then prepares statements unnamed, per use
        self.statement_cache_size = statement_cache_size
        self.pool: asyncpg.Pool | None = None

    async def connect(self) -> None:
        try:
            self.pool = await asyncpg.create_pool(
                self.dsn, min_size=self.min_size, max_size=self.max_size, init=_init_connection,
                server_settings={"application_name": "mycrypto",
                                 "statement_timeout": str(self.statement_timeout_ms)},
                timeout=10, statement_cache_size=self.statement_cache_size,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError, ValueError) as exc:
            raise DatabaseUnavailable(
                f"cannot connect to PostgreSQL at {describe_dsn(self.dsn)}: {exc}") from None

    async def close(self) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            await pool.close()

    def _pool(self) -> asyncpg.Pool:
        if self.pool is None:
            raise DatabaseUnavailable("the database pool is not connected")
        return self.pool

    def acquire(self) -> Any:
        return self._pool().acquire()

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return await self._pool().fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        return await self._pool().fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._pool().fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        return await self._pool().execute(query, *args)

    async def ping(self, timeout: float = 2.0) -> bool:
        try:
            return await self._pool().fetchval("SELECT 1", timeout=timeout) == 1
        except Exception:  # any failure means "not healthy"; the health endpoint reports it
            return False


class UnitOfWork:
    """One transaction on one connection; rolls back unless committed. Runs after-commit hooks."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.conn: asyncpg.Connection = None  # type: ignore[assignment]
        self._tx: Any = None
        self._committed = False
        self._finished = False  # committed, or a failed COMMIT already ended the transaction
        self._after_commit: list[Callable[[], Awaitable[None] | None]] = []

    async def __aenter__(self) -> UnitOfWork:
        self._started = time.perf_counter()
        self._cm = self._db._pool().acquire()
        self.conn = await self._cm.__aenter__()
        try:
            self._tx = self.conn.transaction()
            await self._tx.start()
        except BaseException:
            # failed or cancelled during BEGIN: give the connection back, or Pool.close() waits forever
            await self._cm.__aexit__(None, None, None)
            raise
        return self

    async def commit(self) -> None:
        try:
            await self._tx.commit()
        except BaseException:
            # e.g. a deferred constraint (unbalanced posting) failing at COMMIT: PostgreSQL has already
            # rolled back, and a second ROLLBACK would hide the real error behind an InterfaceError.
            self._finished = True
            raise
        self._committed = True
        self._finished = True

    def after_commit(self, hook: Callable[[], Awaitable[None] | None]) -> None:
        """Run `hook` once the transaction has committed (e.g. wake the outbox relay)."""
        self._after_commit.append(hook)

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if not self._finished:
                await self._tx.rollback()
        finally:
            await self._cm.__aexit__(exc_type, exc, tb)
            elapsed = time.perf_counter() - self._started
            for observe in _transaction_observers:
                observe(elapsed)
        if self._committed:
            for hook in self._after_commit:
                try:
                    result = hook()
                    if result is not None:
                        await result
                except Exception:  # a side effect must never undo or fail a committed use case
                    log.exception("after-commit hook failed")
