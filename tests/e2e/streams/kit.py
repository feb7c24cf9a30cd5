"""Helpers for the stream tests: a native WebSocket client and an order book rebuilt from diffs."""
from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import websockets

D = Decimal


def ws_url(http_url: str, path: str = "/ws") -> str:
    return http_url.replace("http://", "ws://") + path


async def recv_json(ws, timeout: float = 10.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def until(ws, pred, timeout: float = 15.0) -> dict:
    """The first frame matching pred (others are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = await recv_json(ws, max(0.1, deadline - loop.time()))
        if pred(msg):
            return msg


class Book:
    """A client-side book built by the documented resync procedure (docs/streams.md)."""

    def __init__(self, snapshot: dict) -> None:
        self.seq = snapshot["seq"]
        self.bids = {D(p): D(q) for p, q in snapshot["bids"]}
        self.asks = {D(p): D(q) for p, q in snapshot["asks"]}

    def apply(self, diff: dict) -> bool:
        """Apply one diff; False if it is older than the book (dropped). Asserts there is no gap."""
        if diff["seq"] <= self.seq:
            return False
        assert diff["prev_seq"] == self.seq, (diff["prev_seq"], self.seq)
        for side, levels in ((self.bids, diff["bids"]), (self.asks, diff["asks"])):
            for p, q in levels:
                if D(q) == 0:
                    side.pop(D(p), None)
                else:
                    side[D(p)] = D(q)
        self.seq = diff["seq"]
        return True

    def levels(self) -> tuple[list, list]:
        bids = sorted(self.bids.items(), key=lambda x: -x[0])
        asks = sorted(self.asks.items())
        return bids, asks


def rest_levels(snapshot: dict) -> tuple[list, list]:
    return ([(D(p), D(q)) for p, q in snapshot["bids"]], [(D(p), D(q)) for p, q in snapshot["asks"]])
