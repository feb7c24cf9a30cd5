"""Backups you can trust: `mycrypto backup`, `mycrypto restore`, `mycrypto backup verify`.

A backup is two files side by side:
  mycrypto-<db>-<UTC timestamp>.dump            pg_dump custom format (-Fc: compressed, for pg_restore)
  mycrypto-<db>-<UTC timestamp>.manifest.json   what it should contain: size, SHA-256, row count of
                                                every table, the ledger check, tool versions
The row counts, the ledger check and the dump all read ONE snapshot: the backup opens a REPEATABLE
READ transaction, exports its snapshot (pg_export_snapshot) and runs `pg_dump --snapshot` on it, so
the manifest describes exactly what is in the dump even while trading continues. A database whose
books do not balance is still backed up (it is evidence), but the manifest says `ledger.ok: false`
and the command exits 3 so nobody mistakes it for a good one.

Restoring checks the files BEFORE touching the target: the manifest must exist, the size and
SHA-256 must match, and `pg_restore --list` must read the whole archive (a truncated or corrupt file
fails there). Only then is the target created and filled, in one transaction (`--single-transaction
--exit-on-error`), and its row counts compared with the manifest. A target database that already
holds tables is refused unless `replace=True`.

`verify_backup` is the restore drill (the launch checklist's "recovery tested (sample restore)"):
restore into a scratch database, run `mycrypto verify` (ops.verify.verify_books) there, compare every
table's row count with the manifest, drop the scratch database.

Redis is not backed up: it holds only rate-limit buckets and market-data fan-out, all rebuilt by
the services (docs/operations.md). The Python functions here return dataclasses (`BackupResult`,
`RestoreResult`, `BackupVerifyResult`) so other tools (a preflight report) can use them directly.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg

from ..db.database import connect_once, describe_dsn
from . import pgtools
from .verify import verify_books

MANIFEST_FORMAT = "mycrypto-backup/1"
CHUNK = 1 << 20


class BackupError(Exception):
    """The backup or restore cannot be done or is not trustworthy; the message says why."""


# ------------------------------------------------------------------------------------------ results
@dataclass
class BackupResult:
    dump_path: str
    manifest_path: str
    size_bytes: int
    sha256: str
    tables: dict[str, int]
    ledger_ok: bool
    ledger_problems: int
    manifest: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.ledger_ok

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "manifest"} | {"ok": self.ok}


@dataclass
class RestoreResult:
    database: str
    tables: dict[str, int]
    mismatches: dict[str, tuple[int, int]]   # table -> (expected, restored)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "database": self.database, "tables": self.tables,
                "mismatches": {k: {"expected": e, "restored": r} for k, (e, r) in self.mismatches.items()}}


@dataclass
class Step:
    name: str
    ok: bool
    detail: str


@dataclass
class BackupVerifyResult:
    dump_path: str
    steps: list[Step] = field(default_factory=list)
    verify_report: dict[str, Any] | None = None
    mismatches: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "dump_path": self.dump_path, "steps": [asdict(s) for s in self.steps],
                "mismatches": {k: {"expected": e, "restored": r} for k, (e, r) in self.mismatches.items()},
                "verify": self.verify_report}


# ------------------------------------------------------------------------------------------ helpers
def libpq_target(dsn: str) -> tuple[str, dict[str, str]]:
    """(URI without the password, environment with PGPASSWORD): no password on a command line."""
    parts = urlsplit(dsn)
    env = dict(os.environ)
    if parts.password is None:
        return dsn, env
    env["PGPASSWORD"] = unquote(parts.password)
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = netloc[0].split(":", 1)[0]
    return urlunsplit((parts.scheme, f"{userinfo}@{netloc[1]}", parts.path, parts.query, parts.fragment)), env


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(name), parts.query, parts.fragment))


def database_name(dsn: str) -> str:
    return unquote(urlsplit(dsn).path.lstrip("/")) or "postgres"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_path_for(dump: Path) -> Path:
    name = dump.name[:-5] if dump.name.endswith(".dump") else dump.name
    return dump.with_name(name + ".manifest.json")


async def _server_major(conn: Any) -> int:
    return int(await conn.fetchval("SHOW server_version_num")) // 10000


async def table_counts(conn: Any) -> dict[str, int]:
    """Exact row count of every ordinary table outside PostgreSQL's own schemas."""
    tables = await conn.fetch(
        "SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1, 2")
    counts = {}
    for t in tables:
        ident = f'"{t["schema"]}"."{t["name"]}"'
        counts[f"{t['schema']}.{t['name']}"] = int(await conn.fetchval(f"SELECT count(*) FROM {ident}"))
    return counts


