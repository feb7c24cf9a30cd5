"""The development mailbox: emails written to var/mailbox (no SMTP_URL) shown at /dev/mailbox.

Never in production: every route answers 404 unless `settings.dev_tools_enabled` (MYCRYPTO_ENV is
not `production`). `/dev/mailbox` is a plain HTML page (links in the mails are clickable, so a
newcomer can finish sign-up in the browser); `/dev/mailbox.json` is the same for scripts and tests
(`?to=ADDRESS`: only that recipient's messages).
"""
from __future__ import annotations

import html
import re
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from ..common.errors import NotFound
from ..common.jsonresp import json_response
from .transports import mailbox_dir

router = APIRouter(include_in_schema=False)
_URL = re.compile(r"(https?://[^\s<>\"']+)")
MAX_MESSAGES = 200


def read_mailbox(directory: Path, limit: int = MAX_MESSAGES) -> list[dict[str, Any]]:
    """Messages newest first: id, to, subject, date, text, html, links."""
    if not directory.is_dir():
        return []
    files = sorted((p for p in directory.glob("*.eml")), key=lambda p: p.name, reverse=True)[:limit]
    out = []
    for path in files:
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        text_part = msg.get_body(preferencelist=("plain",))
        html_part = msg.get_body(preferencelist=("html",))
        text = text_part.get_content() if text_part is not None else ""
        out.append({"id": path.stem, "to": str(msg.get("To", "")), "from": str(msg.get("From", "")),
                    "subject": str(msg.get("Subject", "")), "date": str(msg.get("Date", "")), "text": text,
                    "html": html_part.get_content() if html_part is not None else None,
                    "links": _URL.findall(text)})
    return out


def _linkify(text: str) -> str:
    escaped = html.escape(text)
    return _URL.sub(lambda m: f'<a href="{m.group(1)}">{m.group(1)}</a>', escaped)


def _guard(request: Request) -> Path:
    settings = request.app.state.container.settings
    if not settings.dev_tools_enabled:
        raise NotFound("No such endpoint.")
    return mailbox_dir(settings)


@router.get("/dev/mailbox.json")
async def mailbox_json(request: Request, to: str = Query("", max_length=320)) -> Response:
    """`?to=ADDRESS` keeps only that recipient's messages (a script's way to find its own email)."""
    messages = read_mailbox(_guard(request))
    if to:
        messages = [m for m in messages if m["to"].strip().lower() == to.strip().lower()]
    return json_response({"messages": messages}, headers={"Cache-Control": "no-store"})


@router.get("/dev/mailbox")
async def mailbox_page(request: Request) -> Response:
    messages = read_mailbox(_guard(request))
    items = "".join(
        f"<article><h2>{html.escape(m['subject'])}</h2><p><small>To {html.escape(m['to'])} &middot; "
        f"{html.escape(m['date'])}</small></p><pre>{_linkify(m['text'])}</pre></article><hr>"
        for m in messages) or "<p>No emails yet. Sign up, then reload this page.</p>"
    page = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Dev mailbox</title>"
            "<link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main>"
            "<h1>Development mailbox</h1><p>Emails the platform sent while SMTP_URL is unset "
            "(development only; never available in production). Newest first.</p>"
            f"{items}</main></body></html>")
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})
