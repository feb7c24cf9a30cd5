"""The notifier and the outbox relay survive a real RabbitMQ restart (a private node of the machine's
installation, restarted with rabbitmqctl stop_app/start_app): a persistent message queued before the
restart, a message in flight when it drops and an outbox row written while the broker is down are all
delivered once it is back, each exactly once."""
from __future__ import annotations

import asyncio

import aio_pika

from mycrypto.notify.amqp import outbox_message
from tests.integration.notify.helpers import queue_depth, unique_queue
from tests.integration.notify.test_email_pipeline import Notifier, _at_least, _empty, _enqueue, _settings
from tests.support.private_rabbitmq import private_rabbitmq  # noqa: F401  (fixture)
from tests.support.waiting import eventually


async def test_notifier_survives_a_real_broker_restart(db, db_dsn, smtp_sink, tmp_path, private_rabbitmq):  # noqa: F811
    broker = private_rabbitmq
    queue = unique_queue()
    settings = _settings(db_dsn, broker.url, queue, smtp_sink.url, tmp_path)

    async with Notifier(settings):   # declares the durable queues, proves the path works
        await _enqueue(db, settings, "before@example.com")
        await smtp_sink.wait_for(to="before@example.com")

    # 1. a persistent message waits in the durable queue (no consumer) while the broker restarts
    queued = await _enqueue(db, settings, "queued@example.com")
    payload = await db.fetchval("SELECT payload FROM ops.outbox WHERE id = $1", queued)
    async with await aio_pika.connect(broker.url) as conn:
        ch = await conn.channel(publisher_confirms=True)
        await ch.default_exchange.publish(outbox_message(queued, "email.verify_email", payload), routing_key=queue)
    await db.execute("UPDATE ops.outbox SET sent_at = now() WHERE id = $1", queued)   # as its relay would
    assert await queue_depth(broker.url, queue) == 1
    await asyncio.to_thread(broker.restart_broker)
    assert await queue_depth(broker.url, queue) == 1, "the persistent message did not survive the restart"

    async with Notifier(settings):
        await smtp_sink.wait_for(to="queued@example.com", timeout=30)

        # 2. a delivery in flight (received, SMTP not answered yet) when the broker goes down
        smtp_sink.hold = True
        started = smtp_sink.data_started
        await _enqueue(db, settings, "inflight@example.com")
        await eventually(lambda: _at_least(smtp_sink, started + 1), 20, "in-flight delivery")
        await asyncio.to_thread(broker.stop_broker)
        smtp_sink.hold = False   # the send completes; its ack cannot reach the broker

        # 3. while the broker is down the relay cannot publish: the row stays in the outbox
        during = await _enqueue(db, settings, "during@example.com")
        await asyncio.sleep(1.5)
        assert await db.fetchval("SELECT sent_at FROM ops.outbox WHERE id = $1", during) is None

        # 4. the broker is back: the notifier and the relay reconnect on their own
        await asyncio.to_thread(broker.start_broker)
        await smtp_sink.wait_for(to="during@example.com", timeout=45)
        await eventually(lambda: db.fetchval("SELECT count(*) = 0 FROM ops.outbox WHERE sent_at IS NULL"),
                         30, "outbox drained")
        await eventually(lambda: _empty(broker.url, queue), 30, "queue drained")
        await asyncio.sleep(0.5)

    for to in ("before@example.com", "queued@example.com", "inflight@example.com", "during@example.com"):
        assert len(smtp_sink.to(to)) == 1, to
    assert await db.fetchval("SELECT count(*) FROM ops.email_delivery WHERE status = 'sent'") == 4

