"""Private events from outside the engine reach the user's stream: security events (a new sign-in) from
the audit log through the outbox, and an access token that expires mid-connection ends the private
streams with an error frame (public ones go on)."""
from __future__ import annotations

import json
import time

import httpx
import websockets

from mycrypto.auth.tokens import issue_access_token
from mycrypto.streams.private import outbox_messages
from tests.e2e.streams.kit import recv_json, until, ws_url
from tests.support.factories import DEFAULT_PASSWORD, create_user


async def test_a_new_sign_in_reaches_the_security_stream(live_server, db, settings):
    email = f"stream{time.time_ns()}@example.com"
    user_id = await create_user(db, email=email)
    token, _ = issue_access_token(settings, user_id=user_id, role="user", session_id=None)
    async with httpx.AsyncClient(base_url=live_server.url) as client, websockets.connect(ws_url(live_server.url)) as ws:
        await ws.send(json.dumps({"op": "auth", "id": 1, "token": token}))
        assert (await recv_json(ws))["type"] == "authenticated"
        await ws.send(json.dumps({"op": "subscribe", "id": 2, "streams": ["security", "transfers", "alerts"]}))
        assert (await recv_json(ws))["type"] == "subscribed"
        r = await client.post("/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})
        assert r.status_code == 200, r.text
        msg = await until(ws, lambda m: m.get("stream") == "security", 15)
        assert msg["data"]["event"] == "login" and "user_id" not in msg["data"]


async def test_an_expired_token_ends_the_private_streams_with_an_error_frame(live_server, db, settings):
    user_id = await create_user(db)
    token, exp = issue_access_token(settings, user_id=user_id, role="user", session_id=None,
                                    now=time.time() - settings.access_token_ttl_s + 3)
    async with websockets.connect(ws_url(live_server.url)) as ws:
        await ws.send(json.dumps({"op": "auth", "id": 1, "token": token}))
        assert (await recv_json(ws))["type"] == "authenticated"
        await ws.send(json.dumps({"op": "subscribe", "id": 2, "streams": ["orders", "book:BTC-USDT"]}))
        assert (await recv_json(ws))["type"] == "subscribed"
        err = await until(ws, lambda m: m.get("type") == "error", 15)
        assert err["code"] == "auth_expired" and time.time() >= exp
        await ws.send(json.dumps({"op": "subscribe", "id": 3, "streams": ["orders"]}))
        assert (await until(ws, lambda m: m.get("id") == 3))["code"] == "unauthenticated"
        await ws.send(json.dumps({"op": "ping", "id": 4}))
        assert (await until(ws, lambda m: m.get("id") == 4))["type"] == "pong"


def test_outbox_rows_map_to_private_streams():
    [transfer, hint] = outbox_messages({"k": "o", "topic": "stream.user.transfer",
                                        "payload": {"user_id": 7, "kind": "deposit", "asset": "BTC", "amount": "1",
                                                    "status": "credited", "time": 5}})
    assert transfer == {"k": "u", "user_id": 7, "stream": "transfers",
                        "data": {"kind": "deposit", "asset": "BTC", "amount": "1", "status": "credited", "time": 5}}
    assert hint["stream"] == "balances?" and hint["data"]["assets"] == ["BTC"]
    assert outbox_messages({"k": "o", "topic": "stream.user.alert_triggered", "payload": {"user_id": 7, "a": 1}})[0][
        "stream"] == "alerts"
    assert outbox_messages({"k": "o", "topic": "stream.user.nope", "payload": {"user_id": 7}}) == []
    assert outbox_messages({"k": "o", "topic": "stream.user.security", "payload": {"user_id": "7"}}) == []
