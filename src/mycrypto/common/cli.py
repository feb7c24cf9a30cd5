"""What every `mycrypto` command shares: the settings, the database (configured or embedded), running a
coroutine, and turning expected failures into one `error:` line and a non-zero exit.

The top-level command (`mycrypto.cli`) and the services' own commands (`<package>/cli.py`, which
`mycrypto.cli` registers) use these, so the services' commands depend on nothing above them.
"""
from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from ..config import ConfigError, Settings, load_settings
from ..db.database import Database, DatabaseUnavailable, connect_once
from ..db.migrate import MigrationError
from .errors import AppError

T = TypeVar("T")
EXPECTED_ERRORS = (ConfigError, DatabaseUnavailable, MigrationError)


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def get_settings(ctx: click.Context) -> Settings:
    if ctx.obj is None:
        try:
            ctx.obj = load_settings()
            ctx.obj.check_production()
        except ConfigError as exc:
            fail(str(exc), 2)
    return ctx.obj


@contextmanager
def database(settings: Settings) -> Iterator[Settings]:
    """Yield settings whose database_url is usable: the configured one, or an embedded server's."""
    if settings.database_url is not None:
        yield settings
        return
    from ..db.embedded import EmbeddedPostgres, terminate_as_interrupt

    server = EmbeddedPostgres(settings.pgdata_dir)
    # SIGTERM becomes a KeyboardInterrupt while the embedded server runs: the `finally` below stops it
    # (the default SIGTERM disposition would kill the process and leave PostgreSQL running).
    with terminate_as_interrupt():
        try:
            dsn = server.start()
        except Exception as exc:  # pgserver raises assorted errors; one clear line is what the user needs
            fail(f"cannot start the embedded PostgreSQL in {settings.pgdata_dir}: {exc}")
        try:
            yield settings.model_copy(update={"database_url": dsn})
        finally:
            server.stop()


def run_async(fn: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(fn())
    except EXPECTED_ERRORS as exc:
        fail(str(exc))
    raise AssertionError("unreachable")


async def with_connection(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    conn = await connect_once(settings.database_url)  # type: ignore[arg-type]
    try:
        return await fn(conn)
    finally:
        await conn.close()


def with_pool(settings: Settings, fn: Callable[[Database], Awaitable[T]],
                  expected: tuple[type[Exception], ...] = ()) -> T:
    """Run `fn(db)` on a small pool of its own (for code that takes a Database, not a connection). An
    AppError, or an error of one of the `expected` types, becomes one `error:` line."""
    async def go() -> T:
        db = Database(settings.database_url, min_size=1, max_size=2)  # type: ignore[arg-type]
        await db.connect()
        try:
            return await fn(db)
        finally:
            await db.close()

    try:
        return run_async(go)
    except (AppError, *expected) as exc:
        fail(getattr(exc, "message", None) or str(exc))
    raise AssertionError("unreachable")
