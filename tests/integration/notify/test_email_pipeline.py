"""The email path on real servers: outbox -> relay (publisher confirms) -> RabbitMQ -> notifier -> SMTP,
with retries, backoff, dead letters, redelivery dedup and broker outages.

What "RabbitMQ restarting" means here: the machine's broker is shared by other engineers, so no test
restarts it. A TCP proxy in front of it (tests/integration/notify/helpers.BrokerProxy) is shut down and
brought back, which is exactly what a restart looks like from our processes (every connection drops,
reconnects are refused for a while, then succeed). Durable queues and persistent messages are what
make a real broker restart keep queued messages; that broker-side persistence is RabbitMQ's job and is
not exercised here.
"""
from __future__ import annotations

import asyncio
import time

import aio_pika
import orjson

from mycrypto.db.database import Database
from mycrypto.notify.amqp import ConfirmingPublisher, QueueNames, outbox_message
from mycrypto.notify.emails import enqueue_email
from mycrypto.notify.relay import AmqpEmailRoute, OutboxRelay
from mycrypto.notify.worker import run_notifier
from tests.conftest import make_settings
from tests.integration.notify.helpers import BrokerProxy, get_all, queue_depth
from tests.support.smtp import first_link, html_of, text_of
from tests.support.waiting import eventually


async def _until(fn, timeout: float = 20.0, what: str = "condition"):  # noqa: ANN001, ANN202
    return await eventually(fn, timeout, what)


async def _enqueue(db, settings, to: str, link: str = "https://example.test/x?token=abc") -> int:
    async with db.unit_of_work() as uow:
        oid = await enqueue_email(uow.conn, settings, to=to, template="verify_email", vars={"expires_hours": 48},
                                  secret_vars={"link": link})
        await uow.commit()
    return oid


class Notifier:
    """run_notifier in a background task (as `mycrypto serve notifier` runs it), stoppable."""

    def __init__(self, settings) -> None:  # noqa: ANN001
        self.settings = settings
        self.stop = asyncio.Event()
        self.ready = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> Notifier:
        self.task = asyncio.create_task(run_notifier(self.settings, stop=self.stop, ready=self.ready))
        await asyncio.wait_for(self.ready.wait(), 30)
        return self

    async def __aexit__(self, *exc) -> None:  # noqa: ANN002
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


def _settings(db_dsn, amqp_url, queue, smtp_url, tmp_path, **extra):  # noqa: ANN001, ANN003, ANN202
    return make_settings(db_dsn, amqp_url=amqp_url, email_queue=queue, smtp_url=smtp_url, data_dir=tmp_path,
                         email_retry_base_s=0.3, notifier_in_process=False, **extra)


async def test_relay_publishes_with_confirms_and_marks_rows_sent(db, db_dsn, amqp_url, email_queue, tmp_path):
    settings = _settings(db_dsn, amqp_url, email_queue, None, tmp_path)
    ids = [await _enqueue(db, settings, f"r{i}@example.com") for i in range(3)]
    publisher = ConfirmingPublisher(amqp_url, QueueNames.from_base(email_queue))
    relay = OutboxRelay(db, {"email.": AmqpEmailRoute(publisher)})
    try:
        assert await relay.run_once() == 3
    finally:
        await publisher.close()
    rows = await db.fetch("SELECT id, sent_at, attempts FROM ops.outbox ORDER BY id")
    assert [r["id"] for r in rows] == ids and all(r["sent_at"] and r["attempts"] == 1 for r in rows)
    messages = await get_all(amqp_url, email_queue)
    assert len(messages) == 3
    body = orjson.loads(messages[0].body)
    assert body["id"] == ids[0] and body["topic"] == "email.verify_email"
    assert messages[0].delivery_mode == 2 and messages[0].message_id == f"outbox-{ids[0]}"
    assert "token=abc" not in messages[0].body.decode()  # secrets travel sealed


