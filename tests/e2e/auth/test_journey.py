"""The issue's "Done when", through real HTTP (uvicorn) with the real path for email and limits:
PostgreSQL, the outbox relay, RabbitMQ, the notifier (as `serve notifier` runs it), SMTP (aiosmtpd),
and Redis for rate limits.

A user registers, receives the email, follows the link, logs in, enrolls 2FA, logs in with a code,
creates an API key and makes a signed request; then resets a forgotten password by email.
"""
from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from tests.conftest import LiveServer, make_settings
from tests.e2e.auth.helpers import NEW_PASSWORD, PASSWORD, fast_hash_settings, signed_query, totp_now
from tests.integration.notify.helpers import delete_queues, unique_queue
from tests.support.services import AMQP_URL, REDIS_URL, require
from tests.support.smtp import SmtpSink, first_link


@pytest.fixture
def real_services():
    return require("RabbitMQ", AMQP_URL, 5672), require("Redis", REDIS_URL, 6379)


async def test_full_journey_over_rabbitmq_and_smtp(db_dsn, db, tmp_path, real_services):
    from mycrypto.notify.worker import run_notifier

    amqp_url, redis_url = real_services
    queue = unique_queue()
    with SmtpSink() as smtp:
        settings = make_settings(db_dsn, amqp_url=amqp_url, smtp_url=smtp.url, redis_url=redis_url,
                                 rate_limit_prefix=f"test:{uuid.uuid4().hex}:", email_queue=queue,
                                 notifier_in_process=False, data_dir=tmp_path, **fast_hash_settings())
        server = LiveServer(settings).start()
        notifier_settings = settings.model_copy(update={"port": server.port})
        stop, ready = asyncio.Event(), asyncio.Event()
        notifier = asyncio.create_task(run_notifier(notifier_settings, stop=stop, ready=ready))
        try:
            await asyncio.wait_for(ready.wait(), 30)
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                await _journey(http, smtp, server, db)
        finally:
            stop.set()
            await asyncio.wait_for(notifier, 30)
            server.stop()
            await delete_queues(amqp_url, queue)


async def _journey(http: httpx.AsyncClient, smtp: SmtpSink, server: LiveServer, db) -> None:  # noqa: ANN001
    email = "journey@example.com"
    # 1. register -> the email arrives through outbox -> RabbitMQ -> notifier -> SMTP
    r = await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 202
    msg = await smtp.wait_for(to=email, subject_contains="Confirm your email")
    link = first_link(msg, "/api/v1/auth/verify-email")
    assert link.startswith(server.url + "/")  # points at PUBLIC_URL (here: the live server)

    # 2. follow the link like a browser
    page = await http.get(link, headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Email confirmed" in page.text

    # 3. log in; 4. enroll 2FA
    r = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200 and r.json()["user"]["email_verified"] is True
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = await http.post("/api/v1/auth/2fa/enroll", headers=auth)
    secret = r.json()["secret"]
    r = await http.post("/api/v1/auth/2fa/confirm", json={"code": totp_now(secret)}, headers=auth)
    assert r.status_code == 200 and len(r.json()["recovery_codes"]) == 10
    recovery = r.json()["recovery_codes"]
    notice = await smtp.wait_for(to=email, subject_contains="Security notice")
    assert "Two-factor authentication was turned on" in notice.get_body(("plain",)).get_content()

    # 5. log in with a code (the next time step: the confirming code cannot be replayed)
    r = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 401 and r.json()["error"]["code"] == "totp_required"
    r = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD,
                                                    "totp_code": totp_now(secret, 1)})
    assert r.status_code == 200
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}

    # 6. create an API key (2FA required: codes of spent time steps are refused, so a recovery code here)
    r = await http.post("/api/v1/auth/api-keys", json={"label": "journey", "permissions": ["read", "trade"],
                                                       "totp_code": totp_now(secret, -1)}, headers=auth)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_totp"
    r = await http.post("/api/v1/auth/api-keys", json={"label": "journey", "permissions": ["read", "trade"],
                                                       "totp_code": recovery[0]}, headers=auth)
    assert r.status_code == 201, r.text
    key = r.json()
    r = await http.get(f"/api/v1/auth/me?{signed_query(key['secret'], {'recvWindow': 5000})}",
                       headers={"X-MBX-APIKEY": key["api_key"]})
    assert r.status_code == 200 and r.json()["email"] == email and r.json()["api_key_id"] == key["id"]
    stale = signed_query(key["secret"], {}, timestamp_ms=int(time.time() * 1000) - 120_000)
    r = await http.get(f"/api/v1/auth/me?{stale}", headers={"X-MBX-APIKEY": key["api_key"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "timestamp_outside_recv_window"

    # 7. forgot password -> email -> link page -> new password -> old sessions gone, new password works
    r = await http.post("/api/v1/auth/forgot-password", json={"email": email})
    assert r.status_code == 202
    reset = await smtp.wait_for(to=email, subject_contains="Reset your password")
    reset_link = first_link(reset, "/api/v1/auth/reset-password")
    form_page = await http.get(reset_link, headers={"Accept": "text/html"})
    assert form_page.status_code == 200 and "new_password" in form_page.text
    token = reset_link.split("token=", 1)[1]
    r = await http.post("/api/v1/auth/reset-password/form", data={"token": token, "new_password": NEW_PASSWORD})
    assert r.status_code == 200 and "Password changed" in r.text
    assert (await http.get("/api/v1/auth/me", headers=auth)).status_code == 401
    r = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD,
                                                    "totp_code": recovery[1]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    r = await http.post("/api/v1/auth/login", json={"email": email, "password": NEW_PASSWORD,
                                                    "totp_code": recovery[1]})
    assert r.status_code == 200
    await smtp.wait_for(to=email, subject_contains="Security notice", count=2)

    # every email went through RabbitMQ and was recorded as sent; nothing is pending (the last sign-in's
    # stream.user.security event goes out to Redis at the relay's next poll, within a second)
    for _ in range(50):
        if await db.fetchval("SELECT count(*) FROM ops.outbox WHERE sent_at IS NULL") == 0:
            break
        await asyncio.sleep(0.1)
    assert await db.fetchval("SELECT count(*) FROM ops.outbox WHERE sent_at IS NULL") == 0
    statuses = await db.fetch("SELECT topic, status FROM ops.email_delivery ORDER BY outbox_id")
    assert [s["status"] for s in statuses] == ["sent"] * len(statuses) and len(statuses) >= 4
