"""Drill 2: Redis down (killed, then hung) while people log in and trade.

`mycrypto serve all` runs with REDIS_URL on a private redis-server and rate limits ON. Redis holds only
the rate-limit buckets (docs/operations.md), so while it is away: logins and orders go on (the limiter
decides with in-process buckets, which still refuse a flood: 429, never "no limit"), /health says
`degraded` with `checks.cache: down` and a `fallbacks` entry (HTTP 200: a replica is not taken out of
service for it), and /metrics shows `mycrypto_redis_up 0` and a growing
`mycrypto_rate_limit_fallbacks_total`. Then Redis is restarted: health is `ok` again and the buckets live
in Redis again. A hung Redis (SIGSTOP: it accepts connections and answers nothing) must not make every
request wait for the socket timeout: the drill measures login latency while it hangs.
"""
from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx

from mycrypto.db.database import Database
from tests.support.drills.kit import Report, drill_settings, make_report, make_users, retry_unknown
from tests.support.drills.load import Load, mixed_ops, wait_until
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.platform_process import PlatformProcess, platform_env
from tests.support.private_servers import PrivatePostgres, PrivateRedis

LOGIN = "/api/v1/auth/login"
FUNDS = {"BTC": "10", "USDT": "1000000"}


async def _login(client: httpx.AsyncClient, url: str, email: str, password: str = DEFAULT_PASSWORD) -> tuple[int | None, float]:
    started = time.monotonic()
    try:
        r = await client.post(url + LOGIN, json={"email": email, "password": password}, timeout=15)
        return r.status_code, time.monotonic() - started
    except httpx.TransportError:
        return None, time.monotonic() - started


async def _health(client: httpx.AsyncClient, url: str) -> tuple[int | None, dict[str, Any]]:
    try:
        r = await client.get(url + "/health", timeout=10)
        return r.status_code, r.json()
    except (httpx.TransportError, ValueError):
        return None, {}


async def _metric(client: httpx.AsyncClient, url: str, name: str) -> float | None:
    text = (await client.get(url + "/metrics", timeout=10)).text
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


