"""axe-core (from npm, tests/support/axe.py) on every screen of the web app: no serious or critical
violation of WCAG 2.x A/AA or axe's best practices, for guests and signed-in users, with data in every
table (orders, trades, alerts and their firings), on the trade page's other tabs, in the 2FA enrolment
step, with the notifications list open and a toast showing, and at phone width.

This complements the project's own audit (audit.js, test_accessibility.py), which checks things axe
does not (buy/sell written out, one h1 per page, our contrast rules on every text node).
"""
from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.flows import goto, sign_in
from tests.e2e.trading.kit import make_trader, place_ok
from tests.support.axe import run_axe, serious
from tests.support.factories import DEFAULT_PASSWORD, bearer, create_user, fund

pytestmark = pytest.mark.browser

GUEST_PAGES = ["/app/markets", "/app/trade/BTC-USDT", "/app/login", "/app/register", "/app/forgot-password",
               "/app/check-email?email=a%40example.com", "/app/reset-password?token=abcdefghijkl",
               "/app/verify-email?token=abcdefghijkl", "/app/nowhere"]
SIGNED_IN_PAGES = ["/app/markets", "/app/trade/BTC-USDT", "/app/trade/ETH-BTC", "/app/wallet", "/app/alerts",
                   "/app/account", "/app/admin"]


async def check(page, where: str, problems: dict[str, list[str]]) -> None:
    await expect(page.locator("main h1")).to_be_visible()
    await page.wait_for_timeout(400)   # the first loads render their tables
    found = serious(await run_axe(page))
    if found:
        problems[where] = found


async def some_activity(url: str, db, settings, user_id: int) -> None:
    """Orders, trades, an alert that fired and one that waits: every table has rows."""
    maker = await make_trader(db, settings, {"BTC": "10", "USDT": "1000000"})
    me = type(maker)(user_id, bearer(settings, user_id, role="admin"))
    await fund(db, user_id, "USDT", "100000")
    await fund(db, user_id, "BTC", "2")
    async with httpx.AsyncClient(base_url=url) as c:
        await place_ok(c, maker, side="sell", price="50000", quantity="0.5")
        await place_ok(c, maker, side="buy", price="49000", quantity="0.5")
        await place_ok(c, me, side="buy", type="market", quantity="0.01")
        await place_ok(c, me, side="buy", price="48000", quantity="0.02")
        for body in ({"symbol": "BTC-USDT", "condition": {"type": "price", "direction": "below", "price": "49500"},
                      "note": "breakout"},
                     {"symbol": "BTC-USDT", "condition": {"type": "rsi", "direction": "below", "level": "30", "interval": "1h"}}):
            r = await c.post("/api/v1/trade/alerts", json=body, headers=me.headers)
            assert r.status_code == 201, r.text


async def test_no_serious_or_critical_violation_on_any_screen(new_page, db, settings, live_server):
    admin = await create_user(db, email="axe@example.com", role="admin")
    await some_activity(live_server.url, db, settings, admin)
    problems: dict[str, list[str]] = {}

    guest = (await new_page()).page
    for path in GUEST_PAGES:
        await goto(guest, path)
        await check(guest, f"guest {path}", problems)

    page = (await new_page()).page
    await sign_in(page, "axe@example.com", DEFAULT_PASSWORD)
    for path in SIGNED_IN_PAGES:
        await goto(page, path)
        await check(page, path, problems)

    # The trade page's other tabs.
    await goto(page, "/app/trade/BTC-USDT")
    for tab in ("Order history", "Trade history"):
        await page.get_by_role("tab", name=tab).click()
        await check(page, f"/app/trade/BTC-USDT {tab}", problems)

    # An alert fires while the alerts page is open: the toast, the badge and the open list.
    await goto(page, "/app/alerts")
    await expect(page.locator("#conn-state")).to_have_text("Live")
    seller = await make_trader(db, settings, {"BTC": "1"})
    async with httpx.AsyncClient(base_url=live_server.url) as c:   # a trade at 49000, below 49500
        await place_ok(c, seller, side="sell", price="49000", quantity="0.01")
    await expect(page.locator(".toast")).to_be_visible(timeout=20_000)
    await page.get_by_role("button", name=re.compile("^Notifications")).click()
    await expect(page.locator("#notifications-panel")).to_be_visible()
    await check(page, "/app/alerts with a toast and the notifications list", problems)

    # The 2FA enrolment step (secret, URI, QR image).
    await goto(page, "/app/account")
    await page.get_by_role("button", name="Set up two-factor authentication").click()
    await expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    await check(page, "2fa enrolment", problems)

    # A phone: the same screens reflow; nothing new may appear (e.g. a hidden label or a cut-off control).
    phone = (await new_page("mobile")).page
    await sign_in(phone, "axe@example.com", DEFAULT_PASSWORD)
    for path in ("/app/trade/BTC-USDT", "/app/alerts", "/app/wallet"):
        await goto(phone, path)
        await check(phone, f"phone {path}", problems)

    assert not problems, "axe-core found serious/critical violations:\n" + "\n".join(
        f"{where}: {line}" for where, found in problems.items() for line in found)


async def test_the_axe_audit_notices_a_serious_violation(new_page):
    page = (await new_page()).page
    await goto(page, "/app/login")
    await expect(page.locator("main h1")).to_be_visible()
    assert serious(await run_axe(page)) == []
    await page.evaluate("""(() => {
        const m = document.querySelector('main');
        m.append(Object.assign(document.createElement('input'), {type: 'text', id: 'unlabelled'}));
        const b = document.createElement('button'); b.id = 'empty-button'; m.append(b);
        const p = document.createElement('p'); p.textContent = 'faint text'; p.id = 'faint'; m.append(p);
        p.style.color = '#222';
    })()""")
    found = " | ".join(serious(await run_axe(page)))
    assert "label [critical]" in found and "#unlabelled" in found
    assert "button-name [critical]" in found and "#empty-button" in found
    assert "color-contrast [serious]" in found and "#faint" in found
