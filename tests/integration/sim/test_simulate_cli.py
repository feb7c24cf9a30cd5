"""`mycrypto simulate`: runs in a database of its own (created, migrated, dropped), prints the summary;
on a broken invariant prints FAILED with the seed, the step and the replay command, exits 1 and keeps the
database for inspection."""
from __future__ import annotations

import asyncio

import asyncpg
from click.testing import CliRunner

from mycrypto.cli import main
from mycrypto.sim import invariants


def _databases(dsn: str) -> set[str]:
    async def go() -> set[str]:
        conn = await asyncpg.connect(dsn)
        try:
            return {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database "
                                                            "WHERE datname LIKE 'mycrypto_sim_%'")}
        finally:
            await conn.close()
    return asyncio.run(go())


def _drop(dsn: str, name: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
    asyncio.run(go())


def _run(db_dsn: str, *args: str):  # noqa: ANN202
    env = {"DATABASE_URL": db_dsn, "MYCRYPTO_ENV": "test", "LOG_JSON": "false"}
    return CliRunner().invoke(main, ["simulate", *args], env=env, catch_exceptions=False)


def test_simulate_runs_in_its_own_database_and_drops_it(db_dsn: str) -> None:
    before = _databases(db_dsn)
    r = _run(db_dsn, "--seed", "77", "--ops", "300", "--users", "12", "--check-every", "150", "--round-size", "24")
    assert r.exit_code == 0, r.output
    assert "seed 77: 300 operations, 12 users" in r.output
    assert "2 invariant checks held" in r.output   # at step 150 and at the end
    assert "digest " in r.output
    assert _databases(db_dsn) == before           # dropped afterwards
    digest = _run(db_dsn, "--seed", "77", "--ops", "300", "--users", "12", "--round-size", "24", "--digest-only")
    assert digest.output.strip() in r.output      # the run executed the seed's operation sequence


def test_a_broken_invariant_prints_the_seed_step_and_replay_command(db_dsn: str, monkeypatch) -> None:
    async def broken_fees(conn):  # noqa: ANN001, ANN202 - plants a failing invariant
        return ["fees USDT: account 1 != trade fees 0 + withdrawal fees 0"]

    monkeypatch.setattr(invariants, "check_fees", broken_fees)
    before = _databases(db_dsn)
    r = _run(db_dsn, "--seed", "78", "--ops", "100", "--users", "5", "--check-every", "50", "--round-size", "25")
    assert r.exit_code == 1
    assert "FAILED seed=78 step=50" in r.output and "fees USDT" in r.output
    assert "replay: mycrypto simulate --seed 78 --ops 100 --users 5 --check-every 50 --round-size 25" in r.output
    kept = _databases(db_dsn) - before
    assert len(kept) == 1                         # kept for inspection
    _drop(db_dsn, kept.pop())
