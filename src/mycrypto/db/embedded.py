"""The embedded PostgreSQL server (the `pgserver` package) used when DATABASE_URL is unset.

A newcomer needs nothing but Python: `mycrypto up` starts a private PostgreSQL in `var/pgdata`,
creates the `mycrypto` database, and stops the server on exit.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger("mycrypto.db.embedded")

DATABASE_NAME = "mycrypto"


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
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "1 row" not in exists:
            self._server.psql(f'CREATE DATABASE "{database}";')
        return self.dsn(database)

    def dsn(self, database: str = DATABASE_NAME) -> str:
        # pgserver listens on a unix socket inside pgdata; asyncpg takes the directory as ?host=
        return f"postgresql://postgres@/{database}?host={quote(str(self.pgdata))}"

    def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            log.info("stopping embedded PostgreSQL")
            server.cleanup()
