"""The notifier (`mycrypto serve notifier`): consume the email queue and send over SMTP.

Per message: skip it if ops.email_delivery says it was already sent (redelivery after a crash or a
relay re-publish), render it, send it, record it, then ack. On a transient failure the message is
re-published to `<q>.retry` with a TTL of EMAIL_RETRY_BASE_SECONDS * 2^(attempt-1) (capped at 10
minutes), from where RabbitMQ dead-letters it back into `<q>`; after EMAIL_MAX_ATTEMPTS, or at once
for a permanent failure (5xx, unknown template, garbage), it goes to `<q>.dead` and is recorded
as 'dead'. The original is acked only after that re-publish was confirmed, so nothing is lost.

The connection is an aio-pika robust connection: when RabbitMQ goes away the consumer reconnects
by itself (every second), re-declares the queues and resumes consuming; messages that were
delivered but not acked when the connection dropped are redelivered by the broker.

The same process also runs the outbox relay (shared with the auth service through SKIP LOCKED), so
a deployment with only `serve notifier` still drains the outbox. Without AMQP_URL it runs only the
relay, delivering in-process.
"""
from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from ..config import ConfigError
from . import repository
from .amqp import QueueNames, connect, declare_topology, outbox_message
from .emails import TemplateError
from .relay import OutboxRelay, email_route, send_once, stop_relay
from .transports import PermanentFailure, Transport, build_transport

log = logging.getLogger("mycrypto.notify.worker")
RETRY_CAP_S = 600.0


