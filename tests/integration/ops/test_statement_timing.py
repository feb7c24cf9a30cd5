"""Statement timing on real PostgreSQL: migration 045's functions where statistics are off (this
machine's shared server preloads nothing) and on a private server that has them (bench/load/pgstats.py)."""
import sys
from pathlib import Path

import asyncpg
import pytest

from mycrypto.db.migrate import migrate
from mycrypto.ops import querytiming
from mycrypto.ops.dbreport import collect_report, render_report
from tests.support.services import in_ci

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench" / "load"))
from pgstats import StatsPostgres, find_bindir  # noqa: E402


async def test_without_pg_stat_statements_the_functions_say_why_and_return_nothing(db):
    status = await db.fetchval("SELECT ops.query_stats_status()")
    if status == "ok":
        pytest.skip("this server has pg_stat_statements loaded; the private-server test covers it")
    assert status.startswith("unavailable")
    assert await db.fetch("SELECT * FROM ops.statement_timing()") == []
    assert await db.fetchval("SELECT ops.reset_query_stats()") is False
    got_status, statements = await querytiming.collect(db)
    assert got_status == status and statements == []
    report = await collect_report(db)
    assert report["statement_timing"]["query_stats"] == status
    assert "statement timing (budget: mean < 5 ms, p95 < 20 ms):" in render_report(report)


@pytest.fixture(scope="module")
def stats_server():
    bindir = find_bindir()
    if bindir is None:
        if in_ci():
            pytest.fail("no PostgreSQL with pg_stat_statements under /usr/lib/postgresql (CI=true)")
        pytest.skip("no PostgreSQL with pg_stat_statements installed")
    server = StatsPostgres(bindir, sample_rate=1.0).start()
    yield server
    server.stop()


async def test_private_server_measures_mean_and_sampled_p95(stats_server):
    admin = await asyncpg.connect(stats_server.dsn)
    await admin.execute("CREATE DATABASE timing")
    await admin.close()
    conn = await asyncpg.connect(stats_server.dsn.rsplit("/", 1)[0] + "/timing")
    try:
        await migrate(conn)                               # 004 creates the extension: it is preloaded here
        assert await conn.fetchval("SELECT ops.query_stats_status()") == "ok"
        assert await querytiming.reset(conn) is True
        offset = stats_server.log_offset()
        for i in range(40):
            await conn.fetchval("SELECT count(*) FROM wallet.asset WHERE decimals > $1", i % 3)
        await conn.execute("SELECT pg_sleep(0.03)")       # one statement over the 20 ms budget
        samples = querytiming.sampled_durations(stats_server.read_log(offset), "timing")
        status, statements = await querytiming.collect(conn, samples)
    finally:
        await conn.close()
    assert status == "ok"
    by_query = {s.query: s for s in statements}
    hot = next(s for q, s in by_query.items() if "FROM wallet.asset WHERE decimals" in q)
    assert hot.calls == 40 and hot.samples == 40 and hot.p95_ms is not None and hot.verdict() == "ok"
    sleepy = next(s for q, s in by_query.items() if "pg_sleep" in q)
    assert sleepy.mean_ms >= 30 and sleepy.verdict() == "over"
    assert not any("reset_query_stats" in q for q in by_query)   # the measurement is not measured
    rep = querytiming.report(status, statements, sample_rate=1.0)
    assert rep["over_budget"] >= 1 and rep["ok"] is False
