"""The stream hub of one process: who is subscribed to what, and delivery of every event to them.

Inputs, all turned into market / user messages (model.py) and handed to `deliver`:
- the committed batches of the markets this process owns (the registry's feed listener `on_committed`,
  O(1) on the sequencer's path: appended to a queue this hub's task drains) - rendered once and, with
  Redis, also published to the other replicas (fanout.py);
- market messages of markets other replicas own (from Redis), and user messages (outbox rows
  `stream.user.*` relayed by notify/relay.py, balance hints).
Tickers, candles, partial books (Binance @depthN, @bookTicker) and the all-markets ticker are pulled
from the market-data service (memory on the owner, a short cache of the database elsewhere), at most
every STREAM_PULL_INTERVAL_MS per market, and only while somebody is subscribed.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

from ..common.metrics import WEBSOCKET_CLIENTS
from ..marketdata.events import CommittedBatch
from . import binance, native
from .connection import GOING_AWAY, Connection, frame_bytes
from .model import BALANCE_HINT, market_message
from .private import outbox_messages

log = logging.getLogger("mycrypto.streams")

MAX_PENDING = 100_000     # committed batches waiting to be rendered before the hub gives up and resyncs


class Frame:
    """One event on one native stream key, rendered at most once per protocol shape."""

    __slots__ = ("key", "data", "kind", "_native", "_binance", "_framed")

    def __init__(self, key: str, data: Any, kind: str) -> None:
        self.key, self.data, self.kind = key, data, kind
        self._native: str | None = None
        self._binance: dict[str, str | None] = {}
        self._framed: dict[str, bytes] = {}

    def native(self) -> str:
        if self._native is None:
            self._native = native.data_frame(self.key, self.data)
        return self._native

    def framed(self, text: str) -> bytes:
        """The WebSocket frame of `text`, encoded once per event for all its clients."""
        out = self._framed.get(text)
        if out is None:
            out = self._framed[text] = frame_bytes(text)
        return out

    def binance(self, name: str) -> str | None:
        """The raw Binance payload for a subscription named `name` (None: nothing to send for it)."""
        shape = binance.shape_of(name)
        if shape not in self._binance:
            self._binance[shape] = binance.render(self.kind, self.data, name)
        return self._binance[shape]


class StreamHub:
    def __init__(self, settings: Any, *, symbols: Callable[[], dict], pull: Any, balances: Any,
                 publish_remote: Callable[[bytes], None] | None = None) -> None:
        self.settings = settings
        self.symbols = symbols            # () -> {native symbol: spec}
        self.pull = pull                  # market-data reader (tickers, candles, depth)
        self.balances = balances          # async (user_id, assets|None) -> [{"asset","available","locked"}]
        self.publish_remote = publish_remote
        self.connections: set[Connection] = set()
        self._counted: set[Connection] = set()
        self.per_ip: dict[str, int] = {}
        self.subs: dict[str, set[Connection]] = {}
        self.users: dict[int, set[Connection]] = {}
        self._pending: deque[CommittedBatch] = deque()
        self._wake = asyncio.Event()
        self._dirty: set[str] = set()       # symbols changed since the last pull
        self._pull_at: dict[str, float] = {}
        self._tasks: list[asyncio.Task] = []
        self._closing = False
        self.last_seq: dict[str, int] = {}
        self.delivered = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(), name="streams-hub"),
                       asyncio.create_task(self._pull_loop(), name="streams-pull")]

    async def stop(self) -> None:
        self._closing = True
        self._wake.set()
        for conn in list(self.connections):
            conn.close(GOING_AWAY, "server shutting down")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    # ------------------------------------------------------------------ connections
    def admit(self, ip: str) -> bool:
        if self.per_ip.get(ip, 0) >= self.settings.stream_max_connections_per_ip:
            return False
        self.per_ip[ip] = self.per_ip.get(ip, 0) + 1
        return True

    def added(self, conn: Connection) -> None:
        self.connections.add(conn)
        self._counted.add(conn)
        WEBSOCKET_CLIENTS.labels(stream=conn.endpoint).inc()

    def removed(self, conn: Connection, ip: str, admitted: bool) -> None:
        if admitted:
            n = self.per_ip.get(ip, 1) - 1
            if n <= 0:
                self.per_ip.pop(ip, None)
            else:
                self.per_ip[ip] = n
        self.connections.discard(conn)
        for key in list(conn.keys):
            self.unsubscribe(conn, key)
        self.set_user(conn, None)
        if conn in self._counted:
            self._counted.discard(conn)
            WEBSOCKET_CLIENTS.labels(stream=conn.endpoint).dec()

    def subscribe(self, conn: Connection, key: str, name: str = "") -> None:
        conn.keys.setdefault(key, set()).add(name)
        self.subs.setdefault(key, set()).add(conn)
        symbol = key.split(":")[1] if ":" in key else None
        if symbol is not None and key.split(":")[0] in ("ticker", "candles", "depthN", "bookTicker"):
            self._dirty.add(symbol)        # a first value soon, not only after the next trade
            self._pull_at.pop(key, None)
        elif key == "tickers":
            self._dirty.add("*")

    def unsubscribe(self, conn: Connection, key: str, name: str | None = None) -> None:
        names = conn.keys.get(key)
        if names is None:
            return
        if name is not None:
            names.discard(name)
            if names:
                return
        del conn.keys[key]
        subs = self.subs.get(key)
        if subs is not None:
            subs.discard(conn)
            if not subs:
                del self.subs[key]

    def set_user(self, conn: Connection, user_id: int | None) -> None:
        if conn.user_id is not None:
            mine = self.users.get(conn.user_id)
            if mine is not None:
                mine.discard(conn)
                if not mine:
                    del self.users[conn.user_id]
        conn.user_id = user_id
        if user_id is not None:
            self.users.setdefault(user_id, set()).add(conn)

    # ------------------------------------------------------------------ inputs
    def on_committed(self, event: CommittedBatch) -> None:
        """Registry feed listener (the sequencer's path): hand the batch over, O(1)."""
        if len(self._pending) >= MAX_PENDING:
            self._pending.clear()   # clients resync rather than this process growing without bound
            event = CommittedBatch(event.spec, event.update_id, event.ms, reset=True)
        self._pending.append(event)
        self._wake.set()

    def on_remote(self, msg: Any) -> None:
        """A message from another replica or from the outbox relay (fanout.py, in-process sink)."""
        if not isinstance(msg, dict) or msg.get("k") not in ("m", "u", "o"):
            log.warning("malformed stream message ignored")
            return
        try:
            if msg["k"] == "o":
                for user_msg in outbox_messages(msg):
                    self.deliver_user(user_msg)
            else:
                self.deliver(msg)
        except Exception:
            log.exception("stream delivery failed")

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                event = self._pending.popleft()
                try:
                    msg = market_message(event)
                    if self.publish_remote is not None:
                        self.publish_remote(orjson.dumps(msg))
                    self.deliver(msg)
                except Exception:
                    log.exception("stream delivery failed", extra={"market": event.spec.symbol})
                if len(self._pending) > 100:
                    await asyncio.sleep(0)   # let connections' writers run under a burst

    # ------------------------------------------------------------------ delivery
    def deliver(self, msg: dict) -> None:
        if msg.get("k") == "u":
            self.deliver_user(msg)
            return
        symbol = msg["symbol"]
        self._dirty.add(symbol)
        self._dirty.add("*")
        self.last_seq[symbol] = msg["seq"]
        if msg.get("reset"):
            self._send(f"book:{symbol}", {"symbol": symbol, "seq": msg["seq"], "reason": "book rebuilt"}, "resync")
        elif msg["bids"] or msg["asks"]:
            self._send(f"book:{symbol}", {"symbol": symbol, "seq": msg["seq"], "prev_seq": msg["prev_seq"],
                                          "time": msg["time"], "bids": msg["bids"], "asks": msg["asks"]}, "book")
        key = f"trades:{symbol}"
        if msg["trades"] and key in self.subs:
            for t in msg["trades"]:
                self._send(key, dict(t, symbol=symbol), "trade")
        for u in msg.get("users", ()):
            self.deliver_user(u)

    def _send(self, key: str, data: Any, kind: str) -> None:
        subs = self.subs.get(key)
        if not subs:
            return
        frame = Frame(key, data, kind)
        for conn in list(subs):
            self.delivered += 1
            if conn.protocol == "native":
                text = frame.native() if kind != "resync" else native.resync_frame(key, data)
                conn.offer(text, frame.framed(text))
                continue
            for name in conn.keys.get(key, ()):
                payload = frame.binance(name)
                if payload is not None:
                    text = binance.wrap(conn.protocol, name, payload)
                    conn.offer(text, frame.framed(text) if conn.protocol == "binance" else None)

    def deliver_user(self, msg: dict) -> None:
        conns = self.users.get(msg.get("user_id"))   # type: ignore[arg-type]
        if not conns:
            return
        stream = msg["stream"]
        if stream == BALANCE_HINT:
            if any(("balances" in c.user_streams) for c in conns):
                asyncio.get_running_loop().create_task(self._send_balances(msg["user_id"], msg["data"]))
            return
        now = time.time()
        for conn in list(conns):
            if stream not in conn.user_streams:
                continue
            if conn.expires_at is not None and now > conn.expires_at:
                self.expire(conn)
                continue
            if conn.protocol == "native":
                conn.offer(native.data_frame(stream, msg["data"]))
            else:
                for payload in binance.user_events(stream, msg["data"]):
                    conn.offer(binance.user_frame(conn, payload))

    def expire(self, conn: Connection) -> None:
        """The connection's access token expired: its private streams end (an error frame says why)."""
        conn.user_streams.clear()
        conn.expires_at = None
        self.set_user(conn, None)
        conn.offer(native.error_frame(None, "auth_expired", "The access token expired; send op auth again."))

    async def _send_balances(self, user_id: int, hint: dict) -> None:
        try:
            rows = await self.balances(user_id, hint.get("assets"))
        except Exception:
            log.warning("could not read balances for the stream", exc_info=True)
            return
        self.deliver_user({"k": "u", "user_id": user_id, "stream": "balances",
                           "data": {"time": hint.get("time") or int(time.time() * 1000), "balances": rows}})

    # ------------------------------------------------------------------ pulled streams
    async def _pull_loop(self) -> None:
        interval = self.settings.stream_pull_interval_ms / 1000
        next_expiry_check = 0.0
        while not self._closing:
            await asyncio.sleep(interval)
            now = time.time()
            if now >= next_expiry_check:   # access tokens that ran out end their private streams
                next_expiry_check = now + 1.0
                for conn in [c for c in self.connections if c.expires_at is not None and now > c.expires_at]:
                    self.expire(conn)
            dirty, self._dirty = self._dirty, set()
            if not dirty:
                continue
            try:
                await self._pull(dirty)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("stream pull failed", exc_info=True)

    async def _pull(self, dirty: set[str]) -> None:
        specs = self.symbols()
        for key in list(self.subs):
            kind, _, rest = key.partition(":")
            if kind == "tickers":
                if "*" in dirty:
                    self._send(key, await self.pull.tickers(list(specs.values())), "tickers")
                continue
            symbol = rest.split(":")[0]
            if symbol not in dirty or symbol not in specs:
                continue
            spec = specs[symbol]
            if kind == "ticker":
                self._send(key, await self.pull.ticker(spec), "ticker")
            elif kind == "candles":
                candle = await self.pull.candle(spec, rest.split(":")[1])
                if candle is not None:
                    self._send(key, dict(candle, symbol=symbol, interval=rest.split(":")[1]), "candle")
            elif kind == "depthN":
                self._send(key, await self.pull.depth(spec, int(rest.split(":")[1])), "depthN")
            elif kind == "bookTicker":
                self._send(key, await self.pull.depth(spec, 1), "bookTicker")
