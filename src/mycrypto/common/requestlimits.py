"""Request limits per route family (issue 11: /api/v1/wallet and /api/v1/trade had none).

Every request to a route family costs one token from a bucket keyed by family and client:

    family    paths                                            (health, /metrics and docs: never limited)
    auth      /api/v1/auth/...
    wallet    /api/v1/wallet/...
    trade     /api/v1/trade/..., /api/v1/orderbook/...          (orders, market data, alerts, indicators)
    binance   /api/v3/... and Binance's other namespaces        (on top of Binance's request weights)
    web       /web/..., /dev/...                                (the web app's helpers)
    site      everything else: the web app's pages and files

The client is the credential a request carries - the bearer token, the `mc_access` cookie (the same
token) or the `X-MBX-APIKEY` key - so a hundred users behind one address each have their own bucket
(`REQUEST_LIMITS`, per family `[tokens per second, burst]`); a request without one is counted per IP
address (`REQUEST_LIMITS_PER_IP`). Refused: `429 rate_limited` with `Retry-After` (seconds) and
`details.retry_after`, before any handler runs. The defaults are generous (a load run of 1000+ req/s
from 100 users is not throttled, nor the launch preflight's 1000 req/s of public reads from one
address): they stop a runaway client or a flood, while the finer limits stay where they are (login,
registration and 2FA in auth; request weights and orders per 10 s in /api/v3; the WAF in front).

The buckets are in this process (`MemoryLimiter`, a dictionary update per request - no Redis round trip
on the order path), so with N replicas a client gets at most N times the limit. RATE_LIMITS_ENABLED=false
turns them off with every other limit.
"""
from __future__ import annotations

import hashlib
import logging
from typing import Any

import orjson

from .http import client_ip
from .metrics import record_error_code
from .ratelimit import MemoryLimiter

log = logging.getLogger("mycrypto.errors")

FAMILIES = ("auth", "wallet", "trade", "binance", "web", "site")
# (prefix, family), the first match wins; None = not limited (probes, metrics, the API reference).
_PREFIXES: tuple[tuple[str, str | None], ...] = (
    ("/api/v1/trade/", "trade"), ("/api/v1/orderbook/", "trade"), ("/api/v1/wallet/", "wallet"),
    ("/api/v1/auth/", "auth"), ("/api/v3/", "binance"), ("/web/", "web"), ("/dev/", "web"),
    ("/health", None), ("/metrics", None), ("/api/docs", None), ("/api/openapi.json", None),
    ("/api/v1/", "trade"),
)
_BINANCE_NAMESPACES = ("/sapi/", "/wapi/", "/fapi/", "/dapi/", "/eapi/", "/papi/", "/vapi/", "/bapi/")
ACCESS_COOKIE = b"mc_access="


def family_of(path: str) -> str | None:
    for prefix, family in _PREFIXES:
        if path.startswith(prefix):
            return family
    if path.startswith(_BINANCE_NAMESPACES):
        return "binance"
    return "site"


def credential_of(headers: Any) -> str | None:
    """A short, stable key for the credential the request carries (never the credential itself)."""
    token = None
    for name, value in headers:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            token = value[7:].strip()
            break
        if name == b"x-mbx-apikey":
            token = b"k:" + value.strip()
            break
        if name == b"cookie" and ACCESS_COOKIE in value:
            start = value.index(ACCESS_COOKIE) + len(ACCESS_COOKIE)
            end = value.find(b";", start)
            token = value[start:end if end >= 0 else None].strip()
    if not token:
        return None
    return hashlib.blake2b(token, digest_size=12).hexdigest()


class RequestLimitMiddleware:
    """Pure ASGI (it wraps the order fast path too): one bucket hit per request, microseconds."""

    def __init__(self, app: Any, *, per_client: dict[str, Any], per_ip: dict[str, Any],
                 trust_proxy_headers: bool = False, limiter: MemoryLimiter | None = None) -> None:
        self.app = app
        self.per_client = {f: (float(v[0]), float(v[1])) for f, v in per_client.items()}
        self.per_ip = {f: (float(v[0]), float(v[1])) for f, v in per_ip.items()}
        self.trust_proxy = trust_proxy_headers
        self.limiter = limiter or MemoryLimiter()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS":   # CORS preflights cost nothing
            await self.app(scope, receive, send)
            return
        family = family_of(scope["path"])
        if family is not None:
            credential = credential_of(scope["headers"])
            if credential is not None:
                limits, key = self.per_client.get(family), f"req:{family}:c:{credential}"
            else:
                limits, key = self.per_ip.get(family), f"req:{family}:ip:{client_ip(scope, self.trust_proxy)}"
            if limits is not None:
                decision = self.limiter.hit_now(key, rate=limits[0], burst=limits[1])
                if not decision.allowed:
                    await self._refuse(scope, send, family, decision.retry_after)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: dict, send: Any, family: str, retry_after: float) -> None:
        seconds = max(1, int(retry_after + 0.999))
        request_id = scope.get("state", {}).get("request_id")
        error = {"code": "rate_limited", "message": f"Too many requests to {family} routes; slow down.",
                 "details": {"retry_after": seconds, "family": family}}
        if request_id:
            error["request_id"] = request_id
        body = orjson.dumps({"error": error})
        log.info("request refused", extra={"code": "rate_limited", "status": 429, "path": scope["path"],
                                           "reason": f"request limit of the {family} routes"})
        record_error_code(scope, "rate_limited")
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"retry-after", str(seconds).encode())]})
        await send({"type": "http.response.body", "body": body})
