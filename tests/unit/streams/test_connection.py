"""A slow consumer is closed (1013 with a reason) once its bounded send queue is full, instead of the
server buffering without bound; a policy close still sends the error frame that explains it."""
from __future__ import annotations

import asyncio

from starlette.websockets import WebSocketState

from mycrypto.streams.connection import SLOW, Connection


class StuckSocket:
    """A client that never reads: every send blocks until released."""

    client_state = WebSocketState.CONNECTED

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.release = asyncio.Event()
        self.closed_with: tuple[int, str] | None = None

    async def send_text(self, text: str) -> None:
        await self.release.wait()
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)


async def test_full_queue_closes_the_connection_as_a_slow_consumer():
    ws = StuckSocket()
    conn = Connection(ws, "1.2.3.4", "native", queue_size=10)   # type: ignore[arg-type]
    conn.start()
    for i in range(12):
        conn.offer(f"frame {i}")
        await asyncio.sleep(0)
    assert conn.closed and conn.close_reason == (SLOW, "slow consumer: send queue full")
    ws.release.set()
    await conn.finish()
    assert ws.closed_with == (SLOW, "slow consumer: send queue full")
    assert len(ws.sent) <= 1          # the queued frames were dropped, not delivered late


async def test_a_policy_close_flushes_the_explaining_frame():
    ws = StuckSocket()
    ws.release.set()
    conn = Connection(ws, "1.2.3.4", "native", queue_size=10)   # type: ignore[arg-type]
    conn.offer("error: too many subscriptions")
    conn.close(1008, "too many subscriptions", flush=True)
    conn.start()
    await conn.finish()
    assert ws.sent == ["error: too many subscriptions"] and ws.closed_with == (1008, "too many subscriptions")


async def test_frames_are_valid_websocket_text_frames():
    from mycrypto.streams.connection import frame_bytes
    assert frame_bytes("hi") == b"\x81\x02hi"
    long = "x" * 300
    assert frame_bytes(long)[:4] == b"\x81\x7e\x01\x2c" and frame_bytes(long)[4:] == long.encode()
    huge = "y" * 70000
    assert frame_bytes(huge)[:10] == b"\x81\x7f" + (70000).to_bytes(8, "big")
