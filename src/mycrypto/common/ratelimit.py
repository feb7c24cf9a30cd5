"""Rate limiting: one token-bucket interface, Redis-backed (shared by all replicas) or in-process.

    limiter = container.rate_limiter                   # built once per container (build_limiter)
    await limiter.check("login:ip:1.2.3.4", rate=0.1, burst=30)          # raises RateLimited (429)
    decision = await limiter.hit("binance:weight:42", cost=20, rate=100, burst=6000)  # just asks

A bucket holds up to `burst` tokens and refills at `rate` tokens per second; a request costs `cost`
tokens (a Binance "request weight" is simply the cost). A refused hit takes nothing from the bucket
and says how long until it would pass (`retry_after`, seconds) - that becomes `Retry-After`.

With REDIS_URL the bucket lives in Redis and is updated by one Lua script (atomic, using Redis'
clock, so replicas agree). If Redis is unreachable the limiter falls back to the in-process buckets
and logs a warning rather than failing every request: a degraded limit beats an outage of login.
After a failure it does not ask Redis again for SKIP_AFTER_FAILURE_S (5 s), so a hung Redis (accepting
connections, answering nothing) costs one socket timeout now and then, not one per request.
`mycrypto_redis_up` and `mycrypto_rate_limit_fallbacks_total` show it in /metrics; /health says
`degraded` with `checks.cache: down` (common/health.py).
With RATE_LIMITS_ENABLED=false every hit is allowed (load tests, some test suites).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import RateLimited
from .metrics import RATE_LIMIT_FALLBACKS, REDIS_UP

log = logging.getLogger("mycrypto.ratelimit")
NEVER_S = 86400.0  # retry_after when cost > burst: the request can never pass
# after a Redis failure, decide in-process this long before asking it again: a hung Redis then costs one
# socket timeout (2 s) per 5 s instead of one per hit, and a recovered one is used again within 5 s
SKIP_AFTER_FAILURE_S = 5.0


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: float
    retry_after: float  # seconds until `cost` tokens are available; 0 when allowed


class Limiter(Protocol):
    async def hit(self, key: str, *, cost: float = 1, rate: float, burst: float) -> Decision: ...

    async def check(self, key: str, *, cost: float = 1, rate: float, burst: float,
                    message: str | None = None) -> Decision: ...

    async def reset(self, key: str) -> None: ...

    async def aclose(self) -> None: ...


def _validate(cost: float, rate: float, burst: float) -> None:
    if rate <= 0 or burst <= 0 or cost < 0:
        raise ValueError("rate and burst must be > 0 and cost >= 0")


class _Base:
    async def hit(self, key: str, *, cost: float = 1, rate: float, burst: float) -> Decision:
        raise NotImplementedError

    async def check(self, key: str, *, cost: float = 1, rate: float, burst: float,
                    message: str | None = None) -> Decision:
        """`hit`, raising RateLimited (429 + Retry-After) when refused."""
        decision = await self.hit(key, cost=cost, rate=rate, burst=burst)
        if not decision.allowed:
            raise RateLimited(decision.retry_after, message)
        return decision

    async def reset(self, key: str) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release what the limiter holds (a Redis client it created); nothing for the others."""


class MemoryLimiter(_Base):
    """Token buckets in this process (embedded mode, tests, and the fallback when Redis is down)."""

    MAX_KEYS = 200_000

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    async def hit(self, key: str, *, cost: float = 1, rate: float, burst: float) -> Decision:
        return self.hit_now(key, cost=cost, rate=rate, burst=burst)

    def hit_now(self, key: str, *, cost: float = 1, rate: float, burst: float) -> Decision:
        _validate(cost, rate, burst)
        now = self._clock()
        tokens, at = self._buckets.get(key, (burst, now))
        tokens = min(burst, tokens + max(0.0, now - at) * rate)
        if cost > burst:
            return Decision(False, tokens, NEVER_S)
        if tokens >= cost:
            tokens -= cost
            allowed, retry = True, 0.0
        else:
            allowed, retry = False, (cost - tokens) / rate
        if len(self._buckets) >= self.MAX_KEYS and key not in self._buckets:
            self._evict(now)
        self._buckets[key] = (tokens, now)
        return Decision(allowed, tokens, retry)

    def _evict(self, now: float) -> None:
        # Buckets untouched for long are full again; dropping them changes nothing observable.
        stale = [k for k, (_, at) in self._buckets.items() if now - at > 3600]
        for k in stale:
            del self._buckets[k]
        if len(self._buckets) >= self.MAX_KEYS:
            self._buckets.clear()

    async def reset(self, key: str) -> None:
        self._buckets.pop(key, None)


