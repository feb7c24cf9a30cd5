"""Fan-out across replicas through Redis: two trade processes on one database, one owns the market; a
client on the other sees the owner's trades in order without gaps, book diffs that rebuild the REST
book, its own fills; a takeover by a new owner reaches it as a resync signal."""
from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import websockets

from tests.conftest import LiveServer, make_settings
from tests.e2e.streams.kit import Book, recv_json, rest_levels, until, ws_url
from tests.e2e.trading.kit import make_trader, place_ok
from tests.support.services import REDIS_URL, require


async def test_a_client_on_the_non_owner_sees_the_owners_events_in_order(db_dsn, db):
    redis_url = require("Redis", REDIS_URL, 6379)
    settings = make_settings(db_dsn, redis_url=redis_url, stream_redis_channel=f"test:streams:{uuid.uuid4().hex}",
                             rate_limit_prefix=f"test:{uuid.uuid4().hex}:")
    owner = LiveServer(settings).start()
    other = LiveServer(settings.model_copy(update={"trade_engines": False})).start()
    new_owner = None
    try:
        seller = await make_trader(db, settings, {"BTC": "10"})
        buyer = await make_trader(db, settings, {"USDT": "1000000"})
        async with httpx.AsyncClient(base_url=owner.url) as client, \
                websockets.connect(ws_url(other.url)) as ws:
            await ws.send(json.dumps({"op": "auth", "id": 1, "token": seller.headers["Authorization"].split()[1]}))
            assert (await recv_json(ws))["type"] == "authenticated"
            await ws.send(json.dumps({"op": "subscribe", "id": 2,
                                      "streams": ["trades:BTC-USDT", "book:BTC-USDT", "fills"]}))
            assert (await recv_json(ws))["type"] == "subscribed"
            await asyncio.sleep(0.3)   # the non-owner's Redis subscription is up
            snapshot = (await client.get("/api/v1/orderbook/BTC-USDT", params={"depth": 5000})).json()
            for i in range(30):
                await place_ok(client, seller, side="sell", type="limit", price=str(50000 + 10 * (i % 5)),
                               quantity="0.01")
                if i % 3 == 2:
                    await place_ok(client, buyer, side="buy", type="limit", price="50020", quantity="0.02")
            final = (await client.get("/api/v1/orderbook/BTC-USDT", params={"depth": 5000})).json()
            trades, diffs, fills = [], [], []
            while not diffs or diffs[-1]["seq"] < final["seq"]:
                msg = await recv_json(ws, 15)
                {"trades:BTC-USDT": trades, "book:BTC-USDT": diffs, "fills": fills}[msg["stream"]].append(msg["data"])
            rest_trades = (await client.get("/api/v1/trade/trades/BTC-USDT", params={"limit": 1000})).json()
            assert [t["id"] for t in trades] == sorted(t["id"] for t in rest_trades)
            seqs = [d["seq"] for d in diffs]
            assert seqs == list(range(snapshot["seq"] + 1, final["seq"] + 1)), "in order, without gaps"
            book = Book(snapshot)
            for d in diffs:
                book.apply(d)
            assert book.levels() == rest_levels(final)
            # the seller's own fills (one per trade: it sold in every one) reached the non-owner
            assert fills and all(f["side"] == "sell" for f in fills)
            assert {f["trade_id"] for f in fills} == {t["id"] for t in rest_trades}
            # the owner goes away; a new owner takes the market over: the client is told to resync
            owner.stop()
            new_owner = LiveServer(settings).start()
            msg = await until(ws, lambda m: m.get("type") == "resync", 30)
            assert msg["stream"] == "book:BTC-USDT" and msg["seq"] >= final["seq"]
    finally:
        for server in (other, new_owner):
            if server is not None:
                server.stop()
        owner.stop()
