"""The WebSocket endpoints and the listen-key REST operations (docs/streams.md).

- `/ws`: the native protocol (`{"op": ...}`) and Binance's (`{"method": ...}`) on one path, told apart
  by the first request frame; `/ws/<stream>` (Binance raw stream, or `/ws/<listenKey>` user data);
  `/stream?streams=a/b` (Binance combined); `/ws-api/v3` (Binance WebSocket API: user data
  subscription by signature, ping, time).
- `POST/PUT/DELETE /api/v3/userDataStream`: Binance's listen keys (X-MBX-APIKEY only).
Bad input never reaches a 5xx: an error frame, or a close code with a reason (connection.py).
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import APIRouter, Request, WebSocket
from starlette.responses import Response
from starlette.websockets import WebSocketDisconnect

from ..auth.principal import ACCESS_COOKIE, api_key_user, token_principal, ws_signed_user
from ..common.errors import AppError
from ..common.http import client_ip
from ..container import Container
from ..marketdata.candles import BadInterval, interval_ms
from ..notify import relay
from ..wallet.ledger import balances as ledger_balances
from . import binance, native
from .connection import BAD_FRAMES, POLICY, TOO_BIG, Connection
from .fanout import RedisFanout
from .hub import StreamHub
from .private import UserRoute, listen_key_user, pull_source

log = logging.getLogger("mycrypto.streams")
router = APIRouter(tags=["streams"])
MAX_BAD_FRAMES = 10


@asynccontextmanager
async def lifespan(container: Container) -> AsyncIterator[None]:
    """The hub beside the engines: it listens to every committed batch of the markets owned here."""
    settings = container.settings
    registry = container.trade_registry
    fanout = RedisFanout(container.redis, settings.stream_redis_channel) if container.redis is not None else None

    async def balances(user_id: int, assets: list[str] | None) -> list[dict]:
        async with container.db.acquire() as conn:
            rows = await ledger_balances(conn, user_id)
        return [{"asset": r["asset"], "available": _num(r["available"]), "locked": _num(r["locked"])}
                for r in rows if not assets or r["asset"] in assets]

    hub = StreamHub(settings, symbols=lambda: registry.by_symbol, pull=pull_source(container),
                    balances=balances, publish_remote=fanout.publish if fanout is not None else None)
    container.streams = hub
    registry.feed_listeners.append(hub.on_committed)
    hub.start()
    if fanout is not None:
        fanout.start(hub.on_remote)
    else:   # one process: the outbox relay (if it runs here) delivers user events straight to the hub
        relay.add_route(container, "stream.user.", UserRoute(hub.on_remote))
    try:
        yield
    finally:
        await hub.stop()
        if fanout is not None:
            await fanout.stop()
        container.streams = None


def _num(v: Any) -> str:
    return "0" if not v else format(v.normalize(), "f")


class Session:
    """What the codecs need of one connection: its hub, replies, limits and authentication."""

    def __init__(self, ws: WebSocket, conn: Connection, hub: StreamHub, container: Container) -> None:
        self.ws, self.conn, self.hub, self.container = ws, conn, hub, container
        self.settings = container.settings

    def reply(self, frame: str) -> None:
        self.conn.offer(frame)

    @staticmethod
    def interval_ok(interval: str) -> bool:
        try:
            interval_ms(interval)
            return True
        except BadInterval:
            return False

    def by_binance(self) -> dict[str, str]:
        return {binance.bsym(s).lower(): s for s in self.hub.symbols()}

    def room_for(self, n: int) -> bool:
        limit = self.settings.stream_max_subscriptions
        if self.conn.subscription_count() + n > limit:
            reason = f"too many subscriptions (at most {limit} per connection)"
            if self.conn.protocol == "native":
                self.reply(native.error_frame(None, "too_many_subscriptions", reason))
            else:
                self.reply(binance.error(None, 3, reason))
            self.conn.close(POLICY, reason, flush=True)
            return False
        return True

    def login(self, user_id: int, expires_at: float | None) -> None:
        self.hub.set_user(self.conn, user_id)
        self.conn.expires_at = expires_at

    async def authenticate_token(self, req_id: Any, token: Any) -> None:
        try:
            principal, exp = await token_principal(self.container, token)
        except AppError as exc:
            self.reply(native.error_frame(req_id, exc.code, exc.message))
            return
        self.login(principal.user_id, exp)
        self.reply(orjson.dumps({"type": "authenticated", "id": req_id, "user_id": principal.user_id}).decode())

    async def wsapi(self, method: Any, req_id: Any, params: Any) -> None:
        """Binance WebSocket API requests (the subset ccxt's spot user data uses)."""
        def ok(result: Any) -> None:
            self.reply(orjson.dumps({"id": req_id, "status": 200, "result": result}).decode())

        def fail(status: int, code: int, msg: str) -> None:
            self.reply(orjson.dumps({"id": req_id, "status": status, "error": {"code": code, "msg": msg}}).decode())

        if method == "ping":
            ok({})
        elif method == "time":
            ok({"serverTime": int(time.time() * 1000)})
        elif method == "userDataStream.subscribe.signature":
            user_id = await ws_signed_user(self.container, params, int(time.time() * 1000))
            if user_id is None:
                fail(401, -1022, "Signature for this request is not valid.")
                return
            self.login(user_id, None)
            self.conn.user_streams |= binance.user_streams_for_binance()
            self.conn.subscription_id = 0
            ok({"subscriptionId": 0})
        elif method == "userDataStream.unsubscribe":
            self.conn.user_streams.clear()
            self.hub.set_user(self.conn, None)
            ok({})
        else:
            fail(400, -1100, "Unknown or unsupported method.")


async def _serve(ws: WebSocket, protocol: str, initial: list[tuple[str, str]] | None = None,
                 listen_user: int | None = None) -> None:
    container: Container = ws.app.state.container
    hub: StreamHub | None = getattr(container, "streams", None)
    settings = container.settings
    if hub is None:
        await ws.close(1013, "streams are not served here")
        return
    ip = client_ip(ws, settings.trust_proxy_headers)
    admitted = hub.admit(ip)
    await ws.accept()
    conn = Connection(ws, ip, protocol, settings.stream_send_queue)
    conn.start()
    if not admitted:
        conn.close(POLICY, "too many connections from this address")
        await conn.finish()
        return
    hub.added(conn)
    session = Session(ws, conn, hub, container)
    try:
        if listen_user is not None:
            session.login(listen_user, None)
            conn.user_streams |= binance.user_streams_for_binance()
        cookie = ws.cookies.get(ACCESS_COOKIE)
        if cookie and protocol == "native":
            try:
                principal, exp = await token_principal(container, cookie)
                session.login(principal.user_id, exp)
            except AppError:
                pass   # an expired cookie: public streams still work; op auth can follow
        if initial and session.room_for(len(initial)):
            for key, name in initial:
                hub.subscribe(conn, key, name)
        await _read(ws, session)
    finally:
        hub.removed(conn, ip, admitted)
        await conn.finish()


async def _read(ws: WebSocket, session: Session) -> None:
    conn, limit = session.conn, session.settings.stream_max_frame_bytes
    idle = session.settings.stream_idle_timeout_s
    while not conn.closed:
        try:
            message = await asyncio.wait_for(ws.receive(), timeout=idle)
        except TimeoutError:
            continue   # quiet clients are fine; protocol pings (uvicorn) find dead ones
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None and message.get("bytes") is not None:
            text = message["bytes"].decode("utf-8", "replace")
        if text is None:
            continue
        if len(text) > limit:
            conn.close(TOO_BIG, f"frame too large (at most {limit} bytes)")
            return
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            msg = None
        if not isinstance(msg, dict):
            _bad(session, "Frames must be JSON objects.")
            continue
        try:
            if "op" in msg and conn.protocol == "native":
                await native.handle(session, msg)
            elif "method" in msg:
                if conn.protocol == "native" and not conn.keys:
                    conn.protocol = "binance"   # a Binance client on /ws
                if conn.protocol == "native":
                    _bad(session, "This connection speaks the native protocol (op frames).")
                else:
                    await binance.handle(session, msg)
            else:
                _bad(session, "A frame needs an op (native) or a method (Binance).")
        except AppError as exc:
            session.reply(native.error_frame(msg.get("id") if isinstance(msg.get("id"), (int, str)) else None,
                                             exc.code, exc.message))


def _bad(session: Session, message: str) -> None:
    conn = session.conn
    conn.errors += 1
    if conn.protocol == "native":
        session.reply(native.error_frame(None, "bad_frame", message))
    else:
        session.reply(binance.error(None, 2, "Invalid request: " + message))
    if conn.errors >= MAX_BAD_FRAMES:
        conn.close(BAD_FRAMES, "too many malformed frames", flush=True)


@router.websocket("/ws")
async def ws_root(ws: WebSocket) -> None:
    listen_key = ws.query_params.get("listenKey")
    user = None
    if listen_key is not None:
        user = await listen_key_user(ws.app.state.container, listen_key)
        if user is None:
            await ws.close(POLICY, "invalid or expired listenKey")
            return
    await _serve(ws, "native", listen_user=user)


@router.websocket("/ws/{stream}")
async def ws_stream(ws: WebSocket, stream: str) -> None:
    container = ws.app.state.container
    if len(stream) == 60 and "@" not in stream:   # /ws/<listenKey>: a user data stream
        user = await listen_key_user(container, stream)
        if user is None:
            await ws.close(POLICY, "invalid or expired listenKey")
            return
        await _serve(ws, "binance", listen_user=user)
        return
    if "@" not in stream:
        # /ws/<anything>: a raw stream connection without initial streams (ccxt.pro numbers its
        # connections /ws/0, /ws/1 ...; Binance accepts that the same way)
        await _serve(ws, "binance")
        return
    await _serve_binance(ws, "binance", [stream])


@router.websocket("/stream")
async def ws_combined(ws: WebSocket) -> None:
    names = [n for n in (ws.query_params.get("streams") or "").split("/") if n]
    await _serve_binance(ws, "combined", names)


@router.websocket("/ws-api/v3")
async def ws_api(ws: WebSocket) -> None:
    await _serve(ws, "wsapi")


async def _serve_binance(ws: WebSocket, protocol: str, names: list[str]) -> None:
    container = ws.app.state.container
    hub = getattr(container, "streams", None)
    by = {binance.bsym(s).lower(): s for s in (hub.symbols() if hub is not None else {})}
    initial = []
    for name in names:
        key = binance.stream_key(name, by)
        if key is None or key.startswith("candles:") and not Session.interval_ok(key.split(":")[2]):
            await ws.close(POLICY, f"unknown stream {name[:80]!r}")
            return
        initial.append((key, name))
    await _serve(ws, protocol, initial)


# ---------------------------------------------------------------------------- listen keys
def _binance_error(status: int, code: int, msg: str) -> Response:
    return Response(orjson.dumps({"code": code, "msg": msg}), status_code=status, media_type="application/json")


async def _key_user(request: Request) -> int | None:
    return await api_key_user(request.app.state.container, request.headers.get("x-mbx-apikey"))


@router.post("/api/v3/userDataStream", summary="Binance user data stream: create a listen key (X-MBX-APIKEY)")
async def create_listen_key(request: Request) -> Response:
    user_id = await _key_user(request)
    if user_id is None:
        return _binance_error(401, -2015, "Invalid API-key, IP, or permissions for action.")
    container = request.app.state.container
    key = secrets.token_urlsafe(45)[:60]
    async with container.db.acquire() as conn:
        await conn.execute("INSERT INTO streams.listen_key (listen_key, user_id, expires_at) "
                           "VALUES ($1, $2, now() + make_interval(secs => $3))", key, user_id,
                           float(container.settings.stream_listen_key_ttl_s))
    return Response(orjson.dumps({"listenKey": key}), media_type="application/json")


async def _listen_key_param(request: Request) -> str | None:
    key = request.query_params.get("listenKey")
    if key is None and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        from urllib.parse import parse_qs
        key = (parse_qs((await request.body()).decode("latin-1")).get("listenKey") or [None])[0]
    return key


@router.put("/api/v3/userDataStream", summary="Binance user data stream: keep a listen key alive")
async def keep_listen_key(request: Request) -> Response:
    return await _touch_listen_key(request, delete=False)


@router.delete("/api/v3/userDataStream", summary="Binance user data stream: close a listen key")
async def delete_listen_key(request: Request) -> Response:
    return await _touch_listen_key(request, delete=True)


async def _touch_listen_key(request: Request, *, delete: bool) -> Response:
    user_id = await _key_user(request)
    if user_id is None:
        return _binance_error(401, -2015, "Invalid API-key, IP, or permissions for action.")
    key = await _listen_key_param(request)
    if not key or len(key) != 60:
        return _binance_error(400, -1102, "Mandatory parameter 'listenKey' was not sent, was empty/null, or malformed.")
    container = request.app.state.container
    async with container.db.acquire() as conn:
        if delete:
            found = await conn.fetchval("DELETE FROM streams.listen_key WHERE listen_key = $1 AND user_id = $2 "
                                        "RETURNING 1", key, user_id)
        else:
            found = await conn.fetchval("UPDATE streams.listen_key SET expires_at = now() + make_interval(secs => $3) "
                                        "WHERE listen_key = $1 AND user_id = $2 AND expires_at > now() RETURNING 1",
                                        key, user_id, float(container.settings.stream_listen_key_ttl_s))
    if not found:
        return _binance_error(400, -1125, "This listenKey does not exist.")
    return Response(b"{}", media_type="application/json")