# KEYS[1] bucket; ARGV: rate (tokens/s), burst, cost. Returns {allowed, remaining*1000, retry_ms}.
# Uses the Redis server clock so every replica sees the same time.
_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then tokens = burst; at = now end
local elapsed = now - at
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate / 1000)
local allowed = 0
local retry = 0
if cost > burst then
  retry = -1
elseif tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {allowed, math.floor(tokens * 1000), retry}
"""


class RedisLimiter(_Base):
    """Token buckets in Redis, one atomic Lua call per hit; falls back to memory if Redis fails."""

    @classmethod
    def from_url(cls, url: str, prefix: str = "mycrypto:rl:", max_connections: int = 64) -> RedisLimiter:
        """Own client with a *blocking* pool: a burst of hits waits briefly for a connection instead of
        failing with MaxConnectionsError (which would degrade every hit to the in-process fallback)."""
        import redis.asyncio as aioredis

        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=2,
                                                        socket_timeout=2, socket_connect_timeout=2)
        limiter = cls(aioredis.Redis(connection_pool=pool), prefix)
        limiter._owns_client = True
        return limiter

    async def aclose(self) -> None:
        if self._owns_client:
            await self.redis.aclose()

    def __init__(self, redis: Any, prefix: str = "mycrypto:rl:", fallback: MemoryLimiter | None = None) -> None:
        self._owns_client = False
        self.redis = redis
        self.prefix = prefix
        self.fallback = fallback or MemoryLimiter()
        self._script = redis.register_script(_LUA)
        self._warned_at = 0.0
        self._skip_until = 0.0

    async def hit(self, key: str, *, cost: float = 1, rate: float, burst: float) -> Decision:
        _validate(cost, rate, burst)
        if time.monotonic() < self._skip_until:   # Redis failed just now: do not wait on it again yet
            RATE_LIMIT_FALLBACKS.inc()
            return await self.fallback.hit(key, cost=cost, rate=rate, burst=burst)
        try:
            allowed, remaining, retry_ms = await self._script(keys=[self.prefix + key], args=[rate, burst, cost])
        except Exception as exc:  # Redis down/timeouts: degrade to per-process limits, never to "no limit"
            now = time.monotonic()
            self._skip_until = now + SKIP_AFTER_FAILURE_S
            REDIS_UP.set(0)
            RATE_LIMIT_FALLBACKS.inc()
            if now - self._warned_at > 30:
                self._warned_at = now
                log.warning("rate limiter: Redis unavailable, using in-process buckets", extra={"error": str(exc)})
            return await self.fallback.hit(key, cost=cost, rate=rate, burst=burst)
        REDIS_UP.set(1)
        retry = NEVER_S if int(retry_ms) < 0 else int(retry_ms) / 1000
        return Decision(bool(int(allowed)), int(remaining) / 1000, retry)

    async def reset(self, key: str) -> None:
        await self.fallback.reset(key)
        try:
            await self.redis.delete(self.prefix + key)
        except Exception:  # best effort; the bucket refills by itself anyway
            log.warning("rate limiter: reset failed", exc_info=True)


class DisabledLimiter(_Base):
    """RATE_LIMITS_ENABLED=false: everything passes."""

    async def hit(self, key: str, *, cost: float = 1, rate: float, burst: float) -> Decision:
        _validate(cost, rate, burst)
        return Decision(True, burst, 0.0)

    async def reset(self, key: str) -> None:
        return None


def build_limiter(settings: Any) -> Limiter:
    if not settings.rate_limits_enabled:
        return DisabledLimiter()
    if settings.redis_url:
        return RedisLimiter.from_url(settings.redis_url, settings.rate_limit_prefix)
    return MemoryLimiter()
