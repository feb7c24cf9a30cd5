"""The outbox relay: moves committed outbox rows to where they are delivered, exactly when it is safe.

Loop: in one transaction, claim due rows of a topic family (`FOR UPDATE SKIP LOCKED`, so several
replicas share the work without double-sending), hand them to the route's handler, mark the
delivered ones sent and reschedule the failed ones with backoff, then commit. A row is marked sent
only after its handler returned success - for RabbitMQ that means after the publisher confirm. A
crash between confirm and commit re-publishes the row later (at-least-once); the notifier drops
such duplicates using ops.email_delivery.

Routes (topic prefix -> handler):
- `email.` with AMQP_URL: publish to the RabbitMQ work queue (`AmqpEmailRoute`); the notifier sends.
- `email.` without AMQP_URL (embedded mode): render and send in-process (`InProcessEmailRoute`):
  SMTP when SMTP_URL is set, else a file in var/mailbox.
Other services may add routes with `add_route(container, prefix, handler)`.

It runs inside the auth service (so `mycrypto up` needs nothing else) and inside `mycrypto serve
notifier`. `wake()` makes it look at once (called after a commit that enqueued an email); otherwise
it polls every `poll_s` seconds, which is one indexed query on a partial index when idle.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from ..container import Container
from . import outbox, repository
from .amqp import ConfirmingPublisher, QueueNames, outbox_message
from .emails import TemplateError, render
from .outbox import OutboxRow
from .transports import PermanentFailure, Transport, build_transport

log = logging.getLogger("mycrypto.notify.relay")

# A handler returns, per row id, None (delivered / finished) or an error string (retry later).
Handler = Callable[[list[OutboxRow]], Awaitable[dict[int, str | None]]]


def backoff_s(attempts: int, base: float, cap: float) -> float:
    return min(cap, base * (2 ** max(0, min(attempts, 30))))


class OutboxRelay:
    def __init__(self, db: Any, routes: dict[str, Handler] | None = None, *, batch_size: int = 50,
                 poll_s: float = 0.5, retry_base_s: float = 1.0, retry_cap_s: float = 30.0) -> None:
        self.db = db
        self.routes: dict[str, Handler] = dict(routes or {})
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.retry_base_s = retry_base_s
        self.retry_cap_s = retry_cap_s
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Deliver one batch per route; the number of rows handled (delivered or rescheduled)."""
        total = 0
        for prefix, handler in list(self.routes.items()):
            total += await self._drain(prefix, handler)
        return total

    async def _drain(self, prefix: str, handler: Handler) -> int:
        async with self.db.unit_of_work() as uow:
            rows = await outbox.claim(uow.conn, prefix, self.batch_size)
            if not rows:
                return 0
            try:
                results = await handler(rows)
            except Exception as exc:  # the whole batch failed (e.g. broker unreachable): retry later
                log.warning("outbox delivery failed", extra={"route": prefix, "error": repr(exc)})
                results = {row.id: repr(exc) for row in rows}
            delivered = [row.id for row in rows if results.get(row.id, "no result") is None]
            await outbox.mark_sent(uow.conn, delivered)
            for row in rows:
                error = results.get(row.id, "no result")
                if error is not None:
                    await outbox.mark_failed(uow.conn, row.id, error,
                                             backoff_s(row.attempts, self.retry_base_s, self.retry_cap_s))
            await uow.commit()
        return len(rows)

    async def run(self) -> None:
        """Relay until cancelled; database hiccups are logged and retried, never fatal."""
        while not self._stopping:
            try:
                handled = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay pass failed; retrying")
                handled = 0
            if handled >= self.batch_size:
                continue  # more may be waiting
            self._wake.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()


class AmqpEmailRoute:
    """`email.*` rows -> the RabbitMQ work queue, each confirmed before its row is marked sent."""

    def __init__(self, publisher: ConfirmingPublisher) -> None:
        self.publisher = publisher

    async def __call__(self, rows: list[OutboxRow]) -> dict[int, str | None]:
        async def one(row: OutboxRow) -> str | None:
            try:
                await self.publisher.publish(outbox_message(row.id, row.topic, row.payload),
                                             self.publisher.names.main)
                return None
            except Exception as exc:
                return f"publish failed: {exc!r}"
        results = await asyncio.gather(*(one(r) for r in rows))
        return {row.id: res for row, res in zip(rows, results, strict=True)}


class InProcessEmailRoute:
    """Embedded mode: render and send right here; dead-letter into ops.email_delivery after N attempts."""

    def __init__(self, db: Any, settings: Any, transport: Transport | None = None) -> None:
        self.db = db
        self.settings = settings
        self.transport = transport or build_transport(settings)

    async def __call__(self, rows: list[OutboxRow]) -> dict[int, str | None]:
        out: dict[int, str | None] = {}
        for row in rows:
            out[row.id] = await deliver_email(self.db, self.settings, self.transport, row.id, row.topic,
                                              row.payload, attempt=row.attempts + 1)
        return out


