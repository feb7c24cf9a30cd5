"""The objects a running app shares: settings, database, cache, clock and the services built on them.

Built once at start-up (`Container.start`) and stored on `app.state.container`; routers reach it via
`get_container`. Tests build their own around a test database.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from .config import Settings
from .db.database import Database

log = logging.getLogger("mycrypto.container")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    settings: Settings
    db: Database
    redis: Any = None  # redis.asyncio.Redis when REDIS_URL is set
    services: dict[str, Any] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)

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
        return cls(settings=settings, db=db)

    async def start(self) -> None:
        await self.db.connect()
        if self.settings.redis_url:
            import redis.asyncio as aioredis

            self.redis = aioredis.from_url(self.settings.redis_url, socket_connect_timeout=2,
                                           socket_timeout=2, health_check_interval=30)

    async def stop(self) -> None:
        if self.redis is not None:
            try:
                await self.redis.aclose()
            except Exception:  # closing a broken connection must not mask the shutdown
                log.warning("redis close failed", exc_info=True)
        await self.db.close()


def get_container(request: Request) -> Container:
    return request.app.state.container
