"""Bad input and limits on /ws: an error frame or a close code with a reason, never a 5xx or a traceback;
the server and other clients unaffected."""
from __future__ import annotations

import json
import logging

import pytest
import websockets

from tests.conftest import LiveServer, make_settings
from tests.e2e.streams.kit import recv_json, until, ws_url


@pytest.fixture
def small_server(db_dsn):
    settings = make_settings(db_dsn, stream_max_subscriptions=20, stream_max_connections_per_ip=5,
                             stream_send_queue=10, stream_max_frame_bytes=2048)
    server = LiveServer(settings).start()
    yield server
    server.stop()


async def test_bad_frames_unknown_streams_and_caps(small_server, caplog):
    caplog.set_level(logging.WARNING)
    url = ws_url(small_server.url)
    async with websockets.connect(url) as ws, websockets.connect(url) as bystander:
        await bystander.send(json.dumps({"op": "subscribe", "id": 1, "streams": ["trades:BTC-USDT"]}))
        assert (await recv_json(bystander))["type"] == "subscribed"
        await ws.send("not json")
        assert (await recv_json(ws))["code"] == "bad_frame"
        await ws.send(json.dumps([1, 2]))
        assert (await recv_json(ws))["code"] == "bad_frame"
        await ws.send(json.dumps({"op": "subscribe", "id": 2, "streams": ["book:NOPE-USDT"]}))
        assert await recv_json(ws) == {"type": "error", "id": 2, "code": "unknown_stream",
                                       "message": "Unknown stream 'book:NOPE-USDT'."}
        await ws.send(json.dumps({"op": "subscribe", "id": 3, "streams": "book:BTC-USDT"}))
        assert (await recv_json(ws))["code"] == "invalid_streams"
        await ws.send(json.dumps({"op": "subscribe", "id": 4, "streams": ["fills"]}))
        assert (await recv_json(ws))["code"] == "unauthenticated"
        await ws.send(json.dumps({"op": "fly", "id": 5}))
        assert (await recv_json(ws))["code"] == "unknown_op"
        # 10,000 subscriptions in one frame: refused and closed with a reason
        await ws.send(json.dumps({"op": "subscribe", "id": 6, "streams": [f"candles:BTC-USDT:{i}m" for i in range(1, 10001)]}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await until(ws, lambda m: False)
        assert closed.value.rcvd.code == 1009   # (that frame is also above the frame limit)
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"op": "subscribe", "id": 7, "streams": [f"candles:BTC-USDT:{i}m" for i in range(1, 25)]}))
        err = await recv_json(ws)
        assert err["code"] == "too_many_subscriptions"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await until(ws, lambda m: False)
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "too many subscriptions (at most 20 per connection)")
    # connections per IP
    conns = [await websockets.connect(url) for _ in range(5)]
    try:
        extra = await websockets.connect(url)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await recv_json(extra)
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "too many connections from this address")
    finally:
        for c in conns:
            await c.close()
    # the server still serves
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"op": "ping", "id": 8}))
        assert await recv_json(ws) == {"type": "pong", "id": 8}
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
