"""Fixtures of the notifier integration tests: real RabbitMQ (unique queues per test), real SMTP (aiosmtpd)."""
from __future__ import annotations

import pytest

from tests.integration.notify.helpers import delete_queues, unique_queue
from tests.support.services import AMQP_URL, require
from tests.support.smtp import SmtpSink


@pytest.fixture
def amqp_url() -> str:
    return require("RabbitMQ", AMQP_URL, 5672)


@pytest.fixture
async def email_queue(amqp_url):
    name = unique_queue()
    yield name
    await delete_queues(amqp_url, name)


@pytest.fixture
def smtp_sink():
    with SmtpSink() as sink:
        yield sink
