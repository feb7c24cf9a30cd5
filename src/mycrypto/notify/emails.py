"""Transactional emails: the outbox payload contract, sealed secrets, and rendering to a MIME message.

Any service sends an email by writing one outbox row in its own transaction:

    await enqueue_email(conn, settings, to="a@b.c", template="security_notice",
                        vars={"what": "A withdrawal was requested"})

topic `email.<template>`, payload `{"to", "template", "vars", "sealed"}`. Values that are secrets
(verification and reset links) go in `secret_vars`: they are encrypted with DATA_ENCRYPTION_KEY
(common.crypto, purpose "email-secrets") before they touch the outbox table or RabbitMQ, and only
the notifier opens them while rendering. Templates live in notify/templates as `<name>.txt` and
`<name>.html` with `$variable` placeholders; HTML values are escaped.
"""
from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import lru_cache
from importlib import resources
from string import Template
from typing import Any

import orjson

from ..common.crypto import decrypt, encrypt
from . import outbox

SEAL_PURPOSE = "email-secrets"
APP_NAME = "MyCrypto"
SUBJECTS = {
    "verify_email": "Confirm your email address",
    "account_exists": "Someone tried to sign up with your email",
    "password_reset": "Reset your password",
    "security_notice": "Security notice for your account",
    "price_alert": "Price alert",
}


class TemplateError(ValueError):
    """The payload names no known template or lacks a variable: retrying cannot help (dead letter)."""


def seal(settings: Any, values: dict[str, Any]) -> str:
    return encrypt(settings.data_keys, SEAL_PURPOSE, orjson.dumps(values).decode())


def unseal(settings: Any, sealed: str) -> dict[str, Any]:
    return orjson.loads(decrypt(settings.data_keys, SEAL_PURPOSE, sealed))


def email_payload(settings: Any, *, to: str, template: str, vars: dict[str, Any] | None = None,
                  secret_vars: dict[str, Any] | None = None) -> dict[str, Any]:
    if template not in SUBJECTS:
        raise TemplateError(f"unknown email template {template!r}")
    return {"to": to, "template": template, "vars": dict(vars or {}),
            "sealed": seal(settings, secret_vars) if secret_vars else None}


async def enqueue_email(conn: Any, settings: Any, *, to: str, template: str, vars: dict[str, Any] | None = None,
                        secret_vars: dict[str, Any] | None = None) -> int:
    """Write the email to the outbox in the caller's transaction; the relay delivers it after commit."""
    payload = email_payload(settings, to=to, template=template, vars=vars, secret_vars=secret_vars)
    return await outbox.enqueue(conn, f"email.{template}", payload)


@lru_cache(maxsize=64)
def _template(name: str) -> Template:
    path = resources.files("mycrypto.notify.templates") / name
    if not path.is_file():
        raise TemplateError(f"no template file {name}")
    return Template(path.read_text(encoding="utf-8"))


def render(settings: Any, payload: dict[str, Any], *, message_id: str | None = None) -> EmailMessage:
    """The MIME message (plain text + HTML alternative) for an outbox email payload."""
    try:
        template = str(payload["template"])
        to = str(payload["to"])
        values = dict(payload.get("vars") or {})
    except (KeyError, TypeError) as exc:
        raise TemplateError(f"malformed email payload: {exc}") from None
    if template not in SUBJECTS:
        raise TemplateError(f"unknown email template {template!r}")
    if payload.get("sealed"):
        try:
            values.update(unseal(settings, payload["sealed"]))
        except Exception as exc:  # wrong key or tampered: no retry can fix it
            raise TemplateError(f"cannot open sealed values: {exc}") from None
    base = settings.base_url
    values.setdefault("app_name", APP_NAME)
    values.setdefault("base_url", base)
    values.setdefault("login_url", f"{base}/")
    values.setdefault("forgot_url", f"{base}/")
    subject = f"{APP_NAME}: {SUBJECTS[template]}"
    try:
        text = _template(f"{template}.txt").substitute(values)
        inner = _template(f"{template}.html").substitute(
            {k: html.escape(str(v), quote=True) for k, v in values.items()})
    except (KeyError, ValueError) as exc:
        raise TemplateError(f"template {template} needs {exc}") from None
    page = _template("_layout.html").substitute(subject=html.escape(subject), app_name=APP_NAME, body=inner)
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id or make_msgid(domain="mycrypto.local")
    msg.set_content(text)
    msg.add_alternative(page, subtype="html")
    return msg
