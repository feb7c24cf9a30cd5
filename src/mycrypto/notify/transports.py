"""Where rendered emails go: a real SMTP server (aiosmtplib) or, in development, files in var/mailbox.

`SmtpTransport` reads SMTP_URL: `smtp://user:pass@host:587` (STARTTLS when the server offers it) or
`smtps://user:pass@host:465` (implicit TLS). Failures are classified: `PermanentFailure` (the server
refused the recipient/message with a 5xx: retrying cannot help -> dead letter) and anything else,
which is transient (connection refused, timeouts, 4xx) and retried with backoff.

`MailboxTransport` writes each message as an .eml file under MYCRYPTO_DATA_DIR/mailbox, where the
dev-only page /dev/mailbox shows it. It refuses to run in production (emails then stay pending in
the outbox until SMTP is configured, instead of vanishing into a directory nobody reads).
"""
from __future__ import annotations

import asyncio
import os
import re
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib


class PermanentFailure(Exception):
    """The message can never be delivered as it is (5xx refusal, bad template)."""


class Transport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpTransport:
    def __init__(self, url: str, timeout: float = 20.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP_URL must start with smtp:// or smtps://")
        self.hostname = parts.hostname or "localhost"
        self.implicit_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(message, hostname=self.hostname, port=self.port, username=self.username,
                                  password=self.password, use_tls=self.implicit_tls,
                                  start_tls=None if not self.implicit_tls else False, timeout=self.timeout)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if codes and all(500 <= c < 600 for c in codes):
                raise PermanentFailure(f"recipient refused: {exc}") from None
            raise
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600 and not isinstance(exc, aiosmtplib.SMTPAuthenticationError):
                raise PermanentFailure(f"SMTP {exc.code}: {exc.message}") from None
            raise


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class MailboxTransport:
    """Development only: one .eml file per message in `directory`."""

    def __init__(self, directory: Path, *, production: bool = False) -> None:
        self.directory = Path(directory)
        self.production = production

    async def send(self, message: EmailMessage) -> None:
        if self.production:
            raise RuntimeError("no SMTP_URL in production: the email stays queued until SMTP is configured")
        data = bytes(message)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        to = _SAFE.sub("_", str(message.get("To", "unknown")))[:60]
        name = f"{stamp}-{time.time_ns() % 10**9:09d}-{to}.eml"
        await asyncio.to_thread(self._write, name, data)

    def _write(self, name: str, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / (name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self.directory / name)  # readers never see half a file


def mailbox_dir(settings: Any) -> Path:
    return Path(settings.data_dir) / "mailbox"


def build_transport(settings: Any) -> Transport:
    if settings.smtp_url:
        return SmtpTransport(settings.smtp_url)
    return MailboxTransport(mailbox_dir(settings), production=settings.is_production)