# ------------------------------------------------------------------------------------------ backup
async def create_backup(dsn: str, out_dir: str | Path, *, bin_dir: str | Path | None = None,
                        label: str | None = None) -> BackupResult:
    """Dump `dsn` (custom format) with a manifest, both from one snapshot; see the module docstring."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    conn = await connect_once(dsn)
    try:
        major = await _server_major(conn)
        tool = pgtools.pick("pg_dump", at_least=major, prefer=major, bin_dir=bin_dir)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        base = f"mycrypto-{label or database_name(dsn)}-{stamp}"
        dump = out / f"{base}.dump"
        partial = out / f"{base}.dump.partial"
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            started = await conn.fetchval("SELECT now()")
            tables = await table_counts(conn)
            report = await verify_books(conn)
            migrations = await conn.fetchval(
                "SELECT max(version) FROM public.schema_migration") if "public.schema_migration" in tables else None
            target, env = libpq_target(dsn)
            # pg_dump joins our snapshot: it sees exactly the rows counted above
            await _run_in_thread([tool.path, "--format=custom", "--no-owner", "--no-privileges",
                                  f"--snapshot={snapshot}", f"--file={partial}", f"--dbname={target}"], env)
        os.replace(partial, dump)   # a crash mid-dump never leaves a file that looks complete
    finally:
        await conn.close()
    size = dump.stat().st_size
    digest = sha256_of(dump)
    toc = await _list_archive(dump, tool.major, bin_dir)
    problems = sum(c.problem_count for c in report.failures)
    manifest = {
        "format": MANIFEST_FORMAT, "file": dump.name, "size_bytes": size, "sha256": digest,
        "created_at": datetime.now(UTC).isoformat(), "snapshot_at": started.astimezone(UTC).isoformat(),
        "source": describe_dsn(dsn), "server_major": major, "pg_dump": {"path": tool.path, "version": tool.version,
                                                                       "major": tool.major},
        "schema_version": migrations, "toc_entries": toc, "tables": tables,
        "ledger": {"ok": report.ok, "problems": problems, "failed_checks": [c.name for c in report.failures]},
    }
    manifest_file = manifest_path_for(dump)
    manifest_file.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return BackupResult(str(dump), str(manifest_file), size, digest, tables, report.ok, problems, manifest)


async def _run_in_thread(args: list[str], env: dict[str, str]) -> None:
    import asyncio
    import subprocess

    def go() -> None:
        done = subprocess.run(args, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            raise BackupError(f"{os.path.basename(args[0])} failed (exit {done.returncode}): {tail}")

    await asyncio.to_thread(go)


async def _list_archive(dump: Path, at_least: int, bin_dir: str | Path | None) -> int:
    """Read the whole archive's table of contents; a truncated or corrupt file raises BackupError."""
    import asyncio

    tool = pgtools.pick("pg_restore", at_least=at_least, prefer=at_least, bin_dir=bin_dir)
    try:
        done = await asyncio.to_thread(pgtools.run, [tool.path, "--list", str(dump)], 600)
    except RuntimeError as exc:
        raise BackupError(f"the archive {dump.name} is not readable: {exc}") from None
    return sum(1 for line in done.stdout.splitlines() if line and not line.startswith(";"))


# ------------------------------------------------------------------------------------------ checking
async def check_backup(dump_path: str | Path, *, bin_dir: str | Path | None = None) -> dict[str, Any]:
    """Prove the files are what the manifest says (exists, size, SHA-256, readable archive) and return
    the manifest; raise BackupError naming the first problem. Touches no database."""
    dump = Path(dump_path)
    if not dump.is_file():
        raise BackupError(f"no backup file at {dump}")
    manifest_file = manifest_path_for(dump)
    if not manifest_file.is_file():
        raise BackupError(f"the manifest {manifest_file.name} is missing: cannot prove the backup is complete")
    try:
        manifest = json.loads(manifest_file.read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"the manifest {manifest_file.name} is not valid JSON: {exc}") from None
    if manifest.get("format") != MANIFEST_FORMAT:
        raise BackupError(f"the manifest {manifest_file.name} is not a {MANIFEST_FORMAT} manifest")
    size = dump.stat().st_size
    if size != manifest.get("size_bytes"):
        raise BackupError(f"{dump.name} is {size} bytes, the manifest says {manifest.get('size_bytes')}: "
                          "truncated or replaced")
    digest = sha256_of(dump)
    if digest != manifest.get("sha256"):
        raise BackupError(f"{dump.name} has SHA-256 {digest[:16]}..., the manifest says "
                          f"{str(manifest.get('sha256'))[:16]}...: the file is corrupt or was changed")
    await _list_archive(dump, int(manifest.get("pg_dump", {}).get("major", 0)), bin_dir)
    return manifest


