"""One WebSocket client: its subscriptions, a bounded send queue and a writer task.

Delivery never waits for a client: frames are put on the connection's queue (STREAM_SEND_QUEUE); a
client that does not read fast enough fills it and is closed with 1013 "slow consumer" instead of making
the server buffer without bound. Every frame is already serialised (bytes shared between clients).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

log = logging.getLogger("mycrypto.streams")

# close codes (docs/streams.md)
POLICY = 1008          # limits: too many connections / subscriptions; authentication expired
TOO_BIG = 1009         # a frame above STREAM_MAX_FRAME_BYTES
GOING_AWAY = 1001      # the server is shutting down
SLOW = 1013            # slow consumer: the send queue is full
BAD_FRAMES = 4400      # too many malformed frames


class Connection:
    def __init__(self, ws: WebSocket, ip: str, protocol: str, queue_size: int) -> None:
        self.ws = ws
        self.ip = ip
        self.protocol = protocol          # "native" | "binance" | "combined" | "wsapi"
        self.endpoint = protocol          # the protocol it connected with (the metrics label)
        self.keys: dict[str, set[str]] = {}   # native key -> Binance stream names ("" for native)
        self.user_id: int | None = None
        self.user_streams: set[str] = set()
        self.expires_at: float | None = None  # access token expiry (private streams end then)
        self.subscription_id: int | None = None   # ws-api user data subscription
        self.errors = 0
        self.closed = False
        self._queue: asyncio.Queue[bytes | str | None] = asyncio.Queue(queue_size)
        self._writer: asyncio.Task | None = None
        self.close_reason: tuple[int, str] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write(), name="ws-writer")

    def offer(self, frame: bytes | str) -> None:
        """Queue a frame (never blocks); a full queue closes the connection as a slow consumer."""
        if self.closed:
            return
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.close(SLOW, "slow consumer: send queue full")

    def close(self, code: int, reason: str, *, flush: bool = False) -> None:
        """Close with a code and reason. `flush`: send what is queued first (e.g. the error frame that
        explains the close); otherwise (slow consumer) the queued frames are dropped."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = (code, reason)
        if not flush or self._queue.full():
            while not self._queue.empty():
                self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def _write(self) -> None:
        ws = self.ws
        try:
            while True:
                frame = await self._queue.get()
                if frame is None:
                    break
                if isinstance(frame, bytes):
                    await ws.send_text(frame.decode())
                else:
                    await ws.send_text(frame)
        except Exception:   # the client went away mid-send: the reader notices and cleans up
            self.closed = True
            return
        code, reason = self.close_reason or (1000, "")
        try:
            if ws.client_state == WebSocketState.CONNECTED:
                await ws.close(code, reason)
        except Exception:
            pass

    async def finish(self) -> None:
        """The reader ended (client gone or closed): stop the writer."""
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(None)
        if self._writer is not None:
            try:
                await asyncio.wait_for(self._writer, 5)
            except Exception:
                self._writer.cancel()

    def subscription_count(self) -> int:
        return sum(len(v) or 1 for v in self.keys.values()) + len(self.user_streams)