async def send_once(db: Any, settings: Any, transport: Transport, outbox_id: int, topic: str,
                    payload: dict[str, Any]) -> bool:
    """Send one outbox email unless ops.email_delivery says it was sent; record it. True = sent now.

    Raises TemplateError / PermanentFailure (never deliverable) or any transient error.
    """
    try:
        if await repository.already_sent(db, outbox_id):
            return False
    except Exception:  # the dedup check is an optimisation; sending twice beats not sending
        log.warning("email dedup check failed", exc_info=True)
    message = render(settings, payload, message_id=f"<outbox-{outbox_id}@mycrypto.local>")
    await transport.send(message)
    await _record(db, outbox_id, topic, str(payload.get("to", "?")), "sent", 1, None)
    return True


async def deliver_email(db: Any, settings: Any, transport: Transport, outbox_id: int, topic: str,
                        payload: dict[str, Any], *, attempt: int) -> str | None:
    """In-process delivery. None = finished (sent, duplicate or dead-lettered); else the error to retry."""
    recipient = str((payload or {}).get("to", "?")) if isinstance(payload, dict) else "?"
    try:
        await send_once(db, settings, transport, outbox_id, topic, payload)
    except (TemplateError, PermanentFailure) as exc:
        await _record(db, outbox_id, topic, recipient, "dead", attempt, str(exc))
        log.error("email dead-lettered", extra={"outbox_id": outbox_id, "error": str(exc)})
        return None
    except Exception as exc:
        if attempt >= settings.email_max_attempts:
            await _record(db, outbox_id, topic, recipient, "dead", attempt, repr(exc))
            log.error("email dead-lettered after retries", extra={"outbox_id": outbox_id, "error": repr(exc)})
            return None
        return f"send failed: {exc!r}"
    return None


async def _record(db: Any, outbox_id: int, topic: str, recipient: str, status: str, attempts: int,
                  error: str | None) -> None:
    try:
        await repository.record(db, outbox_id=outbox_id, topic=topic, recipient=recipient, status=status,
                                attempts=attempts, error=error)
    except Exception:  # bookkeeping must not turn a sent email into a retry
        log.warning("could not record email delivery", exc_info=True)


def email_route(container_db: Any, settings: Any) -> tuple[Handler, ConfirmingPublisher | None]:
    """The `email.` route for these settings, and the publisher to close on shutdown (if any)."""
    if settings.amqp_url:
        publisher = ConfirmingPublisher(settings.amqp_url, QueueNames.from_base(settings.email_queue))
        return AmqpEmailRoute(publisher), publisher
    return InProcessEmailRoute(container_db, settings), None


class RedisStreamRoute:
    """`stream.user.*` rows -> Redis pub/sub (the trade replicas' stream hubs deliver them to the user's
    connections). Pub/sub keeps no backlog: a user not connected at that moment misses nothing they
    could have received later, so a published row counts as delivered."""

    def __init__(self, redis: Any, channel: str) -> None:
        self.redis = redis
        self.channel = channel

    async def __call__(self, rows: list[OutboxRow]) -> dict[int, str | None]:
        import orjson
        for row in rows:
            await self.redis.publish(self.channel, orjson.dumps({"k": "o", "topic": row.topic,
                                                                  "payload": row.payload}))
        return {row.id: None for row in rows}


def add_route(container: Container, prefix: str, handler: Handler) -> None:
    """Let another service relay its own topic family through the same loop."""
    container.outbox_routes[prefix] = handler
    relay = container.outbox_relay
    if relay is not None:
        relay.routes[prefix] = handler


def wake(container: Container) -> None:
    relay = container.outbox_relay
    if relay is not None:
        relay.wake()


async def stop_relay(relay: OutboxRelay, task: asyncio.Task, grace_s: float = 15.0) -> None:
    """Let the current pass finish (cancelling mid-transaction could strand a pooled connection and
    make the pool's close wait forever); cancel only if it does not finish within `grace_s`."""
    relay.stop()
    try:
        await asyncio.wait_for(asyncio.shield(task), grace_s)
    except (TimeoutError, asyncio.TimeoutError):
        task.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await task
    except Exception:  # the loop itself never raises, but shutdown must go on regardless
        log.exception("outbox relay ended with an error")


@asynccontextmanager
async def running_relay(container: Container) -> AsyncIterator[OutboxRelay]:
    """Run the relay as a background task for the lifetime of the block (one per container)."""
    existing = container.outbox_relay
    if existing is not None:  # another service in this process already runs it
        yield existing
        return
    settings = container.settings
    handler, publisher = email_route(container.db, settings)
    routes = {"email.": handler, **container.outbox_routes}
    if container.redis is not None and "stream.user." not in routes:
        # private stream events (docs/streams.md) go to every replica's stream hub through Redis
        routes["stream.user."] = RedisStreamRoute(container.redis, settings.stream_redis_channel + ":user")
    retry_base = 1.0 if settings.amqp_url else settings.email_retry_base_s
    relay = OutboxRelay(container.db, routes, retry_base_s=retry_base,
                        retry_cap_s=30.0 if settings.amqp_url else 600.0)
    container.outbox_relay = relay
    task = asyncio.create_task(relay.run(), name="outbox-relay")
    try:
        yield relay
    finally:
        await stop_relay(relay, task)
        container.outbox_relay = None
        if publisher is not None:
            await publisher.close()