async def test_relay_keeps_rows_when_the_broker_is_unreachable_or_the_queue_vanished(db, db_dsn, amqp_url,
                                                                                     email_queue, tmp_path):
    settings = _settings(db_dsn, amqp_url, email_queue, None, tmp_path)
    proxy = BrokerProxy()  # not started: connection refused
    dead_publisher = ConfirmingPublisher(proxy.url(), QueueNames.from_base(email_queue), publish_timeout_s=3)
    relay = OutboxRelay(db, {"email.": AmqpEmailRoute(dead_publisher)}, retry_base_s=0.01)
    oid = await _enqueue(db, settings, "down@example.com")
    await relay.run_once()
    row = await db.fetchrow("SELECT sent_at, attempts, last_error FROM ops.outbox WHERE id = $1", oid)
    assert row["sent_at"] is None and row["attempts"] == 1 and "publish failed" in row["last_error"]
    await dead_publisher.close()

    # broker reachable, but the queue was deleted after the publisher declared it: the message would
    # be unroutable; mandatory + publisher confirms make that a failure, not a silent loss
    publisher = ConfirmingPublisher(amqp_url, QueueNames.from_base(email_queue))
    relay = OutboxRelay(db, {"email.": AmqpEmailRoute(publisher)}, retry_base_s=0.01)
    try:
        await asyncio.sleep(0.05)
        assert await relay.run_once() == 1
        assert await db.fetchval("SELECT sent_at IS NOT NULL FROM ops.outbox WHERE id = $1", oid)
        channel = await publisher._ready_channel()
        await channel.queue_delete(email_queue)
        oid2 = await _enqueue(db, settings, "vanished@example.com")
        await relay.run_once()
        assert await db.fetchval("SELECT sent_at FROM ops.outbox WHERE id = $1", oid2) is None
        await asyncio.sleep(0.05)
        await relay.run_once()  # the publisher re-opened its channel and re-declared the queue
        assert await db.fetchval("SELECT sent_at IS NOT NULL FROM ops.outbox WHERE id = $1", oid2)
        assert await queue_depth(amqp_url, email_queue) == 1
    finally:
        await publisher.close()


async def test_notifier_sends_templated_email_over_smtp_and_ignores_redelivery(db, db_dsn, amqp_url, email_queue,
                                                                                smtp_sink, tmp_path):
    settings = _settings(db_dsn, amqp_url, email_queue, smtp_sink.url, tmp_path)
    async with Notifier(settings):
        oid = await _enqueue(db, settings, "wes@example.com", "https://mycrypto.test/verify?token=ev_123")
        msg = await smtp_sink.wait_for(to="wes@example.com", subject_contains="Confirm your email")
        assert first_link(msg, "/verify") == "https://mycrypto.test/verify?token=ev_123"
        assert "ev_123" in html_of(msg) and "<a href=" in html_of(msg) and "48 hours" in text_of(msg)
        assert msg["From"] == settings.mail_from and msg["Message-ID"] == f"<outbox-{oid}@mycrypto.local>"
        await _until(lambda: db.fetchval("SELECT status = 'sent' FROM ops.email_delivery WHERE outbox_id = $1", oid),
                     what="delivery record")
        # the same outbox row published again (relay crash between confirm and commit): no second email
        async with await aio_pika.connect(amqp_url) as conn:
            ch = await conn.channel()
            row = await db.fetchrow("SELECT topic, payload FROM ops.outbox WHERE id = $1", oid)
            await ch.default_exchange.publish(outbox_message(oid, row["topic"], row["payload"]), routing_key=email_queue)
        await _until(lambda: _empty(amqp_url, email_queue), what="redelivery consumed")
        await asyncio.sleep(0.3)
        assert len(smtp_sink.to("wes@example.com")) == 1


async def _empty(amqp_url: str, queue: str) -> bool:
    return await queue_depth(amqp_url, queue) == 0


async def test_transient_smtp_failures_are_retried_with_backoff(db, db_dsn, amqp_url, email_queue, smtp_sink,
                                                                 tmp_path):
    settings = _settings(db_dsn, amqp_url, email_queue, smtp_sink.url, tmp_path)
    smtp_sink.fail_data_code = 451  # "try again later"
    async with Notifier(settings):
        oid = await _enqueue(db, settings, "xia@example.com")
        await _until(lambda: _at_least(smtp_sink, 2), what="two refused attempts")
        smtp_sink.fail_data_code = None
        await smtp_sink.wait_for(to="xia@example.com")
        record = await _until(lambda: db.fetchrow(
            "SELECT status FROM ops.email_delivery WHERE outbox_id = $1 AND status = 'sent'", oid), what="sent")
        assert record["status"] == "sent"
    assert len(smtp_sink.to("xia@example.com")) == 1


