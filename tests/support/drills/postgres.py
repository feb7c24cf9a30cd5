"""Drill 1: PostgreSQL restarted mid-load.

A private cluster serves `mycrypto serve all`; workers place crossing orders and withdrawals; the drill
stops PostgreSQL (fast shutdown: every session is cut), keeps it down for `down_s`, starts it again and
keeps the load going. While it is down every answer must be a 503 with a reason (no 500) and /health
must say `database: down`; after it is back the platform must recover by itself (seconds until the
first acknowledged write and until /health is 200 again are measured); at the end every acknowledged
order and withdrawal is found in the database exactly once and `mycrypto verify` passes.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from mycrypto.db.database import Database
from tests.support.drills.kit import Report, drill_settings, make_report, make_users, retry_unknown
from tests.support.drills.load import Load, mixed_ops, wait_until
from tests.support.platform_process import PlatformProcess, platform_env
from tests.support.private_servers import PrivatePostgres

FUNDS = {"BTC": "10", "USDT": "1000000"}


async def _health(client: httpx.AsyncClient, url: str) -> tuple[int | None, dict[str, Any]]:
    try:
        r = await client.get(url + "/health", timeout=5)
        return r.status_code, r.json()
    except (httpx.TransportError, ValueError):
        return None, {}


async def postgres_restart_drill(*, users: int = 4, workers: int = 8, before_s: float = 3.0, down_s: float = 3.0,
                                 after_s: float = 4.0, crash: bool = False, log: Any = print) -> Report:
    """`crash=True` SIGKILLs the postmaster and its backends instead of a fast shutdown."""
    pg = PrivatePostgres()
    platform = db = load = None
    try:
        pg.start()
        dsn = pg.create_database("mycrypto")
        env = platform_env(dsn, RATE_LIMITS_ENABLED="false", WALLET_WATCH_INTERVAL_SECONDS="1")
        platform = PlatformProcess("all", env, migrate=True, name="all").start()
        db = Database(dsn, min_size=0, max_size=2)   # 0: no reconnect loop of its own while the server is down
        await db.connect()
        people = await make_users(db, drill_settings(dsn), users, FUNDS)
        load = Load([platform.url], people, mixed_ops("pg"), workers=workers).start()
        await asyncio.sleep(before_s)

        load.phase = "down"
        went_down = time.monotonic()
        await asyncio.to_thread(pg.kill if crash else pg.stop)
        health_down: list[tuple[int | None, str | None]] = []
        async with httpx.AsyncClient() as client:
            while time.monotonic() - went_down < down_s:
                status, body = await _health(client, platform.url)
                health_down.append((status, body.get("checks", {}).get("database")))
                await asyncio.sleep(0.5)
            await asyncio.to_thread(pg.start)
            back_at = time.monotonic()
            load.phase = "after"
            health_s = await wait_until(lambda: _healthy(client, platform.url), 60)
            ack_s = await wait_until(lambda: load.tally.first_ack_at.get("after", 0) >= back_at, 60)
            await asyncio.sleep(after_s)
            await load.stop()
            await retry_unknown(client, platform.url, load.tally)
        numbers = {"down_seconds": round(back_at - went_down, 2),
                   "recovery_first_ack_s": None if ack_s is None else round(ack_s, 2),
                   "recovery_health_s": None if health_s is None else round(health_s, 2),
                   "health_while_down": sorted(set(health_down), key=str),
                   "sent": load.sent, "server_errors": len(load.tally.server_errors),
                   "platform_alive": platform.alive()}
        return await make_report("postgres-crash" if crash else "postgres-restart", db, load.tally, env, numbers,
                                 unhandled=lambda: platform.unhandled(), log=log)
    finally:
        if load is not None:
            await load.close()
        if db is not None:
            await db.close()
        if platform is not None:
            platform.close()
        pg.close()


async def _healthy(client: httpx.AsyncClient, url: str) -> bool:
    status, _ = await _health(client, url)
    return status == 200
