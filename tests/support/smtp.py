"""A real SMTP server for tests (aiosmtpd in a background thread) and helpers to read what it got.

    with SmtpSink() as smtp:                     # or the `smtp_sink` fixture of the auth/notify tests
        settings = make_settings(db_dsn, smtp_url=smtp.url)
        ...
        msg = await smtp.wait_for(to="a@example.com", subject_contains="Confirm")
        link = first_link(msg, "/verify-email")
"""
from __future__ import annotations

import asyncio
import re
import threading
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from tests.support.services import free_port

_LINK = re.compile(r"https?://[^\s<>\"']+")


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Envelope, address: str, rcpt_options: list) -> str:
        if self.sink.refuse_rcpt_code is not None:
            code = self.sink.refuse_rcpt_code
            return f"{code} {'5.1.1 no such user' if code >= 500 else '4.3.0 try again later'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.sink.data_started += 1
        while self.sink.hold:  # a test keeps the sender waiting mid-delivery
            await asyncio.sleep(0.02)
        if self.sink.fail_data_code is not None:
            return f"{self.sink.fail_data_code} 4.3.0 temporarily unavailable"
        msg = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        with self.sink.lock:
            self.sink.messages.append(msg)
        return "250 Message accepted for delivery"


class SmtpSink:
    """Accepts every message (unless told to refuse: 4xx/5xx) and keeps the parsed messages."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.refuse_rcpt_code: int | None = None
        self.fail_data_code: int | None = None
        self.hold = False          # True: DATA waits until it is set back to False
        self.data_started = 0      # DATA commands seen (including held and refused ones)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=True)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    async def wait_for(self, *, to: str, subject_contains: str = "", count: int = 1,
                       timeout: float = 20.0) -> EmailMessage:
        """The `count`-th message to `to` whose subject contains the text (waits for it)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.to(to) if subject_contains in str(m["Subject"])]
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no email #{count} to {to} with {subject_contains!r}; "
                                     f"got {[str(m['Subject']) for m in self.to(to)]}")
            await asyncio.sleep(0.05)


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def html_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else ""


def first_link(msg: EmailMessage, contains: str = "") -> str:
    for link in _LINK.findall(text_of(msg)):
        if contains in link:
            return link
    raise AssertionError(f"no link containing {contains!r} in: {text_of(msg)!r}")
