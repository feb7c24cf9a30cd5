"""`mycrypto email ...`: look at and retry dead-lettered emails.

    mycrypto email dead-letters            # what failed for good, and why (ops.email_delivery)
    mycrypto email requeue-dead [--limit N]  # move messages from <EMAIL_QUEUE>.dead back to the work queue

Requeued messages start again with a fresh attempt budget; one whose email was in fact sent is skipped
by the notifier (ops.email_delivery says 'sent'), so requeueing never sends twice.
"""
from __future__ import annotations

from typing import Any

import click

from ..common.cli import database, fail, get_settings, run_async, with_connection


def register(group: click.Group) -> None:
    @group.group("email")
    def email() -> None:
        """Inspect and retry dead-lettered emails."""

    @email.command("dead-letters")
    @click.option("--limit", default=50, show_default=True)
    @click.pass_context
    def dead_letters(ctx: click.Context, limit: int) -> None:
        """List emails that went to the dead-letter queue, newest first."""
        from .repository import dead_letters as fetch

        settings = get_settings(ctx)
        with database(settings) as settings:
            rows = run_async(lambda: with_connection(settings, lambda conn: fetch(conn, limit)))
        if not rows:
            click.echo("no dead letters")
        for r in rows:
            click.echo(f"{r['updated_at']:%Y-%m-%d %H:%M:%S}  outbox {r['outbox_id']:<8} {r['topic']:<24} "
                       f"{r['recipient']:<32} attempts={r['attempts']}  {r['last_error'] or ''}")

    @email.command("requeue-dead")
    @click.option("--limit", default=1000, show_default=True, help="Move at most this many messages.")
    @click.pass_context
    def requeue_dead(ctx: click.Context, limit: int) -> None:
        """Move dead-lettered messages back to the work queue (after fixing the cause)."""
        settings = get_settings(ctx)
        if not settings.amqp_url:
            fail("AMQP_URL is not set: in embedded mode dead letters are only recorded in ops.email_delivery")
        moved = run_async(lambda: requeue(settings.amqp_url, settings.email_queue, limit))
        click.echo(f"requeued {moved} message(s)")


async def requeue(amqp_url: str, base: str, limit: int) -> int:
    """Re-publish (confirmed) each dead letter to the work queue, then ack it; returns how many moved."""
    import aio_pika

    from .amqp import QueueNames, connect, declare_topology

    names = QueueNames.from_base(base)
    conn = await connect(amqp_url, "mycrypto-requeue")
    moved = 0
    try:
        channel = await conn.channel(publisher_confirms=True)
        await declare_topology(channel, names)
        dead = await channel.declare_queue(names.dead, durable=True)
        while moved < limit:
            message: Any = await dead.get(no_ack=False, fail=False)
            if message is None:
                break
            headers = {k: v for k, v in (message.headers or {}).items() if k not in ("x-attempts", "x-death")}
            await channel.default_exchange.publish(
                aio_pika.Message(message.body, headers={**headers, "x-attempts": 0},
                                 content_type=message.content_type, message_id=message.message_id,
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=names.main, mandatory=True)
            await message.ack()
            moved += 1
    finally:
        await conn.close()
    return moved