# ------------------------------------------------------------------------------------------ restore
async def restore_backup(dump_path: str | Path, target_dsn: str, *, replace: bool = False,
                         bin_dir: str | Path | None = None) -> RestoreResult:
    """Restore into the database named by `target_dsn` (created if missing); see the module docstring."""
    manifest = await check_backup(dump_path, bin_dir=bin_dir)
    name = database_name(target_dsn)
    admin = with_database(target_dsn, "postgres")
    conn = await connect_once(admin)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        major = await _server_major(conn)
        if exists and not replace:
            target = await connect_once(target_dsn)
            try:
                tables = await target.fetchval(
                    "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
            finally:
                await target.close()
            if tables:
                raise BackupError(f"the database {name!r} already holds {tables} tables; restore into a new name, "
                                  "or pass --replace to drop and recreate it")
        elif exists:
            await conn.execute(f'DROP DATABASE {_ident(name)} WITH (FORCE)')
            exists = None
        if not exists:
            await conn.execute(f"CREATE DATABASE {_ident(name)}")
    finally:
        await conn.close()
    dump_major = int(manifest.get("pg_dump", {}).get("major", 0))
    tool = pgtools.pick("pg_restore", at_least=max(dump_major, 0), prefer=major, bin_dir=bin_dir)
    target, env = libpq_target(target_dsn)
    try:
        await _run_in_thread([tool.path, "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges",
                              f"--dbname={target}", str(dump_path)], env)
    except BackupError as exc:
        raise BackupError(f"restore into {name!r} failed and was rolled back: {exc}") from None
    conn = await connect_once(target_dsn)
    try:
        counts = await table_counts(conn)
    finally:
        await conn.close()
    return RestoreResult(name, counts, compare_counts(manifest.get("tables", {}), counts))


def compare_counts(expected: dict[str, int], actual: dict[str, int]) -> dict[str, tuple[int, int]]:
    keys = set(expected) | set(actual)
    return {k: (expected.get(k, -1), actual.get(k, -1)) for k in sorted(keys) if expected.get(k) != actual.get(k)}


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ------------------------------------------------------------------------------------------ drill
async def verify_backup(dump_path: str | Path, server_dsn: str, *, keep: bool = False,
                        bin_dir: str | Path | None = None) -> BackupVerifyResult:
    """The restore drill: check files, restore into a scratch database on `server_dsn`'s server, verify
    the books there and compare row counts with the manifest; drop the scratch database (unless keep)."""
    result = BackupVerifyResult(str(dump_path))
    try:
        manifest = await check_backup(dump_path, bin_dir=bin_dir)
    except BackupError as exc:
        result.steps.append(Step("files", False, str(exc)))
        return result
    result.steps.append(Step("files", True, f"size, SHA-256 and archive contents match the manifest "
                                            f"({manifest['toc_entries']} entries)"))
    if not manifest.get("ledger", {}).get("ok", False):
        result.steps.append(Step("source_ledger", False, "the backup was taken from a database whose books did not "
                                 f"balance: {manifest.get('ledger')}"))
    scratch = f"mycrypto_verify_{datetime.now(UTC):%Y%m%d%H%M%S}_{secrets.token_hex(3)}"
    scratch_dsn = with_database(server_dsn, scratch)
    try:
        try:
            restored = await restore_backup(dump_path, scratch_dsn, bin_dir=bin_dir)
        except (BackupError, pgtools.ToolMissing, asyncpg.PostgresError, OSError) as exc:
            result.steps.append(Step("restore", False, str(exc)))
            return result
        result.steps.append(Step("restore", True, f"restored into scratch database {scratch}"))
        result.mismatches = restored.mismatches
        total = sum(restored.tables.values())
        result.steps.append(Step("row_counts", restored.ok,
                                 f"{len(restored.tables)} tables, {total} rows, identical to the manifest"
                                 if restored.ok else f"{len(restored.mismatches)} tables differ: "
                                 + ", ".join(f"{k} {e}->{r}" for k, (e, r) in list(restored.mismatches.items())[:5])))
        conn = await connect_once(scratch_dsn)
        try:
            report = await verify_books(conn)
        finally:
            await conn.close()
        result.verify_report = report.as_dict()
        result.steps.append(Step("verify", report.ok, "mycrypto verify: the books balance" if report.ok else
                                 "mycrypto verify FAILED: " + ", ".join(c.name for c in report.failures)))
    finally:
        if not keep:
            await _drop_database(server_dsn, scratch)
    return result


async def _drop_database(server_dsn: str, name: str) -> None:
    try:
        conn = await connect_once(with_database(server_dsn, "postgres"))
    except Exception:
        return
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")
    finally:
        await conn.close()
