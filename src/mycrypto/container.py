"""The objects a running app shares: settings, database, cache, rate limiter, clock, and one attribute per
service built on them.

Built once at start-up (`Container.create` + `start`) and stored on `app.state.container`; routers reach
it via `get_container`. `apps.create_app` (the composition root) sets `auth` for every app; each service's
`lifespan` sets its own attributes while it runs (None in a process that does not run that service).
Tests build their own apps around a test database.

The service types are named for annotations only (`TYPE_CHECKING`): at run time this module imports no
service, so every service may import it (tests/unit/foundation/test_imports.py checks both).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi import Request

from .common.ratelimit import Limiter, build_limiter
from .config import Settings
from .db.database import Database

if TYPE_CHECKING:
    import httpx
    import redis.asyncio

    from .alerts.service import AlertService
    from .auth.service import AuthService
    from .compat.binance.service import BinanceAdapter
    from .notify.relay import Handler, OutboxRelay
    from .streams.hub import StreamHub
    from .notify.worker import EmailConsumer
    from .trading.registry import EngineRegistry
    from .trading.service import TradeService
    from .wallet.api import WalletComponents

log = logging.getLogger("mycrypto.container")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    settings: Settings
    db: Database
    rate_limiter: Limiter                       # Redis-backed when REDIS_URL is set, else in-process
    redis: redis.asyncio.Redis | None = None    # when REDIS_URL is set
    started_at: float = field(default_factory=time.time)
    # every app (apps.create_app): sign-in, sessions, 2FA, API keys, and who is calling
    auth: AuthService | None = None
    # the outbox relay of this process (notify.relay.running_relay) and the topic routes services add
    outbox_relay: OutboxRelay | None = None
    outbox_routes: dict[str, Handler] = field(default_factory=dict)
    email_consumer: EmailConsumer | None = None     # the in-process notifier (auth lifespan, AMQP_URL set)
    # the trade service (trading.api.lifespan) and the Binance-compatible adapter over it
    trade: TradeService | None = None
    trade_registry: EngineRegistry | None = None
    trade_forwarder: httpx.AsyncClient | None = None
    binance_adapter: BinanceAdapter | None = None
    alerts: AlertService | None = None             # price alerts beside the engines (trading.api.lifespan)
    streams: StreamHub | None = None               # WebSocket streams beside the engines (streams/api.py)
    # the wallet service (wallet.api.lifespan)
    wallet: WalletComponents | None = None

    @staticmethod
    def clock() -> datetime:
        return utcnow()

    @classmethod
    def create(cls, settings: Settings) -> Container:
        if settings.database_url is None:
            raise RuntimeError("settings.database_url must be resolved (embedded or real) before start")
        db = Database(settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max,
                      statement_timeout_ms=settings.db_statement_timeout_ms,
                      statement_cache_size=settings.db_statement_cache_size)
        return cls(settings=settings, db=db, rate_limiter=build_limiter(settings))

    async def start(self) -> None:
        await self.db.connect()
        if self.settings.redis_url:
            import redis.asyncio as aioredis

            self.redis = aioredis.from_url(self.settings.redis_url, socket_connect_timeout=2,
                                           socket_timeout=2, health_check_interval=30)

    async def stop(self) -> None:
        for name, resource in (("rate limiter", self.rate_limiter), ("redis", self.redis)):
            if resource is None:
                continue
            try:
                await resource.aclose()
            except Exception:  # closing a broken connection must not mask the shutdown
                log.warning(f"{name} close failed", exc_info=True)
        await self.db.close()


def get_container(request: Request) -> Container:
    return request.app.state.container
