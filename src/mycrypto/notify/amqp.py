"""RabbitMQ plumbing of the email path: the queue topology and a confirming publisher.

Queues (all durable, messages persistent), named from EMAIL_QUEUE (default `mycrypto.email`):
- `<q>`        work queue the notifier consumes (manual ack after the email is sent);
- `<q>.retry`  holding queue: a message published here with a per-message TTL (the backoff) is
               dead-lettered back into `<q>` when the TTL expires;
- `<q>.dead`   dead letters: messages that failed EMAIL_MAX_ATTEMPTS times, were refused permanently
               (5xx) or could not be parsed/rendered. Also the dead-letter target of `<q>` itself, so a
               rejected message is kept, not dropped.
The publisher uses publisher confirms and `mandatory`: `publish` returns only after the broker took
responsibility for the message, and raises if it could not be routed (e.g. the queue was deleted),
which is what lets the relay mark an outbox row sent only after a confirm.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractChannel, AbstractQueue, AbstractRobustConnection

log = logging.getLogger("mycrypto.notify.amqp")


@dataclass(frozen=True, slots=True)
class QueueNames:
    main: str
    retry: str
    dead: str

    @classmethod
    def from_base(cls, base: str) -> QueueNames:
        return cls(base, f"{base}.retry", f"{base}.dead")


async def declare_topology(channel: AbstractChannel, names: QueueNames) -> AbstractQueue:
    """Declare the three queues (idempotent) and return the work queue."""
    await channel.declare_queue(names.dead, durable=True)
    await channel.declare_queue(names.retry, durable=True, arguments={
        "x-dead-letter-exchange": "", "x-dead-letter-routing-key": names.main})
    return await channel.declare_queue(names.main, durable=True, arguments={
        "x-dead-letter-exchange": "", "x-dead-letter-routing-key": names.dead})


def outbox_message(row_id: int, topic: str, payload: dict[str, Any], *, attempts: int = 0,
                   expiration_s: float | None = None, error: str | None = None) -> aio_pika.Message:
    headers: dict[str, Any] = {"x-attempts": attempts, "x-topic": topic}
    if error:
        headers["x-last-error"] = error[:500]
    return aio_pika.Message(
        orjson.dumps({"id": row_id, "topic": topic, "payload": payload}),
        content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=f"outbox-{row_id}", headers=headers, expiration=expiration_s)


async def connect(url: str, name: str) -> AbstractRobustConnection:
    """A robust connection: it reconnects by itself and restores channels, queues and consumers."""
    return await aio_pika.connect_robust(url, timeout=10, client_properties={"connection_name": name},
                                         reconnect_interval=1)


class ConfirmingPublisher:
    """Publishes to the default exchange with confirms; (re)connects lazily, never blocks forever."""

    def __init__(self, url: str, names: QueueNames, *, name: str = "mycrypto-relay",
                 publish_timeout_s: float = 10.0) -> None:
        self.url = url
        self.names = names
        self.name = name
        self.publish_timeout_s = publish_timeout_s
        self._conn: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._lock = asyncio.Lock()

    async def _ready_channel(self) -> AbstractChannel:
        async with self._lock:
            if self._channel is not None and not self._channel.is_closed:
                return self._channel
            if self._conn is None or self._conn.is_closed:
                self._conn = await asyncio.wait_for(connect(self.url, self.name), self.publish_timeout_s)
            channel = await self._conn.channel(publisher_confirms=True, on_return_raises=True)
            await declare_topology(channel, self.names)
            self._channel = channel
            return channel

    async def publish(self, message: aio_pika.Message, routing_key: str) -> None:
        """Return after the broker confirmed the message; raise otherwise (the caller retries later)."""
        channel = await self._ready_channel()
        try:
            await channel.default_exchange.publish(message, routing_key=routing_key, mandatory=True,
                                                   timeout=self.publish_timeout_s)
        except Exception:
            # Drop the channel: the next call re-opens it and re-declares the queues (e.g. after a
            # queue was deleted, or the broker restarted and the robust connection came back).
            self._channel = None
            raise

    async def close(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # closing a dead connection must not mask shutdown
                log.debug("amqp close failed", exc_info=True)
