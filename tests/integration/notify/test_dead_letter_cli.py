"""`mycrypto email dead-letters` / `requeue-dead`: dead letters are listed and, once the cause is fixed,
delivered after a requeue - exactly once."""
from __future__ import annotations

import asyncio

from mycrypto.notify.cli import requeue
from tests.integration.notify.helpers import queue_depth
from tests.integration.notify.test_email_pipeline import Notifier, _enqueue, _settings, _until


async def test_requeued_dead_letters_are_delivered_once(db, db_dsn, amqp_url, email_queue, smtp_sink, tmp_path):
    settings = _settings(db_dsn, amqp_url, email_queue, smtp_sink.url, tmp_path, email_max_attempts=1)
    async with Notifier(settings):
        smtp_sink.refuse_rcpt_code = 550
        oid = await _enqueue(db, settings, "bounce@example.com")
        await _until(lambda: db.fetchval("SELECT status = 'dead' FROM ops.email_delivery WHERE outbox_id = $1", oid),
                     what="dead letter")
        await _until(lambda: _depth(amqp_url, email_queue + ".dead", 1), what="message in the DLQ")
        smtp_sink.refuse_rcpt_code = None  # the cause is fixed
        assert await requeue(amqp_url, email_queue, 10) == 1
        await smtp_sink.wait_for(to="bounce@example.com")
        await _until(lambda: db.fetchval("SELECT status = 'sent' FROM ops.email_delivery WHERE outbox_id = $1", oid),
                     what="sent after requeue")
        assert await requeue(amqp_url, email_queue, 10) == 0
        await asyncio.sleep(0.3)
    assert len(smtp_sink.to("bounce@example.com")) == 1


async def _depth(url: str, queue: str, n: int) -> bool:
    return await queue_depth(url, queue) == n
