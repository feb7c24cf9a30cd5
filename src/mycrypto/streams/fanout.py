"""Fan-out across replicas: Redis pub/sub when REDIS_URL is set (nothing otherwise: one process).

The owner of a market publishes each market message once on `STREAM_REDIS_CHANNEL`; every replica's
subscriber delivers what others published (its own messages it delivered already, before publishing).
User messages relayed from the outbox (`stream.user.*`, notify/relay.py) arrive on `<channel>:user`
from whichever process ran the relay. Publishing is in commit order from one task, so a subscriber
sees a market's messages in order; a lost Redis connection is a gap the clients see (seq) and resync.
"""
from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from typing import Any

import orjson

log = logging.getLogger("mycrypto.streams.fanout")

MAX_QUEUED = 100_000


class RedisFanout:
    def __init__(self, redis: Any, channel: str) -> None:
        self.redis = redis
        self.channel = channel
        self.user_channel = channel + ":user"
        self.origin = os.urandom(6).hex()
        self._queue: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.on_message: Any = None

    def publish(self, raw: bytes) -> None:
        """Queue a market message (bytes of its JSON) for the other replicas, tagged with our origin."""
        if len(self._queue) >= MAX_QUEUED:
            self._queue.clear()   # Redis is gone for long: subscribers will see the gap and resync
        self._queue.append(b'{"o":"' + self.origin.encode() + b'","m":' + raw + b"}")
        self._wake.set()

    def start(self, on_message: Any) -> None:
        self.on_message = on_message
        self._tasks = [asyncio.create_task(self._publish_loop(), name="streams-publish"),
                       asyncio.create_task(self._subscribe_loop(), name="streams-subscribe")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    async def _publish_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                raw = self._queue[0]
                try:
                    await self.redis.publish(self.channel, raw)
                    self._queue.popleft()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning("stream publish to Redis failed; retrying", exc_info=True)
                    await asyncio.sleep(0.5)

    async def _subscribe_loop(self) -> None:
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.channel, self.user_channel)
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is None:
                        continue
                    self._dispatch(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("stream subscription to Redis lost; reconnecting", exc_info=True)
                await asyncio.sleep(0.5)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:
                    pass

    def _dispatch(self, channel: Any, data: Any) -> None:
        if isinstance(channel, bytes):
            channel = channel.decode()
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            log.warning("undecodable stream message", extra={"channel": channel})
            return
        if channel == self.user_channel:
            self.on_message(body)
            return
        if not isinstance(body, dict) or body.get("o") == self.origin:
            return
        self.on_message(body.get("m"))
