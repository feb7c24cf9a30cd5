"""Health checks: `{status, service, version, checks: {database, cache, queue[, chain]}}`.

A dependency that is not configured reports `not_configured` and does not make the service
unhealthy; a configured one that fails does (HTTP 503), except the cache (Redis): its outage has a
fallback, so it makes the status `degraded` (HTTP 200) and `fallbacks` says what is used instead. A real chain node (CHAIN_ETH_RPC_URL) adds
`checks.chain` (`ok` / `degraded`, details under `chains`): degraded keeps HTTP 200 with status
`degraded`, because deposits and withdrawals just wait for the node. The chains' state is the wallet's
(wallet.chain.status.chain_health): apps.py hands that reader in, so this module imports no service. Broker probes are cached for a few seconds
so a busy probe loop cannot open a connection per request.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.responses import Response

from .. import __version__
from .metrics import REDIS_UP

OK, DOWN, NOT_CONFIGURED = "ok", "down", "not_configured"
# Dependencies whose outage degrades the service instead of stopping it: check -> what is used meanwhile
# (docs/operations.md, "Fault drills"). Redis holds only rate-limit buckets (and, where the streams package
# runs, the market-data fan-out); without it each process limits with its own in-memory buckets.
DEGRADABLE = {"cache": "rate limits use per-process in-memory buckets until Redis answers again"}
_QUEUE_CACHE_SECONDS = 5.0
_queue_cache: dict[str, tuple[float, str]] = {}


async def check_database(container: Any) -> str:
    return OK if await container.db.ping() else DOWN


async def check_cache(container: Any) -> str:
    if container.redis is None:
        return NOT_CONFIGURED
    try:
        result = OK if await asyncio.wait_for(container.redis.ping(), 2) else DOWN
    except Exception:  # any failure is "down"; details go to the logs of the component using it
        result = DOWN
    REDIS_UP.set(1 if result == OK else 0)
    return result


async def check_queue(container: Any) -> str:
    url = container.settings.amqp_url
    if not url:
        return NOT_CONFIGURED
    cached = _queue_cache.get(url)
    if cached and time.monotonic() - cached[0] < _QUEUE_CACHE_SECONDS:
        return cached[1]
    try:
        import aio_pika

        conn = await asyncio.wait_for(aio_pika.connect(url, timeout=2), 3)
        await conn.close()
        result = OK
    except Exception:
        result = DOWN
    _queue_cache[url] = (time.monotonic(), result)
    return result


# A service's own check: (ok, details), added to the health body under its key (the trade service's
# matching engines under "engine", trading/health.py); not ok makes the service unhealthy and not ready.
ServiceCheck = Callable[[Any], tuple[bool, dict[str, Any]]]


# Reads the real chains' state from the database: {chain: {"status", "detail", ...}}
ChainReader = Callable[[Any], Awaitable[dict[str, Any]]]


async def check_chains(container: Any, read: ChainReader | None) -> dict[str, Any] | None:
    """Real chains' node state as their adapters last reported it (`read`); None when no real chain is
    configured. A degraded chain is reported, not fatal: deposits wait, withdrawals queue."""
    if read is None or not container.settings.chain_eth_rpc_url:
        return None
    try:
        return await read(container.db)
    except Exception:
        return {"unknown": {"status": "degraded", "detail": "chain status unreadable"}}


async def health_report(container: Any, service: str, extra: dict[str, ServiceCheck] | None = None,
                        chains: ChainReader | None = None) -> tuple[int, dict[str, Any]]:
    database, cache, queue, chain_state = await asyncio.gather(
        check_database(container), check_cache(container), check_queue(container), check_chains(container, chains))
    checks: dict[str, Any] = {"database": database, "cache": cache, "queue": queue}
    # Redis down is degraded, not down: what it holds has a fallback (DEGRADABLE), and a 503 here would take
    # every replica out of service at once for something that does not stop trading or login
    healthy = all(v in (OK, NOT_CONFIGURED) for k, v in checks.items() if k not in DEGRADABLE)
    degraded = {k: DEGRADABLE[k] for k, v in checks.items() if k in DEGRADABLE and v == DOWN}
    body: dict[str, Any] = {"status": "", "service": service, "version": __version__, "checks": checks}
    if degraded:
        body["fallbacks"] = degraded
    for name, check in (extra or {}).items():
        ok, details = check(container)
        body[name] = details
        healthy = healthy and ok
    status = "ok" if healthy else "unavailable"
    if healthy and degraded:
        status = "degraded"
    if chain_state is not None:
        chain_degraded = not chain_state or any(c["status"] != OK for c in chain_state.values())
        checks["chain"] = "degraded" if chain_degraded else OK
        if healthy and chain_degraded:
            status = "degraded"
        body["chains"] = chain_state
    body["status"] = status
    return (200 if healthy else 503), body


async def health_response(container: Any, service: str, extra: dict[str, ServiceCheck] | None = None,
                          chains: ChainReader | None = None) -> Response:
    status, body = await health_report(container, service, extra, chains)
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})
