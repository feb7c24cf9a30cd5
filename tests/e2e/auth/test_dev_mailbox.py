"""Embedded mode, as a newcomer runs it: no RabbitMQ, no SMTP. Sign-up emails are delivered in-process
to var/mailbox and shown at /dev/mailbox, whose link completes sign-up. Never available in production."""
from __future__ import annotations

import re

import httpx
from asgi_lifespan import LifespanManager

from mycrypto.apps import create_app
from tests.conftest import make_settings
from tests.e2e.auth.helpers import PASSWORD, eventually, fast_hash_settings


async def test_signup_completes_through_the_dev_mailbox_page(auth_client, auth_settings, db):
    r = await auth_client.post("/api/v1/auth/register", json={"email": "newcomer@example.com", "password": PASSWORD})
    assert r.status_code == 202

    async def page_with_link() -> str | None:
        page = await auth_client.get("/dev/mailbox")
        return page.text if "/api/v1/auth/verify-email?token=" in page.text else None

    html = await eventually(page_with_link)  # the in-process relay delivers right after the commit
    assert "Confirm your email address" in html and "newcomer@example.com" in html
    link = re.search(r'href="(http://[^"]+/api/v1/auth/verify-email\?token=[^"]+)"', html).group(1)
    messages = (await auth_client.get("/dev/mailbox.json")).json()["messages"]
    assert messages[0]["links"] == [link]
    mine = (await auth_client.get("/dev/mailbox.json", params={"to": "Newcomer@example.com"})).json()["messages"]
    assert [m["links"] for m in mine] == [[link]]
    assert (await auth_client.get("/dev/mailbox.json", params={"to": "other@example.com"})).json()["messages"] == []
    r = await auth_client.get(link.replace(auth_settings.base_url, ""), headers={"Accept": "text/html"})
    assert r.status_code == 200 and "Email confirmed" in r.text
    r = await auth_client.post("/api/v1/auth/login", json={"email": "newcomer@example.com", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["user"]["email_verified"] is True


async def test_dev_mailbox_does_not_exist_in_production(db_dsn, tmp_path):
    settings = make_settings(db_dsn, env="production", data_dir=tmp_path, **fast_hash_settings())
    app = create_app(settings, access_log=False)
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            for path in ("/dev/mailbox", "/dev/mailbox.json"):
                r = await c.get(path)
                assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