async def redis_down_drill(*, users: int = 6, workers: int = 4, before_s: float = 2.0, down_s: float = 4.0,
                           hang_s: float = 3.0, after_s: float = 2.0, log: Any = print) -> Report:
    pg = PrivatePostgres()
    redis = PrivateRedis()
    platform = db = load = None
    try:
        pg.start()
        redis.start()
        dsn = pg.create_database("mycrypto")
        # cheap password hashing: login latency then shows the limiter's waits, not argon2's cost
        env = platform_env(dsn, REDIS_URL=redis.url, RATE_LIMITS_ENABLED="true", WALLET_WATCH_INTERVAL_SECONDS="1",
                           ARGON2_TIME_COST="1", ARGON2_MEMORY_KIB="1024", ARGON2_PARALLELISM="1")
        platform = PlatformProcess("all", env, migrate=True, name="all").start()
        url = platform.url
        db = Database(dsn, min_size=1, max_size=2)
        await db.connect()
        people = await make_users(db, drill_settings(dsn), users, FUNDS)
        emails = {u.user_id: await db.fetchval("SELECT email FROM auth.app_user WHERE id = $1", u.user_id) for u in people}
        load = Load([url], people, mixed_ops("redis", withdraw_every=0), workers=workers, pause_s=0.02).start()
        logins: dict[str, list[int | None]] = {"before": [], "down": [], "hung": [], "after": []}
        latency: dict[str, list[float]] = {"down": [], "hung": []}
        async with httpx.AsyncClient() as client:
            for u in people[:2]:
                logins["before"].append((await _login(client, url, emails[u.user_id]))[0])
            await asyncio.sleep(before_s)
            keys_before = len(await _redis_keys(redis.url))

            # ---- Redis killed
            load.phase = "down"
            await asyncio.to_thread(redis.kill)
            killed_at = time.monotonic()
            for u in people:                        # everyone can still sign in
                status, seconds = await _login(client, url, emails[u.user_id])
                logins["down"].append(status)
                latency["down"].append(seconds)
            # the fallback still limits: a password-guessing burst on one account is refused (429)
            flood = [(await _login(client, url, emails[people[0].user_id], "wrong password " + str(i)))[0]
                     for i in range(14)]
            health_down = await _health(client, url)
            fallbacks = await _metric(client, url, "mycrypto_rate_limit_fallbacks_total")
            redis_up_down = await _metric(client, url, "mycrypto_redis_up")
            await asyncio.sleep(max(0.0, down_s - (time.monotonic() - killed_at)))

            # ---- Redis back
            await asyncio.to_thread(redis.start)
            back_at = time.monotonic()
            load.phase = "after"
            recovery = await wait_until(lambda: _health_ok(client, url), 30)
            async def limiter_in_redis() -> bool:   # a login spends a token: it must land in Redis again
                await _login(client, url, emails[people[-1].user_id])
                return await _redis_has_keys(redis.url)
            limiter_back = await wait_until(limiter_in_redis, 30, 0.3)

            # ---- Redis hung (SIGSTOP): accepts connections, answers nothing
            load.phase = "hung"
            redis.pause()
            for u in people[1:] * 2:                # (people[0]'s login bucket was emptied by the flood)
                status, seconds = await _login(client, url, emails[u.user_id])
                logins["hung"].append(status)
                latency["hung"].append(seconds)
            health_hung = await _health(client, url)
            await asyncio.sleep(hang_s)
            redis.resume()
            load.phase = "after"
            recovery_hung = await wait_until(lambda: _health_ok(client, url), 30)
            for u in people[1:3]:
                logins["after"].append((await _login(client, url, emails[u.user_id]))[0])
            await asyncio.sleep(after_s)
            await load.stop()
            await retry_unknown(client, url, load.tally)
        numbers = {
            "logins": {k: _counts(v) for k, v in logins.items()},
            "login_p50_s": {k: round(statistics.median(v), 3) for k, v in latency.items() if v},
            "login_max_s": {k: round(max(v), 3) for k, v in latency.items() if v},
            "logins_slower_than_2s": {k: sum(1 for x in v if x >= 1.9) for k, v in latency.items()},
            "flood_statuses": _counts(flood),
            "health_down": [health_down[0], health_down[1].get("status"), health_down[1].get("checks", {}).get("cache"),
                            health_down[1].get("fallbacks")],
            "health_hung": [health_hung[0], health_hung[1].get("status"), health_hung[1].get("checks", {}).get("cache")],
            "metrics_down": {"mycrypto_redis_up": redis_up_down, "mycrypto_rate_limit_fallbacks_total": fallbacks},
            "redis_keys_before": keys_before,
            "recovery_health_s": None if recovery is None else round(recovery, 2),
            "recovery_limiter_in_redis_s": None if limiter_back is None else round(limiter_back, 2),
            "recovery_after_hang_s": None if recovery_hung is None else round(recovery_hung, 2),
            "down_seconds": round(back_at - killed_at, 2),
            "sent": load.sent, "server_errors": len(load.tally.server_errors),
        }
        return await make_report("redis-down", db, load.tally, env, numbers,
                                 unhandled=lambda: platform.unhandled(), log=log)
    finally:
        if load is not None:
            await load.close()
        if db is not None:
            await db.close()
        if platform is not None:
            platform.close()
        redis.close()
        pg.close()


def _counts(statuses: list[int | None]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in statuses:
        out[str(s)] = out.get(str(s), 0) + 1
    return out


async def _health_ok(client: httpx.AsyncClient, url: str) -> bool:
    status, body = await _health(client, url)
    return status == 200 and body.get("status") == "ok"


async def _redis_keys(url: str) -> list[bytes]:
    import redis.asyncio as aioredis

    r = aioredis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return await r.keys("mycrypto:rl:*")
    except Exception:
        return []
    finally:
        await r.aclose()


async def _redis_has_keys(url: str) -> bool:
    return bool(await _redis_keys(url))
