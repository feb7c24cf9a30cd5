"""Health and metrics of the notifier (`mycrypto serve notifier`), which has no web app of its own.

Served by common.probe_server on MYCRYPTO_PORT (the Kubernetes probes and Prometheus use it):
  /health/live   the process is up
  /health/ready  the database answers, the outbox relay runs and, with AMQP_URL, the email consumer
                 is connected to RabbitMQ (503 otherwise: the notifier cannot do its job)
  /health        the same checks in detail
  /metrics       Prometheus text (common.metrics)
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from .. import __version__
from ..common.metrics import CONTENT_TYPE, refresh_platform, render

JSON = "application/json"


class NotifierHealth:
    def __init__(self, settings: Any, db: Any, relay_task: Any, consumer: Callable[[], Any]) -> None:
        self.settings = settings
        self.db = db
        self.relay_task = relay_task
        self.consumer = consumer   # the EmailConsumer once started (None before, or without AMQP_URL)

    async def report(self) -> tuple[bool, dict[str, Any]]:
        database = "ok" if await self.db.ping() else "down"
        relay = "ok" if self.relay_task is not None and not self.relay_task.done() else "down"
        if not self.settings.amqp_url:
            queue = "not_configured"
        else:
            consumer = self.consumer()
            connection = getattr(consumer, "connection", None)
            queue = "ok" if connection is not None and not connection.is_closed else "down"
        checks = {"database": database, "relay": relay, "queue": queue}
        ok = all(v in ("ok", "not_configured") for v in checks.values())
        return ok, {"status": "ok" if ok else "unavailable", "service": "notifier", "version": __version__,
                    "checks": checks}

    async def live(self) -> tuple[int, str, bytes]:
        return 200, JSON, b'{"status":"ok"}'

    async def ready(self) -> tuple[int, str, bytes]:
        ok, _ = await self.report()
        return (200, JSON, b'{"status":"ok"}') if ok else (503, JSON, b'{"status":"unavailable"}')

    async def health(self) -> tuple[int, str, bytes]:
        ok, body = await self.report()
        return (200 if ok else 503), JSON, orjson.dumps(body)

    async def metrics(self) -> tuple[int, str, bytes]:
        await refresh_platform(self)
        return 200, CONTENT_TYPE, render()

    def routes(self) -> dict[str, Any]:
        return {"/health/live": self.live, "/health/ready": self.ready, "/health": self.health,
                "/metrics": self.metrics}
