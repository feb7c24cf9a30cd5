"""`mycrypto simulate --seed N --ops N --users N`: run the seeded simulation in a fresh database.

A database `mycrypto_sim_<seed>_<pid>` is created on the server DATABASE_URL names (or the embedded
one), migrated, simulated on, and dropped afterwards unless `--keep-database` or the run failed (then it
is kept for inspection and its name printed). Exit status 1 and a `FAILED seed=... step=...` line with the
replay command on any broken invariant.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import click

from ..common.cli import database, get_settings, run_async
from ..db.migrate import migrate


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def register(group: click.Group) -> None:
    @group.command()
    @click.option("--seed", type=int, default=1, show_default=True, help="Everything random follows from it.")
    @click.option("--ops", "n_ops", type=click.IntRange(1, 100_000_000), default=10_000, show_default=True)
    @click.option("--users", type=click.IntRange(2, 100_000), default=1000, show_default=True)
    @click.option("--check-every", type=click.IntRange(1), default=10_000, show_default=True,
                  help="Check every invariant after this many operations (and at the end).")
    @click.option("--round-size", type=click.IntRange(1, 10_000), default=96, show_default=True,
                  help="Operations run concurrently per round (part of what the seed determines).")
    @click.option("--keep-database", is_flag=True, help="Keep the simulation's database afterwards.")
    @click.option("--digest-only", is_flag=True, help="Print the operation digest of the seed; run nothing.")
    @click.pass_context
    def simulate(ctx: click.Context, seed: int, n_ops: int, users: int, check_every: int, round_size: int,
                 keep_database: bool, digest_only: bool) -> None:
        """Run the seeded simulation (docs/simulation.md)."""
        from .driver import Simulation, SimulationFailed, digest_only as only_digest

        if digest_only:
            click.echo(only_digest(seed, n_ops, users, round_size))
            return
        settings = get_settings(ctx)

        def say(line: str) -> None:
            click.echo(f"{time.strftime('%H:%M:%S')} {line}", err=True)
            sys.stderr.flush()

        with database(settings) as settings:
            name = f"mycrypto_sim_{seed}_{os.getpid()}"
            server = settings.database_url

            async def go() -> Any:
                admin = await asyncpg.connect(server)
                try:
                    await admin.execute(f'CREATE DATABASE "{name}"')
                finally:
                    await admin.close()
                dsn = _with_database(server, name)
                conn = await asyncpg.connect(dsn)
                try:
                    await migrate(conn)
                finally:
                    await conn.close()
                sim = Simulation(dsn, seed=seed, ops=n_ops, users=users, check_every=check_every, round_size=round_size,
                                 progress=say)
                try:
                    result = await sim.run()
                except SimulationFailed as exc:
                    return exc
                return result

            async def drop() -> None:
                admin = await asyncpg.connect(server)
                try:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                finally:
                    await admin.close()

            say(f"simulating seed {seed}: {n_ops} operations, {users} users, database {name}")
            out = run_async(go)
            if isinstance(out, SimulationFailed):
                click.echo(f"FAILED seed={out.seed} step={out.step} (database {name} kept)")
                for problem in out.problems[:20]:
                    click.echo(f"  {problem}")
                click.echo(f"replay: mycrypto simulate --seed {seed} --ops {n_ops} --users {users} "
                           f"--check-every {check_every} --round-size {round_size}")
                sys.exit(1)
            click.echo(out.summary())
            if not keep_database:
                run_async(drop)
