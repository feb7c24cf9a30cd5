"""The limiter against a HUNG Redis (a private redis-server stopped with SIGSTOP: it accepts connections and
answers nothing): after one socket timeout it decides in-process for the skip window instead of making
every hit wait, still limits, counts the fallbacks, and goes back to Redis once Redis answers again."""
from __future__ import annotations

import asyncio
import shutil
import time

import pytest
import redis.asyncio as aioredis

from mycrypto.common import ratelimit
from mycrypto.common.metrics import RATE_LIMIT_FALLBACKS, REDIS_UP
from mycrypto.common.ratelimit import MemoryLimiter, RedisLimiter
from tests.support.private_servers import PrivateRedis
from tests.support.services import in_ci


@pytest.fixture
def hung_redis():
    if shutil.which("redis-server") is None:
        if in_ci():
            pytest.fail("redis-server is needed (CI=true)")
        pytest.skip("redis-server is not installed")
    server = PrivateRedis()
    server.start()
    yield server
    server.close()


async def test_a_hung_redis_costs_one_timeout_per_window_not_one_per_hit(hung_redis, monkeypatch):
    monkeypatch.setattr(ratelimit, "SKIP_AFTER_FAILURE_S", 1.0)
    client = aioredis.from_url(hung_redis.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    limiter = RedisLimiter(client, "hung:", fallback=MemoryLimiter())
    try:
        assert (await limiter.hit("k", rate=0.01, burst=3)).allowed
        assert await client.exists("hung:k")                # in Redis while it answers
        hung_redis.pause()
        fallbacks = RATE_LIMIT_FALLBACKS._value.get()
        started = time.monotonic()
        first = await limiter.hit("k", rate=0.01, burst=3)  # waits for the socket timeout once
        waited = time.monotonic() - started
        started = time.monotonic()
        rest = [await limiter.hit("k", rate=0.01, burst=3) for _ in range(20)]
        quick = time.monotonic() - started
        assert waited >= 0.4
        assert quick < 0.3, f"20 hits inside the skip window took {quick:.2f}s"
        # still limited: the in-process bucket (full at the fallback) allows its burst, then refuses
        assert [first.allowed, *(r.allowed for r in rest)].count(True) == 3
        assert RATE_LIMIT_FALLBACKS._value.get() - fallbacks == 21
        assert REDIS_UP._value.get() == 0
        hung_redis.resume()
        await asyncio.sleep(1.1)                            # the window passes: Redis is asked again
        await limiter.hit("k2", rate=0.01, burst=3)
        assert await client.exists("hung:k2") and REDIS_UP._value.get() == 1
    finally:
        hung_redis.resume()
        await client.aclose()
