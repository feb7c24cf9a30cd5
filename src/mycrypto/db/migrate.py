"""A small migration runner for the numbered SQL files in `db/migrations/` (see docs/adr/0002).

- Files are named `NNN-description.sql` and applied in numeric order, each in its own transaction.
- Every applied file is recorded in `public.schema_migration` with its SHA-256; if an applied file
  has changed since, nothing runs and the changed file is named (edit history by adding a file).
- Statements run one at a time so a failure names the file, the statement number and its text.
- A PostgreSQL advisory lock serialises concurrent runners (two replicas starting at once).
"""
from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import asyncpg

MIGRATIONS_PACKAGE = "mycrypto.db.migrations"
_FILE_NAME = re.compile(r"^(\d{3})-([a-z0-9-]+)\.sql$")
_LOCK_KEY = 7_414_230_001  # advisory lock id reserved for the migration runner

BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS public.schema_migration (
    version      text PRIMARY KEY,
    name         text NOT NULL,
    checksum     text NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    duration_ms  integer NOT NULL
)
"""


class MigrationError(Exception):
    """A migration cannot be applied; the message names the file (and statement)."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def filename(self) -> str:
        return f"{self.version}-{self.name}.sql"

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class MigrationState:
    migration: Migration | None
    version: str
    name: str
    status: str  # applied | pending | changed | missing
    applied_at: object = None


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Read the migration files (from the package, or a directory in tests)."""
    if directory is not None:
        files = [(p.name, p.read_text()) for p in Path(directory).iterdir()]
    else:
        root = resources.files(MIGRATIONS_PACKAGE)
        files = [(p.name, p.read_text()) for p in root.iterdir() if p.name.endswith(".sql")]
    out: list[Migration] = []
    for name, text in files:
        if not name.endswith(".sql"):
            continue
        m = _FILE_NAME.fullmatch(name)
        if not m:
            raise MigrationError(f"migration file name {name!r} does not match NNN-description.sql")
        out.append(Migration(m.group(1), m.group(2), text))
    out.sort(key=lambda m: m.version)
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number: {versions}")
    return out


def split_statements(sql: str) -> list[str]:
    """Split SQL into statements on top-level semicolons, respecting quotes, comments and $$ bodies."""
    out: list[str] = []
    buf: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j == -1 else j
            buf.append(sql[i:j])
            i = j
        elif c == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j == -1 else j + 2
            buf.append(sql[i:j])
            i = j
        elif c in ("'", '"'):
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:  # doubled quote escape
                        j += 2
                        continue
                    break
                j += 1
            buf.append(sql[i:j + 1])
            i = j + 1
        elif c == "$":
            m = re.match(r"\$[A-Za-z_]*\$", sql[i:])
            if m:
                tag = m.group(0)
                j = sql.find(tag, i + len(tag))
                j = n if j == -1 else j + len(tag)
                buf.append(sql[i:j])
                i = j
            else:
                buf.append(c)
                i += 1
        elif c == ";":
            stmt = "".join(buf).strip()
            if _has_code(stmt):
                out.append(stmt)
            buf = []
            i += 1
        else:
            buf.append(c)
            i += 1
    stmt = "".join(buf).strip()
    if _has_code(stmt):
        out.append(stmt)
    return out


def _has_code(stmt: str) -> bool:
    without_comments = re.sub(r"--[^\n]*|/\*.*?\*/", "", stmt, flags=re.S)
    return bool(without_comments.strip())


async def status(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[MigrationState]:
    """Applied / pending / changed / missing, for `mycrypto migrate --status`."""
    migrations = load_migrations() if migrations is None else migrations
    await conn.execute(BOOKKEEPING)
    rows = {r["version"]: r for r in await conn.fetch(
        "SELECT version, name, checksum, applied_at FROM public.schema_migration")}
    out: list[MigrationState] = []
    for m in migrations:
        row = rows.pop(m.version, None)
        if row is None:
            out.append(MigrationState(m, m.version, m.name, "pending"))
        elif row["checksum"] != m.checksum:
            out.append(MigrationState(m, m.version, m.name, "changed", row["applied_at"]))
        else:
            out.append(MigrationState(m, m.version, m.name, "applied", row["applied_at"]))
    for version, row in sorted(rows.items()):
        out.append(MigrationState(None, version, row["name"], "missing", row["applied_at"]))
    return out


async def migrate(conn: asyncpg.Connection, migrations: list[Migration] | None = None,
                  log: object = None) -> list[Migration]:
    """Apply every pending migration in order; refuse to run if an applied file has changed."""
    migrations = load_migrations() if migrations is None else migrations
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        states = await status(conn, migrations)
        changed = [s for s in states if s.status == "changed"]
        if changed:
            names = ", ".join(f"{s.version}-{s.name}.sql" for s in changed)
            raise MigrationError(f"applied migration file(s) changed since they ran: {names}. "
                                 "Never edit an applied migration; add a new numbered file instead.")
        applied: list[Migration] = []
        for state in states:
            if state.status != "pending" or state.migration is None:
                continue
            await _apply(conn, state.migration)
            applied.append(state.migration)
            if callable(log):
                log(state.migration)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def _apply(conn: asyncpg.Connection, migration: Migration) -> None:
    started = time.perf_counter()
    statements = split_statements(migration.sql)
    tx = conn.transaction()
    await tx.start()
    try:
        for number, stmt in enumerate(statements, 1):
            try:
                await conn.execute(stmt)
            except asyncpg.PostgresError as exc:
                first_line = stmt.strip().splitlines()[0][:120]
                raise MigrationError(
                    f"{migration.filename} failed at statement {number} ({first_line!r}): "
                    f"{type(exc).__name__}: {exc}; rolled back, nothing from this file was applied"
                ) from None
        await conn.execute(
            "INSERT INTO public.schema_migration (version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4)",
            migration.version, migration.name, migration.checksum,
            int((time.perf_counter() - started) * 1000))
    except BaseException:
        await tx.rollback()
        raise
    else:
        await tx.commit()