async def _at_least(sink, n: int) -> bool:  # noqa: ANN001
    return sink.data_started >= n


async def test_permanent_failures_and_exhausted_retries_go_to_the_dead_letter_queue(db, db_dsn, amqp_url,
                                                                                    email_queue, smtp_sink, tmp_path):
    settings = _settings(db_dsn, amqp_url, email_queue, smtp_sink.url, tmp_path, email_max_attempts=3)
    names = QueueNames.from_base(email_queue)
    async with Notifier(settings) as notifier:
        smtp_sink.refuse_rcpt_code = 550
        refused = await _enqueue(db, settings, "nobody@example.com")
        await _until(lambda: db.fetchval("SELECT status = 'dead' FROM ops.email_delivery WHERE outbox_id = $1",
                                         refused), what="permanent failure dead-lettered")
        smtp_sink.refuse_rcpt_code = 450  # transient, forever: gives up after 3 attempts
        flaky = await _enqueue(db, settings, "later@example.com")
        row = await _until(lambda: db.fetchrow("SELECT attempts, last_error FROM ops.email_delivery "
                                               "WHERE outbox_id = $1 AND status = 'dead'", flaky),
                           what="retries exhausted")
        assert row["attempts"] == 3 and "450" in row["last_error"]
        # garbage on the queue is dead-lettered too, never crashes the consumer
        async with await aio_pika.connect(amqp_url) as conn:
            ch = await conn.channel()
            await ch.default_exchange.publish(aio_pika.Message(b"{not json"), routing_key=email_queue)
        await _until(lambda: _depth_at_least(amqp_url, names.dead, 3), what="three dead letters")
        smtp_sink.refuse_rcpt_code = None
        ok = await _enqueue(db, settings, "fine@example.com")  # the consumer is still healthy
        await smtp_sink.wait_for(to="fine@example.com")
        assert notifier.task is not None and not notifier.task.done()
    dead = await get_all(amqp_url, names.dead)
    ids = sorted(orjson.loads(m.body)["id"] for m in dead if m.body.startswith(b"{\""))
    assert ids == sorted([refused, flaky]) and ok
    assert all(m.headers.get("x-last-error") for m in dead)


async def _depth_at_least(url: str, queue: str, n: int) -> bool:
    return await queue_depth(url, queue) >= n


async def test_notifier_survives_a_broker_outage_without_losing_or_duplicating(db, db_dsn, amqp_url, email_queue,
                                                                               smtp_sink, tmp_path):
    proxy = BrokerProxy()
    await proxy.up()
    settings = _settings(db_dsn, proxy.url(), email_queue, smtp_sink.url, tmp_path)
    try:
        async with Notifier(settings):
            await _enqueue(db, settings, "before@example.com")
            await smtp_sink.wait_for(to="before@example.com")

            # 1. a message in flight (received, not yet acked) when the broker goes away
            smtp_sink.hold = True
            await _enqueue(db, settings, "inflight@example.com")
            await _until(lambda: _at_least(smtp_sink, 2), what="in-flight delivery")
            await proxy.down()
            smtp_sink.hold = False  # the SMTP send completes, but the ack cannot reach the broker

            # 2. while the broker is away: an outbox row (the relay cannot publish it) and a message
            # that another replica's relay put straight into the queue
            during = await _enqueue(db, settings, "during@example.com")
            await asyncio.sleep(1.5)
            assert await db.fetchval("SELECT sent_at FROM ops.outbox WHERE id = $1", during) is None
            other = await _enqueue(db, settings, "replica@example.com")
            async with await aio_pika.connect(amqp_url) as conn:
                ch = await conn.channel()
                payload = await db.fetchval("SELECT payload FROM ops.outbox WHERE id = $1", other)
                await ch.default_exchange.publish(outbox_message(other, "email.verify_email", payload),
                                                  routing_key=email_queue)
            await db.execute("UPDATE ops.outbox SET sent_at = now() WHERE id = $1", other)  # that replica's commit

            # 3. the broker comes back: everything is delivered, exactly once
            await proxy.up()
            for to in ("during@example.com", "replica@example.com"):
                await smtp_sink.wait_for(to=to, timeout=30)
            await _until(lambda: db.fetchval("SELECT count(*) = 0 FROM ops.outbox WHERE sent_at IS NULL"),
                         timeout=30, what="outbox drained")
            await _until(lambda: _empty(amqp_url, email_queue), timeout=30, what="queue drained")
            await asyncio.sleep(0.5)
        for to in ("before@example.com", "inflight@example.com", "during@example.com", "replica@example.com"):
            assert len(smtp_sink.to(to)) == 1, to
        assert await db.fetchval("SELECT count(*) FROM ops.email_delivery WHERE status = 'sent'") == 4
    finally:
        await proxy.down()


