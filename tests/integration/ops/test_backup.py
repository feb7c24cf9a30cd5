"""Backups on real PostgreSQL with the real pg_dump / pg_restore: bad input fails loudly, before any harm.

- a truncated or corrupted dump, a missing or altered manifest: refused before the target exists;
- a backup of a database whose books do not balance is written but flagged (ledger.ok false);
- restore into a named database; a target that already holds tables is refused unless replaced;
- the tools: pg_dump at least as new as the server, found among PATH / Debian / pgserver binaries.
"""
from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from mycrypto.ops import pgtools
from mycrypto.ops.backup import (BackupError, check_backup, create_backup, database_name, libpq_target,
                                 manifest_path_for, restore_backup, verify_backup, with_database)
from mycrypto.ops.integrity import record, run_integrity
from tests.support.factories import create_user, fund


async def _populate(db) -> None:
    for i in range(3):
        user = await create_user(db)
        await fund(db, user, "USDT", f"{100 + i}.5")
        await fund(db, user, "BTC", "0.25")


async def _exists(admin_dsn: str, name: str) -> bool:
    conn = await asyncpg.connect(admin_dsn)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def _drop(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def backup(db, db_dsn, tmp_path):
    await _populate(db)
    return await create_backup(db_dsn, tmp_path / "b")


async def test_backup_manifest_describes_the_dump(backup, db):
    manifest = json.loads(Path(backup.manifest_path).read_text())
    assert manifest["format"] == "mycrypto-backup/1" and manifest["ledger"]["ok"] is True
    assert manifest["tables"]["auth.app_user"] == await db.fetchval("SELECT count(*) FROM auth.app_user") == 3
    assert manifest["tables"]["wallet.posting"] == 6 and manifest["toc_entries"] > 50
    assert manifest["size_bytes"] == Path(backup.dump_path).stat().st_size
    assert manifest["pg_dump"]["major"] >= manifest["server_major"]
    assert "password" not in Path(backup.manifest_path).read_text().lower()
    assert not list(Path(backup.dump_path).parent.glob("*.partial"))


async def test_restore_into_a_named_database_then_refuse_to_overwrite_it(backup, db_dsn):
    target = with_database(db_dsn, database_name(db_dsn) + "_restored")
    admin = with_database(db_dsn, "postgres")
    try:
        restored = await restore_backup(backup.dump_path, target)
        assert restored.ok and restored.tables == backup.tables
        conn = await asyncpg.connect(target)
        try:
            report = await run_integrity(conn)
        finally:
            await conn.close()
        assert report.ok and report.counts["users"] == 3
        with pytest.raises(BackupError, match="already holds .* tables"):
            await restore_backup(backup.dump_path, target)
        again = await restore_backup(backup.dump_path, target, replace=True)
        assert again.ok
    finally:
        await _drop(admin, database_name(target))


@pytest.mark.parametrize("damage", ["truncate", "flip", "manifest_missing", "manifest_edited", "not_a_dump"])
async def test_a_damaged_backup_is_refused_before_the_target_exists(backup, db_dsn, damage):
    dump = Path(backup.dump_path)
    manifest = manifest_path_for(dump)
    data = dump.read_bytes()
    if damage == "truncate":
        dump.write_bytes(data[: len(data) // 2])
        expected = "truncated"
    elif damage == "flip":
        dump.write_bytes(data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:])
        expected = "SHA-256"
    elif damage == "manifest_missing":
        manifest.unlink()
        expected = "manifest .* is missing"
    elif damage == "manifest_edited":
        body = json.loads(manifest.read_text())
        body["format"] = "something-else"
        manifest.write_text(json.dumps(body))
        expected = "not a mycrypto-backup/1 manifest"
    else:   # a file whose size and checksum match but which is no archive: pg_restore --list decides
        dump.write_bytes(b"SELECT 1;\n" * 100)
        body = json.loads(manifest.read_text())
        from mycrypto.ops.backup import sha256_of

        body.update(size_bytes=dump.stat().st_size, sha256=sha256_of(dump))
        manifest.write_text(json.dumps(body))
        expected = "not readable"
    target = with_database(db_dsn, database_name(db_dsn) + "_never")
    with pytest.raises(BackupError, match=expected):
        await restore_backup(dump, target)
    assert not await _exists(with_database(db_dsn, "postgres"), database_name(target)), "the target was touched"
    drill = await verify_backup(dump, db_dsn)
    assert not drill.ok and drill.steps[0].name == "files" and not drill.steps[0].ok
    assert [s.name for s in drill.steps] == ["files"], "nothing restored from a damaged backup"


async def test_a_backup_of_drifted_books_is_flagged(db, db_dsn, tmp_path):
    await _populate(db)
    # a balance that no longer equals its ledger (what a bad manual fix would do)
    await db.execute("UPDATE wallet.account SET available = available + 1 WHERE id = "
                     "(SELECT min(id) FROM wallet.account WHERE kind = 'user')")
    result = await create_backup(db_dsn, tmp_path / "b")
    assert not result.ok and result.ledger_problems >= 1
    manifest = json.loads(Path(result.manifest_path).read_text())
    assert manifest["ledger"]["ok"] is False and "accounts_match_ledger" in manifest["ledger"]["failed_checks"]
    drill = await verify_backup(result.dump_path, db_dsn)
    steps = {s.name: s.ok for s in drill.steps}
    assert steps["source_ledger"] is False and steps["verify"] is False and steps["row_counts"] is True
    assert not drill.ok
    async with db.acquire() as conn:
        report = await run_integrity(conn)
        await record(conn, report)
    assert not report.ok
    assert await db.fetchval("SELECT ok FROM ops.integrity_run ORDER BY id DESC LIMIT 1") is False


def test_tools_are_found_and_chosen_by_version():
    dumps = pgtools.candidates("pg_dump")
    assert dumps, "no pg_dump at all (Debian's postgresql-client or the pgserver package provide one)"
    newest = max(t.major for t in dumps)
    assert pgtools.pick("pg_dump", at_least=newest).major == newest
    with pytest.raises(pgtools.ToolMissing, match="PG_BIN_DIR"):
        pgtools.pick("pg_dump", at_least=newest + 1)
    oldest = min(t.major for t in dumps)
    assert pgtools.pick("pg_dump", at_least=oldest, prefer=oldest).major == oldest


def test_passwords_never_reach_a_command_line():
    uri, env = libpq_target("postgresql://ops:s%40cret@db.internal:5432/mycrypto?sslmode=require")
    assert uri == "postgresql://ops@db.internal:5432/mycrypto?sslmode=require"
    assert env["PGPASSWORD"] == "s@cret"
