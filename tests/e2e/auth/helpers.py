"""Helpers for the auth end-to-end tests: sign up through HTTP, read the mailbox, sign requests."""
from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pyotp

from mycrypto.notify.mailbox import read_mailbox
from mycrypto.notify.transports import mailbox_dir
from tests.support.waiting import eventually  # noqa: F401  (re-exported: the auth tests import it from here)

PASSWORD = "violet-harbour-lantern-93"
NEW_PASSWORD = "quiet-meadow-copper-kettle-17"


def fast_hash_settings() -> dict:
    """Cheap argon2 parameters so tests do not spend seconds hashing."""
    return {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}


def token_from_link(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def mailbox_links(settings, to: str, contains: str) -> list[str]:
    """Links found in the dev mailbox (embedded mode) for emails to `to`, newest first."""
    out = []
    for msg in read_mailbox(mailbox_dir(settings)):
        if to.lower() in msg["to"].lower():
            out.extend(link for link in msg["links"] if contains in link)
    return out


def totp_now(secret: str, offset_steps: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.at(time.time() + offset_steps * totp.interval)


def signed_query(secret: str, params: dict, *, timestamp_ms: int | None = None) -> str:
    """Binance-style: query string with timestamp, then &signature=hex(HMAC-SHA256(secret, query))."""
    params = dict(params)
    params.setdefault("timestamp", timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    query = urlencode(params)
    sig = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={sig}"


async def wait_for_links(client, settings, to: str, contains: str, count: int = 1, timeout: float = 10.0) -> list[str]:
    """Run the relay until the dev mailbox holds `count` links for `to` (newest first)."""
    import asyncio

    relay = client._transport.app.state.container.outbox_relay  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while True:
        await relay.run_once()
        links = mailbox_links(settings, to, contains)
        if len(links) >= count:
            return links
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} link(s) with {contains!r} to {to}, found {len(links)}")
        await asyncio.sleep(0.05)


async def register_verified(client, settings, email: str, password: str = PASSWORD) -> None:
    """Sign up through HTTP and follow the link from the dev mailbox (embedded mode)."""
    r = await client.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert r.status_code == 202, r.text
    links = await wait_for_links(client, settings, email, "/verify-email")
    r = await client.post("/api/v1/auth/verify-email", json={"token": token_from_link(links[0])})
    assert r.status_code == 200, r.text


async def login(client, email: str, password: str = PASSWORD, **extra) -> dict:
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": password, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}