async def test_embedded_mode_writes_the_dev_mailbox_and_retries_smtp_via_the_outbox(db, db_dsn, tmp_path, smtp_sink):
    from mycrypto.notify.mailbox import read_mailbox
    from mycrypto.notify.relay import InProcessEmailRoute
    from mycrypto.notify.transports import mailbox_dir

    settings = make_settings(db_dsn, data_dir=tmp_path)
    relay = OutboxRelay(db, {"email.": InProcessEmailRoute(db, settings)})
    await _enqueue(db, settings, "dev@example.com", "http://127.0.0.1:8000/api/v1/auth/verify-email?token=ev_x")
    assert await relay.run_once() == 1
    [msg] = read_mailbox(mailbox_dir(settings))
    assert msg["to"] == "dev@example.com" and msg["links"] == ["http://127.0.0.1:8000/api/v1/auth/verify-email?token=ev_x"]

    smtp_settings = make_settings(db_dsn, data_dir=tmp_path, smtp_url=smtp_sink.url, email_max_attempts=2)
    relay = OutboxRelay(db, {"email.": InProcessEmailRoute(db, smtp_settings)}, retry_base_s=0.01, retry_cap_s=0.01)
    smtp_sink.fail_data_code = 451
    oid = await _enqueue(db, smtp_settings, "smtp@example.com")
    await relay.run_once()
    row = await db.fetchrow("SELECT sent_at, attempts, last_error FROM ops.outbox WHERE id = $1", oid)
    assert row["sent_at"] is None and row["attempts"] == 1 and "451" in row["last_error"]
    smtp_sink.fail_data_code = None
    await asyncio.sleep(0.05)
    await relay.run_once()
    await smtp_sink.wait_for(to="smtp@example.com")
    assert await db.fetchval("SELECT sent_at IS NOT NULL FROM ops.outbox WHERE id = $1", oid)
    # a permanent refusal is dead-lettered (recorded) and the row is finished, not retried forever
    smtp_sink.refuse_rcpt_code = 550
    bad = await _enqueue(db, smtp_settings, "gone@example.com")
    await relay.run_once()
    assert await db.fetchval("SELECT status FROM ops.email_delivery WHERE outbox_id = $1", bad) == "dead"
    assert await db.fetchval("SELECT sent_at IS NOT NULL FROM ops.outbox WHERE id = $1", bad)


async def test_two_relays_share_the_outbox_without_double_publishing(db, db_dsn, amqp_url, email_queue, tmp_path):
    settings = _settings(db_dsn, amqp_url, email_queue, None, tmp_path)
    for i in range(40):
        await _enqueue(db, settings, f"bulk{i}@example.com")
    db2 = Database(settings.database_url, min_size=1, max_size=2)
    await db2.connect()
    pubs = [ConfirmingPublisher(amqp_url, QueueNames.from_base(email_queue)) for _ in range(2)]
    relays = [OutboxRelay(d, {"email.": AmqpEmailRoute(p)}, batch_size=7) for d, p in zip((db, db2), pubs, strict=True)]
    try:
        async def drain(relay: OutboxRelay) -> int:
            total = 0
            while (n := await relay.run_once()):
                total += n
            return total
        counts = await asyncio.gather(*(drain(r) for r in relays))
    finally:
        for p in pubs:
            await p.close()
        await db2.close()
    assert sum(counts) == 40
    messages = await get_all(amqp_url, email_queue)
    ids = [orjson.loads(m.body)["id"] for m in messages]
    assert len(ids) == 40 and len(set(ids)) == 40
