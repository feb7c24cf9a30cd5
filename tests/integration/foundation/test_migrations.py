"""Migrations on a real PostgreSQL: apply to empty, re-run is a no-op, changed files are refused."""
import uuid
from pathlib import Path

import asyncpg
import pytest

from mycrypto.db.migrate import Migration, MigrationError, load_migrations, migrate, status
from tests.support.databases import with_database


@pytest.fixture
async def empty_db(test_databases):
    """An empty database (not the migrated template)."""
    conn = await asyncpg.connect(test_databases.admin_dsn)
    name = f"{test_databases.prefix}_empty_{uuid.uuid4().hex[:8]}"
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    dsn = with_database(test_databases.admin_dsn, name)
    c = await asyncpg.connect(dsn)
    yield c
    await c.close()
    test_databases.drop_later(dsn)


async def test_apply_to_empty_then_rerun_applies_nothing(empty_db):
    applied = await migrate(empty_db)
    assert [m.filename for m in applied][:3] == ["001-enums.sql", "002-core-tables.sql", "003-seed-data.sql"]
    assert await migrate(empty_db) == []
    states = await status(empty_db)
    assert {s.status for s in states} == {"applied"}
    assert await empty_db.fetchval("SELECT count(*) FROM trade.market") == 3
    assert await empty_db.fetchval("SELECT count(*) FROM wallet.asset") == 3
    assert await empty_db.fetchval("SELECT count(*) FROM wallet.account WHERE kind <> 'user'") == 12  # fees, chain_in, chain_out, network_fees (021) x 3


async def test_status_lists_pending_before_and_applied_after(empty_db):
    migrations = load_migrations()
    before = await status(empty_db, migrations)
    assert [s.status for s in before] == ["pending"] * len(migrations)
    await migrate(empty_db, migrations[:2])
    after = await status(empty_db, migrations)
    assert [s.status for s in after[:2]] == ["applied", "applied"]
    assert all(s.status == "pending" for s in after[2:])


async def test_changed_applied_file_is_refused_and_nothing_runs(empty_db):
    migrations = load_migrations()
    await migrate(empty_db, migrations[:2])
    tampered = [Migration(m.version, m.name, m.sql + "\n-- edited after it ran\n") if m.version == "002" else m
                for m in migrations]
    with pytest.raises(MigrationError) as exc:
        await migrate(empty_db, tampered)
    assert "002-core-tables.sql" in str(exc.value)
    assert [s.status for s in await status(empty_db, tampered)][:3] == ["applied", "changed", "pending"]
    assert await empty_db.fetchval("SELECT to_regclass('ops.maintenance_run')") is None  # 006 did not run


async def test_failing_migration_rolls_back_and_names_file_and_statement(empty_db, tmp_path: Path):
    (tmp_path / "001-good.sql").write_text("CREATE TABLE good_one (id int);")
    (tmp_path / "002-bad.sql").write_text("CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n")
    migrations = load_migrations(tmp_path)
    with pytest.raises(MigrationError) as exc:
        await migrate(empty_db, migrations)
    text = str(exc.value)
    assert "002-bad.sql" in text and "statement 2" in text and "no_such_table" in text
    assert await empty_db.fetchval("SELECT to_regclass('good_one')") is not None
    assert await empty_db.fetchval("SELECT to_regclass('half_done')") is None  # rolled back
    states = await status(empty_db, migrations)
    assert [s.status for s in states] == ["applied", "pending"]


async def test_database_refuses_unbalanced_posting(db):
    async with db.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            async with conn.transaction():
                pid = await conn.fetchval(
                    "INSERT INTO wallet.posting (kind, ref_type, ref_id) VALUES ('adjustment', 't', '1') RETURNING id")
                account = await conn.fetchval("SELECT id FROM wallet.account WHERE kind = 'fees' AND asset = 'BTC'")
                await conn.execute("INSERT INTO wallet.posting_leg (posting_id, account_id, asset, bucket, amount) "
                                   "VALUES ($1, $2, 'BTC', 'available', 1)", pid, account)
        # a posting with no legs at all fails at COMMIT (deferred constraint trigger)
        with pytest.raises(asyncpg.CheckViolationError):
            async with conn.transaction():
                await conn.execute("INSERT INTO wallet.posting (kind, ref_type, ref_id) VALUES ('adjustment', 't', '2')")
        assert await conn.fetchval("SELECT count(*) FROM wallet.posting") == 0


async def test_maintenance_and_report_functions_run(db):
    rows = await db.fetch("SELECT task, rows_affected FROM ops.run_maintenance()")
    assert [r["task"] for r in rows] == ["purge_expired_tokens", "prune_outbox", "analyze_hot_tables"]
    assert await db.fetchval("SELECT count(*) FROM ops.maintenance_run") == 3
    assert (await db.fetchval("SELECT ops.query_stats_status()")).startswith(("ok", "unavailable"))
    assert len(await db.fetch("SELECT * FROM ops.table_sizes()")) > 10
    await db.fetch("SELECT * FROM ops.slow_queries()")  # never errors, even without pg_stat_statements


async def test_maintenance_purges_only_old_tokens_sessions_and_relayed_outbox_rows(db):
    user = await db.fetchval("INSERT INTO auth.app_user (email, password_hash) VALUES ('m@example.com', 'x') RETURNING id")
    for n, expires in enumerate(("now() - interval '8 days'", "now() + interval '1 hour'")):
        await db.execute(f"INSERT INTO auth.email_token (user_id, purpose, token_hash, expires_at) "
                         f"VALUES ($1, 'verify_email', $2, {expires})", user, bytes([n]) * 32)
        await db.execute(f"INSERT INTO auth.refresh_token (user_id, family_id, token_hash, expires_at) "
                         f"VALUES ($1, gen_random_uuid(), $2, {expires})", user, bytes([n]) * 32)
    await db.execute("INSERT INTO ops.outbox (topic, payload, sent_at) VALUES "
                     "('old', '{}', now() - interval '4 days'), ('recent', '{}', now()), ('pending', '{}', NULL)")
    rows = {r["task"]: r["rows_affected"] for r in await db.fetch("SELECT * FROM ops.run_maintenance()")}
    assert rows["purge_expired_tokens"] == 2 and rows["prune_outbox"] == 1
    assert await db.fetchval("SELECT count(*) FROM auth.email_token WHERE expires_at > now()") == 1
    assert await db.fetchval("SELECT count(*) FROM auth.email_token") == 1
    assert await db.fetchval("SELECT count(*) FROM auth.refresh_token") == 1
    assert sorted(r["topic"] for r in await db.fetch("SELECT topic FROM ops.outbox")) == ["pending", "recent"]


async def test_unit_of_work_surfaces_a_failed_commit_and_rolls_back(db):
    """A deferred constraint failing at COMMIT reaches the caller as itself, and nothing is kept."""
    with pytest.raises(asyncpg.CheckViolationError):
        async with db.unit_of_work() as uow:
            await uow.conn.execute("INSERT INTO wallet.posting (kind, ref_type, ref_id) VALUES ('adjustment', 't', '3')")
            await uow.commit()
    assert await db.fetchval("SELECT count(*) FROM wallet.posting") == 0


async def test_unit_of_work_rolls_back_unless_committed(db):
    async with db.unit_of_work() as uow:
        await uow.conn.execute("INSERT INTO ops.outbox (topic, payload) VALUES ('t', '{}')")
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as uow:
            await uow.conn.execute("INSERT INTO ops.outbox (topic, payload) VALUES ('t', '{}')")
            raise RuntimeError("boom")
    assert await db.fetchval("SELECT count(*) FROM ops.outbox") == 0
