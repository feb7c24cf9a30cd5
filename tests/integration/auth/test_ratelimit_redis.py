"""The Redis token bucket (common.ratelimit.RedisLimiter) on the real Redis: semantics, atomicity under
concurrency, shared between "replicas", request weights, and the fallback when Redis is unreachable."""
from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from mycrypto.common.errors import RateLimited
from mycrypto.common.ratelimit import MemoryLimiter, RedisLimiter
from tests.support.services import REDIS_URL, require


@pytest.fixture
async def redis_client():
    require("Redis", REDIS_URL, 6379)
    client = aioredis.from_url(REDIS_URL)
    prefix = f"test:rl:{uuid.uuid4().hex}:"
    yield client, prefix
    keys = [k async for k in client.scan_iter(prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_bucket_allows_burst_then_refuses_with_retry_after(redis_client):
    client, prefix = redis_client
    limiter = RedisLimiter(client, prefix)
    results = [await limiter.hit("k", rate=1.0, burst=3) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert 0 < results[-1].retry_after <= 1.0
    with pytest.raises(RateLimited) as exc:
        await limiter.check("k", rate=1.0, burst=3)
    assert exc.value.headers["Retry-After"] == "1" and exc.value.http_status == 429
    await asyncio.sleep(1.05)
    assert (await limiter.hit("k", rate=1.0, burst=3)).allowed
    ttl = await client.pttl(prefix + "k")
    assert 0 < ttl <= 4000  # keys expire once the bucket would be full again


async def test_weights_and_shared_state_between_replicas(redis_client):
    client, prefix = redis_client
    a, b = RedisLimiter(client, prefix), RedisLimiter(client, prefix)
    assert (await a.hit("w", cost=40, rate=10, burst=100)).allowed
    assert (await b.hit("w", cost=40, rate=10, burst=100)).allowed
    refused = await a.hit("w", cost=40, rate=10, burst=100)
    assert not refused.allowed and 1.5 < refused.retry_after <= 2.1  # needs 20 more tokens at 10/s
    assert not (await b.hit("w", cost=101, rate=10, burst=100)).allowed  # can never pass
    await a.reset("w")
    assert (await b.hit("w", cost=100, rate=10, burst=100)).allowed


async def test_concurrent_hits_never_exceed_the_burst(redis_client):
    client, prefix = redis_client
    limiters = [RedisLimiter.from_url(REDIS_URL, prefix, max_connections=16) for _ in range(4)]
    try:
        results = await asyncio.gather(*(limiters[i % 4].hit("race", rate=0.001, burst=25) for i in range(400)))
    finally:
        for limiter in limiters:
            await limiter.aclose()
    assert sum(r.allowed for r in results) == 25
    assert all(not isinstance(r, Exception) for r in results)


async def test_falls_back_to_memory_when_redis_is_down():
    dead = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    limiter = RedisLimiter(dead, "x:", fallback=MemoryLimiter())
    results = [await limiter.hit("k", rate=0.01, burst=2) for _ in range(3)]
    assert [r.allowed for r in results] == [True, True, False]  # still limited, per process
    await dead.aclose()