class EmailConsumer:
    """Consumes `<q>` with manual acks; see the module docstring for the retry/dead-letter rules."""

    def __init__(self, settings: Any, db: Any, transport: Transport | None = None, *,
                 prefetch: int = 8, name: str = "mycrypto-notifier") -> None:
        self.settings = settings
        self.db = db
        self.transport = transport or build_transport(settings)
        self.names = QueueNames.from_base(settings.email_queue)
        self.prefetch = prefetch
        self.name = name
        self.connection: AbstractRobustConnection | None = None
        self.channel: AbstractChannel | None = None
        self.sent = 0
        self.dead = 0
        self.retried = 0
        self._inflight: set[asyncio.Future] = set()

    async def start(self) -> None:
        self.connection = await connect(self.settings.amqp_url, self.name)
        self.channel = await self.connection.channel(publisher_confirms=True)
        await self.channel.set_qos(prefetch_count=self.prefetch)
        queue = await declare_topology(self.channel, self.names)
        await queue.consume(self._on_message, no_ack=False)

    async def stop(self) -> None:
        if self._inflight:  # let sends in progress finish and record themselves
            await asyncio.wait(set(self._inflight), timeout=30)
        if self.connection is not None:
            with suppress(Exception):
                await self.connection.close()
            self.connection = None

    async def _publish(self, message: Any, routing_key: str) -> None:
        assert self.channel is not None
        await self.channel.default_exchange.publish(message, routing_key=routing_key, mandatory=True,
                                                    timeout=10)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        headers = message.headers or {}
        try:
            attempts = int(headers.get("x-attempts", 0) or 0) + 1
        except (TypeError, ValueError):
            attempts = 1
        try:
            data = orjson.loads(message.body)
            outbox_id, topic, payload = int(data["id"]), str(data["topic"]), data["payload"]
            if not isinstance(payload, dict):
                raise TypeError("payload is not an object")
        except Exception as exc:
            await self._dead(message, None, attempts, f"malformed message: {exc!r}")
            return
        row = (outbox_id, topic, payload)
        # Shielded: if the broker connection drops mid-send, aio-pika cancels this callback, but the
        # SMTP send and its delivery record must still finish - otherwise the redelivered message
        # would find no record and the email would go out twice.
        task = asyncio.ensure_future(send_once(self.db, self.settings, self.transport, outbox_id, topic, payload))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        try:
            sent_now = await asyncio.shield(task)
        except (TemplateError, PermanentFailure) as exc:
            await self._dead(message, row, attempts, str(exc))
            return
        except Exception as exc:  # transient (connection refused, timeout, 4xx): retry with backoff
            error = f"send failed: {exc!r}"
        else:
            if sent_now:
                self.sent += 1
            await _settle(message.ack())
            return
        if attempts >= self.settings.email_max_attempts:
            await self._dead(message, row, attempts, error)
            return
        delay = min(RETRY_CAP_S, self.settings.email_retry_base_s * (2 ** (attempts - 1)))
        try:
            await self._publish(outbox_message(outbox_id, topic, payload, attempts=attempts, expiration_s=delay,
                                               error=error), self.names.retry)
        except Exception:
            # Could not park it for a retry: requeue it rather than lose it.
            log.warning("retry publish failed; requeueing", exc_info=True)
            await _settle(message.nack(requeue=True))
            return
        self.retried += 1
        log.info("email send failed; retrying", extra={"outbox_id": outbox_id, "attempt": attempts,
                                                        "delay_s": delay, "error": error})
        await _settle(message.ack())

    async def _dead(self, message: AbstractIncomingMessage, row: tuple[int, str, dict] | None, attempts: int,
                    error: str) -> None:
        """Park the message in `<q>.dead` (confirmed) and ack it; fall back to reject -> DLX."""
        self.dead += 1
        log.error("email dead-lettered", extra={"attempts": attempts, "error": error})
        if row is not None:
            outbox_id, topic, payload = row
            with suppress(Exception):
                await repository.record(self.db, outbox_id=outbox_id, topic=topic,
                                        recipient=str(payload.get("to", "?")), status="dead",
                                        attempts=attempts, error=error)
            dead = outbox_message(outbox_id, topic, payload, attempts=attempts, error=error)
        else:
            dead = aio_pika.Message(message.body, headers={"x-last-error": error[:500], "x-attempts": attempts},
                                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        try:
            await self._publish(dead, self.names.dead)
        except Exception:
            await _settle(message.reject(requeue=False))  # the work queue's DLX routes it to <q>.dead
            return
        await _settle(message.ack())


async def _settle(outcome: Any) -> None:
    """Ack/nack/reject; if the channel died meanwhile the broker redelivers the message (no loss), and
    ops.email_delivery makes the redelivery a no-op, so the failure is only logged."""
    try:
        await outcome
    except Exception as exc:
        log.warning("could not settle message (connection lost?); it will be redelivered",
                    extra={"error": repr(exc)})


async def run_notifier(settings: Any, *, stop: asyncio.Event | None = None,
                       ready: asyncio.Event | None = None, transport: Transport | None = None,
                       health_port: int | None = None) -> None:
    """Run the notifier until SIGTERM/SIGINT (or `stop` is set): relay + email consumer; with
    `health_port`, /health/* and /metrics on that port (notify/health.py)."""
    from ..common.logging import configure_logging
    from ..db.database import Database

    if settings.is_production and not settings.smtp_url:
        raise ConfigError("SMTP_URL is required for the notifier in production")
    if ready is None:  # run from the CLI, not from a test
        configure_logging(settings.log_level, settings.log_json)
    stop = stop or asyncio.Event()
    if ready is None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
    db = Database(settings.database_url, min_size=1, max_size=3,
                  statement_timeout_ms=settings.db_statement_timeout_ms)
    await db.connect()
    consumer: EmailConsumer | None = None
    handler, publisher = email_route(db, settings)
    relay = OutboxRelay(db, {"email.": handler}, retry_base_s=1.0 if settings.amqp_url else settings.email_retry_base_s,
                        retry_cap_s=30.0 if settings.amqp_url else RETRY_CAP_S)
    relay_task = asyncio.create_task(relay.run(), name="outbox-relay")
    probes = None
    if health_port is not None:
        from ..common.probe_server import ProbeServer
        from .health import NotifierHealth

        probes = ProbeServer(settings.host, health_port,
                             NotifierHealth(settings, db, relay_task, lambda: consumer).routes())
        await probes.start()
    try:
        if settings.amqp_url:
            consumer = EmailConsumer(settings, db, transport)
            await _start_with_retry(consumer, stop)
        log.info("notifier running", extra={"queue": settings.email_queue, "amqp": bool(settings.amqp_url)})
        if ready is not None:
            ready.set()
        await stop.wait()
    finally:
        if probes is not None:
            await probes.stop()
        await stop_relay(relay, relay_task)
        if consumer is not None:
            await consumer.stop()
        if publisher is not None:
            await publisher.close()
        await db.close()
        log.info("notifier stopped")


async def _start_with_retry(consumer: EmailConsumer, stop: asyncio.Event) -> None:
    """The first connection may fail (broker still starting): keep trying until it works or we stop."""
    delay = 1.0
    while not stop.is_set():
        try:
            await consumer.start()
            return
        except Exception as exc:
            log.warning("cannot reach RabbitMQ yet; retrying", extra={"error": repr(exc), "delay_s": delay})
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 30.0)
