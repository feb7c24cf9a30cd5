"""The platform the simulation drives, in this process: the real services (trade engines, wallet,
withdrawals, the chain simulator) over a real PostgreSQL database, built the way `apps.create_app`'s
lifespan builds them, minus HTTP.

The simulation calls the same service methods the API routes call (TradeService.place_order, ...).
`restart_trade` is the process restart of the trade service: the registry stops (engines finish their
batches, the advisory locks are released) and a new one starts, rebuilding every book from the
database's open orders; `crash_trade` is the crash (engines cancelled mid-batch, sessions cut, then the
same take-over). `kill_connections` terminates every database session of the platform (the
pool's, the engines' two commit connections, the ownership lock connection) wherever it is - in a
batch commit, in a withdrawal's transaction - which is what a dropped connection or a database restart
does to the process.
"""
from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import asyncpg

from ..auth.principal import Principal
from ..config import Settings
from ..container import Container
from ..trading import api as trade_api
from ..wallet import api as wallet_api

SIM_APP_NAME = "mycrypto-sim-observer"


def sim_settings(dsn: str) -> Settings:
    """Settings for an in-process platform on `dsn`: no Redis/AMQP/SMTP, no background wallet loop (the
    simulation runs the deposit watcher and the withdrawal processor itself, at steps the seed decides),
    cheap password hashing (1,000 users are created at start)."""
    return Settings(_env_file=None, env="test", database_url=dsn,  # type: ignore[call-arg]
                    redis_url=None, amqp_url=None, smtp_url=None, db_pool_min=1, db_pool_max=12, log_json=False,
                    log_level="ERROR",
                    rate_limits_enabled=False, registration_enabled=True, trade_markets=[], cors_origins=[],
                    wallet_watch_interval_s=0, argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1,
                    chain_simulator=True, faucet_enabled=True)


class SimPlatform:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.settings = sim_settings(dsn)
        self.container = Container.create(self.settings)
        self._trade: AsyncExitStack | None = None
        self._wallet: AsyncExitStack | None = None
        self.observer: asyncpg.Connection | None = None   # the simulation's own session (checks, kills)
        self.restarts = 0
        # the trade service clients reach: swapped only once a (re)start completed, as a process accepts
        # requests only after its start-up (the lifespan sets container.trade before the engines run)
        self._serving: tuple[Any, Any] | None = None

    async def start(self) -> None:
        await self.container.start()
        self.observer = await asyncpg.connect(self.dsn, server_settings={"application_name": SIM_APP_NAME})
        self._wallet = AsyncExitStack()
        await self._wallet.enter_async_context(wallet_api.lifespan(self.container))
        await self.start_trade()

    async def start_trade(self) -> None:
        self._trade = AsyncExitStack()
        await self._trade.enter_async_context(trade_api.lifespan(self.container))
        registry = self.container.trade_registry
        assert registry is not None
        # this process is the only replica: it owns every market once its first tick ran
        if len(registry.engines) != len(registry.specs):
            await registry.tick()
        self._serving = (self.container.trade, registry)

    async def restart_trade(self) -> None:
        """Stop the trade service and start it again: every book is rebuilt from the database."""
        if self._trade is not None:
            await self._trade.aclose()
        self.restarts += 1
        await self.start_trade()

    async def crash_trade(self) -> None:
        """A crash of the trade process: its engines die where they are (mid-batch, mid-commit), every
        database session it had is cut (PostgreSQL frees its advisory locks), and a new process takes the
        markets, rebuilding every book from the database. Clients in flight see errors and retry."""
        for engine in list(self.registry.engines.values()):
            engine.accepting = False
            if engine._task is not None:
                engine._task.cancel()
        await self.kill_connections()
        if self._trade is not None:
            await self._trade.aclose()   # reap what is left of the dead process (its tasks are cancelled)
        self.restarts += 1
        await self.start_trade()

    async def stop(self) -> None:
        for stack in (self._trade, self._wallet):
            if stack is not None:
                await stack.aclose()
        if self.observer is not None:
            await self.observer.close()
        await self.container.stop()

    # ------------------------------------------------------------------ the services, as the API uses them
    @property
    def trade(self) -> Any:
        assert self._serving is not None
        return self._serving[0]

    @property
    def registry(self) -> Any:
        assert self._serving is not None
        return self._serving[1]

    @property
    def wallet(self) -> Any:
        return self.container.wallet

    async def ensure_owned(self) -> None:
        """After a fault the registry may have dropped markets; its poll takes them back (as in
        production), here at once so the next round does not wait for the poll interval."""
        registry = self.registry
        if len(registry.engines) != len(registry.specs):
            try:
                await registry.tick()
            except Exception:   # the database may still be coming back; the next call retries
                pass

    # ------------------------------------------------------------------ faults
    async def kill_connections(self) -> int:
        """Terminate every database session of this database except the simulation's own observer."""
        assert self.observer is not None
        return await self.observer.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'")


def principal(user_id: int, email: str, role: str = "user") -> Principal:
    """Who is calling, as the API's authentication would resolve a verified user's token."""
    return Principal(user_id=user_id, role=role, email=email, email_verified=True, totp_enabled=False)
