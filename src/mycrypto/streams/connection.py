"""One WebSocket client: its subscriptions, a bounded send queue and a writer task.

Delivery never waits for a client: frames are put on the connection's queue (STREAM_SEND_QUEUE); a
client that does not read fast enough fills it and is closed with 1013 "slow consumer" instead of making
the server buffer without bound. Every frame is already serialised (shared between clients).

Under uvicorn's sans-I/O WebSocket protocol (what `mycrypto serve` runs) a data frame is written
straight to the connection's transport as pre-encoded WebSocket frame bytes, the same bytes object for
every client of an event: one event to a thousand clients then costs a thousand `transport.write`s
instead of a thousand trips through ASGI and the protocol (bench/streams; docs/streams.md). A server
frame is unmasked and a message without RSV1 is uncompressed even when permessage-deflate was
negotiated, so the bytes are valid for every client; frames are whole and written from the event
loop's one thread, so they never interleave with the protocol's own (pings, the close). The slow
consumer limit is then the transport's write buffer: STREAM_SEND_QUEUE KiB.
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


def frame_bytes(text: str) -> bytes:
    """An unmasked, final WebSocket text frame carrying `text`."""
    data = text.encode()
    n = len(data)
    if n < 126:
        return bytes((0x81, n)) + data
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + data
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + data


def _raw_protocol(ws: Any) -> Any:
    """uvicorn's sans-I/O protocol object behind this WebSocket, or None (any other server). The ASGI
    `send` the route got is the protocol's bound method, possibly wrapped by Starlette's exception
    handling (a closure over it): look through at most a few wrappers."""
    fn = getattr(ws, "_send", None)
    for _ in range(4):
        proto = getattr(fn, "__self__", None)
        if type(proto).__name__ == "WebSocketsSansIOProtocol":
            return proto if getattr(proto, "transport", None) is not None else None
        cells = getattr(fn, "__closure__", None) or ()
        inner = [c.cell_contents for c in cells if callable(getattr(c, "cell_contents", None))]
        if not inner:
            return None
        fn = next((f for f in inner if getattr(f, "__name__", "") in ("send", "asgi_send", "sender")), inner[0])
    return None


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
        self._raw = None                  # the sans-I/O protocol when frames go straight to its transport
        self._buffer_limit = queue_size * 1024

    def start(self) -> None:
        self._raw = _raw_protocol(self.ws)
        self._writer = asyncio.create_task(self._write(), name="ws-writer")

    def offer(self, frame: bytes | str, framed: bytes | None = None) -> None:
        """Send or queue a frame (never blocks; `framed`: its frame bytes when already encoded); a client
        that lets its queue (or socket buffer) fill is closed as a slow consumer."""
        if self.closed:
            return
        raw = self._raw
        if raw is not None and self._queue.empty():
            transport = raw.transport
            if raw.close_sent or transport.is_closing():
                self.closed = True
                self._queue.put_nowait(None)
                return
            if framed is None:
                framed = frame_bytes(frame if isinstance(frame, str) else frame.decode())
            transport.write(framed)
            if transport.get_write_buffer_size() > self._buffer_limit:
                self.close(SLOW, "slow consumer: send queue full")
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
            queue = self._queue
            frame = await queue.get()
            while frame is not None:
                await ws.send_text(frame if isinstance(frame, str) else frame.decode())
                # drain what queued up meanwhile without a wake-up per frame
                frame = queue.get_nowait() if not queue.empty() else await queue.get()
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
