"""Helpers for the Binance-compatible API tests: funded users with real API keys, signed requests, ccxt
clients pointed at a running MyCrypto, and ledger reads to check what the API reports."""
from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

from tests.support.factories import bearer, create_user, fund

D = Decimal
SPOT_OPTIONS = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}


@dataclass
class KeyUser:
    user_id: int
    api_key: str
    secret: str
    headers: dict[str, str]          # bearer headers (for /api/v1 checks)


async def key_user(client, db, settings, funds: dict[str, str] | None = None, *,
                   permissions: tuple[str, ...] = ("read", "trade"), verified: bool = True) -> KeyUser:
    """A user funded through the ledger, with an API key created through the real auth API."""
    user_id = await create_user(db, verified=verified)
    for asset, amount in (funds or {}).items():
        await fund(db, user_id, asset, amount)
    headers = bearer(settings, user_id)
    r = await client.post("/api/v1/auth/api-keys", json={"label": "bot", "permissions": list(permissions)},
                          headers=headers)
    assert r.status_code == 201, r.text
    body = r.json()
    return KeyUser(user_id, body["api_key"], body["secret"], headers)


def signed(user: KeyUser, params: dict | None = None, *, timestamp_ms: int | None = None,
           secret: str | None = None) -> str:
    """Binance signing: urlencoded params + timestamp, then &signature=HMAC-SHA256(secret, that string)."""
    params = dict(params or {})
    params.setdefault("timestamp", timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    query = urlencode(params)
    sig = hmac.new((secret or user.secret).encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={sig}"


def key_headers(user: KeyUser) -> dict[str, str]:
    return {"X-MBX-APIKEY": user.api_key}


async def sget(client, user: KeyUser, path: str, params: dict | None = None, **kw):
    return await client.get(f"/api/v3/{path}?{signed(user, params, **kw)}", headers=key_headers(user))


async def spost(client, user: KeyUser, path: str, params: dict | None = None, **kw):
    """POST with the signed parameters in a form body (as ccxt and the Binance SDKs send them)."""
    return await client.post(f"/api/v3/{path}", content=signed(user, params, **kw),
                             headers={**key_headers(user), "Content-Type": "application/x-www-form-urlencoded"})


async def sdelete(client, user: KeyUser, path: str, params: dict | None = None, **kw):
    return await client.delete(f"/api/v3/{path}?{signed(user, params, **kw)}", headers=key_headers(user))


def binance_error(r, code: int, status: int | None = None) -> dict:
    """Assert a Binance-shaped error: HTTP 4xx/5xx, body exactly {"code", "msg"}."""
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"code", "msg"}, body
    assert body["code"] == code, (r.status_code, body)
    if status is not None:
        assert r.status_code == status, (r.status_code, body)
    else:
        assert r.status_code >= 400, (r.status_code, body)
    return body


def ccxt_config(url: str, user: KeyUser | None = None, **extra) -> dict:
    """ccxt.binance options with EVERY entry of urls['api'] pointed at `url` (same path prefix)."""
    import ccxt

    api = {}
    for name, value in ccxt.binance().urls["api"].items():
        api[name] = url + urlsplit(value).path
    config = {"urls": {"api": api}, "options": dict(SPOT_OPTIONS), "enableRateLimit": False, "timeout": 30000}
    if user is not None:
        config.update(apiKey=user.api_key, secret=user.secret)
    config.update(extra)
    return config


async def ledger(db, user_id: int) -> dict[str, tuple[Decimal, Decimal]]:
    rows = await db.fetch("SELECT asset, available, locked FROM wallet.account WHERE kind = 'user' AND user_id = $1",
                          user_id)
    return {r["asset"]: (r["available"].normalize(), r["locked"].normalize()) for r in rows}


async def fees_collected(db, asset: str) -> Decimal:
    return (await db.fetchval("SELECT available FROM wallet.account WHERE kind = 'fees' AND asset = $1",
                              asset)).normalize()


async def snapshot(db) -> tuple:
    """Everything a refused request must leave untouched."""
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM trade.spot_order) AS orders, (SELECT count(*) FROM trade.trade) AS trades, "
        "(SELECT count(*) FROM wallet.posting) AS postings, "
        "(SELECT coalesce(sum(available), 0) FROM wallet.account WHERE kind = 'user') AS available, "
        "(SELECT coalesce(sum(locked), 0) FROM wallet.account WHERE kind = 'user') AS locked, "
        "(SELECT string_agg(id || ':' || status::text || ':' || filled_quantity::text, ',' ORDER BY id) "
        "   FROM trade.spot_order) AS statuses")
    return tuple(row.values())
