"""The embedded PostgreSQL server (the `pgserver` package) used when DATABASE_URL is unset.

A newcomer needs nothing but Python: `mycrypto up` starts a private PostgreSQL in `var/pgdata`,
creates the `mycrypto` database, and stops the server on exit - on Ctrl-C and on SIGTERM alike
(issue 11: uvicorn re-raises a SIGTERM after its shutdown, and with the default disposition that
killed the process before anything could stop the server; `terminate_as_interrupt` makes SIGTERM a
KeyboardInterrupt, so the same `finally` runs).

pgserver shares one server between the processes using the same pgdata and stops it when the last
of them leaves, counting them in `pgdata/.handle_pids.json`. A platform that crashed (SIGKILL, power
loss) stays in that list for ever, so the server it left running was reused by the next start but
never stopped again. `start` drops the pids of processes that no longer exist first: a leftover
server is reused, and stopped when this platform stops.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger("mycrypto.db.embedded")

DATABASE_NAME = "mycrypto"
HANDLES_FILE = ".handle_pids.json"   # pgserver's list of the processes using a server


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # exists, owned by someone else
        return True
    return True


def prune_dead_handles(pgdata: Path) -> list[int]:
    """Forget processes that used the server and died without saying so; returns the pids dropped."""
    path = Path(pgdata) / HANDLES_FILE
    try:
        pids = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return []
    if not isinstance(pids, list):
        return []
    dead = [p for p in pids if not isinstance(p, int) or not _alive(p)]
    if dead:
        path.write_text(json.dumps([p for p in pids if p not in dead]))
        log.warning("embedded PostgreSQL: forgot processes that exited without stopping it",
                    extra={"pids": dead, "pgdata": str(pgdata)})
    return dead


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within: SIGTERM raises KeyboardInterrupt (like Ctrl-C), so cleanup code runs. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class EmbeddedPostgres:
    """Start/stop a pgserver instance and hand out a DSN for a named database in it."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = Path(pgdata).resolve()
        self._server = None

    def start(self, database: str = DATABASE_NAME) -> str:
        warnings.filterwarnings("ignore", module="platformdirs")
        import pgserver  # imported lazily: only the embedded mode needs it

        self.pgdata.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL", extra={"pgdata": str(self.pgdata)})
        with _pgserver_lock():   # the lock pgserver itself takes around its handle list
            prune_dead_handles(self.pgdata)
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "1 row" not in exists:
            self._server.psql(f'CREATE DATABASE "{database}";')
        return self.dsn(database)

    def server_pid(self) -> int | None:
        """The postmaster's pid (tests check it is gone after a stop)."""
        return self._server.get_pid() if self._server is not None else None

    def dsn(self, database: str = DATABASE_NAME) -> str:
        # pgserver listens on a unix socket inside pgdata; asyncpg takes the directory as ?host=
        return f"postgresql://postgres@/{database}?host={quote(str(self.pgdata))}"

    def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            log.info("stopping embedded PostgreSQL")
            server.cleanup()


@contextmanager
def _pgserver_lock() -> Iterator[None]:
    try:
        from pgserver.postgres_server import PostgresServer

        lock = PostgresServer._lock
    except (ImportError, AttributeError):   # another pgserver layout: the pruning is best effort
        yield
        return
    with lock:
        yield
