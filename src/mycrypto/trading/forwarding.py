"""Relaying an order command to the replica that owns its market (one hop, never a loop).

Order commands for a market another replica owns raise `NotOwnerHere` (with the owner's URL, advertised
in trade.market_engine); the /api/v1/trade router and the Binance-compatible /api/v3 router answer them
with `forward`, which sends the request unchanged (authentication headers and body included) and marks
it, so the owner answers it itself. With no live owner the answer is 503 `market_unavailable`.
"""
from __future__ import annotations

import httpx
import orjson
from fastapi import Request
from starlette.responses import Response

from .errors import MarketUnavailable, NotOwnerHere

FORWARDED = "x-mycrypto-forwarded"
FORWARD_HEADERS = ("authorization", "content-type", "x-request-id", "x-mbx-apikey", "cookie", "x-csrf-token",
                   "user-agent")
JSON = "application/json"
PREFIX = "/api/v1/trade"


def _client(request: Request) -> httpx.AsyncClient:
    return request.app.state.container.trade_forwarder


def _headers(request: Request) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k in FORWARD_HEADERS}
    headers[FORWARDED] = "1"
    return headers


async def forward(request: Request, exc: NotOwnerHere, body: bytes | None = None) -> Response:
    """Relay an order command to the replica that owns the market (one hop, never a loop)."""
    if exc.owner_url is None or request.headers.get(FORWARDED):
        raise MarketUnavailable()
    url = exc.owner_url + request.url.path + (("?" + request.url.query) if request.url.query else "")
    try:
        r = await _client(request).request(request.method, url,
                                           content=body if body is not None else await request.body(),
                                           headers=_headers(request))
    except httpx.HTTPError:
        raise MarketUnavailable() from None
    keep = {k: v for k, v in r.headers.items() if k in ("retry-after",)}
    return Response(r.content, status_code=r.status_code, media_type=r.headers.get("content-type", JSON),
                    headers=keep)


async def forward_cancel_all(request: Request, exc: NotOwnerHere, symbol: str) -> list[dict]:
    """Cancel the caller's orders in one market on its owner: that market's part of a cancel-all."""
    if exc.owner_url is None or request.headers.get(FORWARDED):
        raise MarketUnavailable()
    try:
        r = await _client(request).delete(f"{exc.owner_url}{PREFIX}/orders", params={"symbol": symbol},
                                          headers=_headers(request))
    except httpx.HTTPError:
        raise MarketUnavailable() from None
    if r.status_code != 200:
        raise MarketUnavailable()
    return orjson.loads(r.content)
