"""The native /ws protocol against a running platform (uvicorn): public streams, the resync procedure
rebuilding a book identical to REST after a burst, private streams after authentication."""
from __future__ import annotations

import asyncio
import json
import random

import httpx
import websockets

from tests.e2e.streams.kit import Book, recv_json, rest_levels, until, ws_url
from tests.e2e.trading.kit import make_trader, place_ok


async def test_resync_rebuilds_the_book_exactly_after_a_burst(live_server, db, settings):
    seller = await make_trader(db, settings, {"BTC": "50"})
    buyer = await make_trader(db, settings, {"USDT": "5000000"})
    rng = random.Random(7)
    async with httpx.AsyncClient(base_url=live_server.url) as client, \
            websockets.connect(ws_url(live_server.url)) as ws:
        await ws.send(json.dumps({"op": "subscribe", "id": 1, "streams": ["book:BTC-USDT", "trades:BTC-USDT"]}))
        assert await recv_json(ws) == {"type": "subscribed", "id": 1, "streams": ["book:BTC-USDT", "trades:BTC-USDT"]}
        buffered: list[dict] = []
        trades: list[dict] = []

        async def reader():
            async for raw in ws:
                msg = json.loads(raw)
                if msg["type"] == "data" and msg["stream"] == "book:BTC-USDT":
                    buffered.append(msg["data"])
                elif msg["type"] == "data" and msg["stream"] == "trades:BTC-USDT":
                    trades.append(msg["data"])

        task = asyncio.create_task(reader())

        async def burst(n):
            orders = []
            for i in range(n):
                who, side = (seller, "sell") if rng.random() < 0.5 else (buyer, "buy")
                price = str(50000 + rng.randint(-20, 20) * 10)
                orders.append(place_ok(client, who, side=side, type="limit", price=price,
                                       quantity=str(rng.randint(1, 50) / 1000)))
            await asyncio.gather(*orders)

        await burst(60)
        # the documented procedure: diffs are being buffered; fetch the snapshot mid-stream
        snapshot = (await client.get("/api/v1/orderbook/BTC-USDT", params={"depth": 5000})).json()
        assert snapshot["seq"] == snapshot["update_id"]
        await burst(120)
        await asyncio.sleep(1.0)
        final = (await client.get("/api/v1/orderbook/BTC-USDT", params={"depth": 5000})).json()
        for _ in range(50):
            if buffered and buffered[-1]["seq"] == final["seq"]:
                break
            await asyncio.sleep(0.1)
        task.cancel()
        seqs = [d["seq"] for d in buffered]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "diffs are gap-free"
        assert all(d["prev_seq"] == d["seq"] - 1 for d in buffered)
        book = Book(snapshot)
        applied = [book.apply(d) for d in buffered]
        assert any(applied) and book.seq == final["seq"]
        assert book.levels() == rest_levels(final)
        assert trades, "trades were streamed"
        rest_trades = (await client.get("/api/v1/trade/trades/BTC-USDT", params={"limit": 1000})).json()
        by_id = {t["id"]: t for t in rest_trades}
        for t in trades:
            assert {k: v for k, v in t.items() if k != "symbol"} == by_id[t["id"]]
        assert [t["id"] for t in trades] == sorted(t["id"] for t in trades)


async def test_private_streams_need_auth_and_carry_own_orders_fills_balances(live_server, db, settings):
    seller = await make_trader(db, settings, {"BTC": "1"})
    buyer = await make_trader(db, settings, {"USDT": "100000"})
    async with httpx.AsyncClient(base_url=live_server.url) as client, \
            websockets.connect(ws_url(live_server.url)) as ws:
        await ws.send(json.dumps({"op": "subscribe", "id": 1, "streams": ["orders"]}))
        err = await recv_json(ws)
        assert (err["type"], err["id"], err["code"]) == ("error", 1, "unauthenticated")
        await ws.send(json.dumps({"op": "auth", "id": 2, "token": "not-a-token"}))
        err = await recv_json(ws)
        assert err["type"] == "error" and err["id"] == 2
        await ws.send(json.dumps({"op": "auth", "id": 3, "token": seller.headers["Authorization"].split()[1]}))
        assert (await recv_json(ws))["type"] == "authenticated"
        await ws.send(json.dumps({"op": "subscribe", "id": 4, "streams": ["orders", "fills", "balances"]}))
        assert (await recv_json(ws))["type"] == "subscribed"
        ask = await place_ok(client, seller, side="sell", type="limit", price="50000", quantity="0.4")
        new = await until(ws, lambda m: m.get("stream") == "orders")
        assert new["data"]["order_id"] == ask["order_id"] and new["data"]["status"] == "new"
        bal = await until(ws, lambda m: m.get("stream") == "balances")
        assert {"asset": "BTC", "available": "0.6", "locked": "0.4"} in bal["data"]["balances"]
        await place_ok(client, buyer, side="buy", type="limit", price="50000", quantity="0.1")
        fill = await until(ws, lambda m: m.get("stream") == "fills")
        assert (fill["data"]["order_id"], fill["data"]["price"], fill["data"]["quantity"], fill["data"]["is_maker"]) == (
            ask["order_id"], "50000", "0.1", True)
        upd = await until(ws, lambda m: m.get("stream") == "orders")
        assert (upd["data"]["status"], upd["data"]["executed_quantity"]) == ("partially_filled", "0.1")
        bal = await until(ws, lambda m: m.get("stream") == "balances")
        assert {"asset": "BTC", "available": "0.6", "locked": "0.3"} in bal["data"]["balances"]
        # nobody else's orders arrive here: the buyer's order is not on the seller's stream
        await ws.send(json.dumps({"op": "ping", "id": 9}))
        pong = await until(ws, lambda m: m.get("type") == "pong")
        assert pong == {"type": "pong", "id": 9}


async def test_the_server_writes_frames_straight_to_the_transport(live_server):
    """Under uvicorn's sans-I/O protocol (what `mycrypto serve` runs) connections take the fast path."""
    async with websockets.connect(ws_url(live_server.url)) as ws:
        await ws.send(json.dumps({"op": "ping", "id": 1}))
        assert await recv_json(ws) == {"type": "pong", "id": 1}
        hub = live_server.app.state.container.streams
        [conn] = list(hub.connections)
        assert conn._raw is not None
