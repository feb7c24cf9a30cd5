"""RabbitMQ helpers for the notifier tests: unique queue names, cleanup, and a TCP proxy that plays a
broker outage (the machine's RabbitMQ is shared, so tests never restart it; they cut the network path,
or restart a private node: tests/support/private_rabbitmq.py)."""
from __future__ import annotations

import asyncio
import contextlib
import uuid

import aio_pika

from mycrypto.notify.amqp import QueueNames
from tests.support.services import free_port


def unique_queue() -> str:
    return f"test.mycrypto.email.{uuid.uuid4().hex[:10]}"


async def delete_queues(amqp_url: str, base: str) -> None:
    names = QueueNames.from_base(base)
    conn = await aio_pika.connect(amqp_url)
    try:
        for name in (names.main, names.retry, names.dead):
            ch = await conn.channel()
            with contextlib.suppress(Exception):
                await ch.queue_delete(name)
    finally:
        await conn.close()


async def queue_depth(amqp_url: str, name: str) -> int:
    conn = await aio_pika.connect(amqp_url)
    try:
        ch = await conn.channel()
        q = await ch.declare_queue(name, passive=True)
        return q.declaration_result.message_count or 0
    finally:
        await conn.close()


async def get_all(amqp_url: str, name: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Take every message currently in `name` (acked: they leave the queue)."""
    conn = await aio_pika.connect(amqp_url)
    out = []
    try:
        ch = await conn.channel()
        q = await ch.declare_queue(name, passive=True)
        while True:
            msg = await q.get(no_ack=True, fail=False)
            if msg is None:
                return out
            out.append(msg)
    finally:
        await conn.close()


class BrokerProxy:
    """127.0.0.1:<port> -> RabbitMQ. `down()` kills every connection and refuses new ones (as a broker
    restart looks to a client); `up()` accepts again. The real broker keeps running for everyone else,
    and requeues whatever our dropped connections had not acked."""

    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5672) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.AbstractServer | None = None
        self._pipes: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    def url(self, user: str = "guest", password: str = "guest") -> str:
        return f"amqp://{user}:{password}@127.0.0.1:{self.port}/"

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._writers):
            w.close()
        for t in list(self._pipes):
            t.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        for task in (asyncio.create_task(pipe(reader, up_writer)), asyncio.create_task(pipe(up_reader, writer))):
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)
