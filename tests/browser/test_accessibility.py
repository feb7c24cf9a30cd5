"""Accessibility of the web app in Chromium: landmarks, names, headings, contrast, keyboard, live regions.

The in-page audit (audit.js) checks every page a user meets; the keyboard test places an order
without touching the mouse; focus must always be visible; motion is off for people who ask.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser.flows import faucet, goto, register_and_sign_in, sign_in
from tests.support.factories import DEFAULT_PASSWORD, create_user

pytestmark = pytest.mark.browser
AUDIT = (Path(__file__).parent / "audit.js").read_text()

PUBLIC_PAGES = ["/app/markets", "/app/trade/BTC-USDT", "/app/login", "/app/register", "/app/forgot-password",
                "/app/check-email?email=a%40example.com", "/app/reset-password?token=abcdefghijkl", "/app/nowhere"]
PRIVATE_PAGES = ["/app/wallet", "/app/alerts", "/app/account", "/app/trade/ETH-USDT", "/app/admin"]


async def audit(page) -> list[str]:
    await page.wait_for_timeout(300)  # let the first poll render its tables
    return await page.evaluate(AUDIT)


async def test_every_public_page_passes_the_audit(new_page):
    page = (await new_page()).page
    problems = {}
    for path in PUBLIC_PAGES:
        await goto(page, path)
        await expect(page.locator("main h1")).to_be_visible()
        found = await audit(page)
        if found:
            problems[path] = found
    assert not problems, problems
    # The audit itself notices what it is there to notice.
    await page.evaluate("""(() => { const m = document.querySelector('main');
        m.append(Object.assign(document.createElement('input'), {type: 'text'}));
        m.append(Object.assign(document.createElement('h4'), {textContent: 'jump'}));
        const p = document.createElement('p'); p.textContent = 'faint'; p.className = 'x-faint'; m.append(p);
        p.style.color = '#333'; })()""")
    found = " | ".join(await audit(page))
    assert "control without an accessible name: input" in found
    assert "heading level jumps" in found
    assert "low contrast" in found and "faint" in found


async def test_every_signed_in_page_passes_the_audit(new_page, db):
    await create_user(db, email="root@example.com", role="admin")
    page = (await new_page()).page
    await sign_in(page, "root@example.com", DEFAULT_PASSWORD)
    problems = {}
    for path in PRIVATE_PAGES:
        await goto(page, path)
        await expect(page.locator("main h1")).to_be_visible()
        await page.wait_for_timeout(700)
        found = await audit(page)
        if found:
            problems[path] = found
    # The 2FA enrolment step (secret, URI, QR image) too.
    await goto(page, "/app/account")
    await page.get_by_role("button", name="Set up two-factor authentication").click()
    await expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    found = await audit(page)
    if found:
        problems["2fa enrolment"] = found
    assert not problems, problems


async def test_skip_link_focus_order_and_visible_focus(new_page):
    page = (await new_page()).page
    await goto(page, "/app/markets")
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    await expect(skip).to_be_focused()
    assert await skip.is_visible()
    # Focus order follows the page: skip link, brand, main navigation, then sign in / sign up.
    order = []
    for _ in range(5):
        await page.keyboard.press("Tab")
        order.append(await page.evaluate("document.activeElement.textContent.trim()"))
    assert order == ["MyCrypto", "Markets", "Trade", "Sign in", "Sign up"], order
    # Every focused element shows a clear outline (at least 2px, not 'none').
    outline = await page.evaluate("(() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()")
    assert outline[0] != "none" and outline[1] >= 2, outline
    # The skip link moves focus into <main>.
    await goto(page, "/app/markets")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"


async def test_navigation_moves_focus_to_the_new_heading_and_announces_it(new_page):
    page = (await new_page()).page
    await goto(page, "/app/markets")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Trade").click()
    heading = page.locator("main h1")
    await expect(heading).to_have_text("BTC/USDT")
    await expect(heading).to_be_focused()
    await expect(page.locator("#announcer")).to_have_text(re.compile("Trade page"))
    assert await page.locator("#announcer").get_attribute("aria-live") == "polite"
    assert await page.locator("#alert-announcer").get_attribute("role") == "alert"


async def test_place_and_cancel_an_order_with_the_keyboard_only(new_page):
    page = (await new_page()).page
    await register_and_sign_in(page, "keys@example.com")
    await faucet(page, "BTC", "0.1")
    await goto(page, "/app/trade/BTC-USDT")
    # Reach the side selector with Tab alone.
    for _ in range(80):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.name === 'side'"):
            break
    else:
        raise AssertionError("Tab never reached the order form")
    await page.keyboard.press("ArrowRight")  # radio group: Buy -> Sell
    form = page.get_by_role("region", name="Place order")
    await expect(form.get_by_role("radio", name="Sell")).to_be_checked()
    await expect(form.get_by_role("button", name="Sell BTC")).to_be_visible()
    await page.keyboard.press("Tab")          # order type (Limit)
    assert await page.evaluate("document.activeElement.name") == "type"
    await page.keyboard.press("Tab")          # price
    await page.keyboard.type("70000")
    await page.keyboard.press("Tab")          # quantity
    await page.keyboard.type("0.002")
    await page.keyboard.press("Enter")        # submits the form
    await expect(form.get_by_role("status").first).to_contain_text(re.compile(r"Sell limit order #\d+: new"))
    await expect(page.locator("#announcer")).to_contain_text("Sell limit order")
    cancel = page.get_by_role("button", name=re.compile(r"^Cancel sell order #\d+ at 70,000"))
    await cancel.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#announcer")).to_contain_text("cancelled")
    # Tabs of "My orders" follow the ARIA pattern: arrow keys move between them.
    tab = page.get_by_role("tab", name="Open orders")
    await tab.focus()
    await page.keyboard.press("ArrowRight")
    await expect(page.get_by_role("tab", name="Order history")).to_be_focused()
    await expect(page.get_by_role("tab", name="Order history")).to_have_attribute("aria-selected", "true")
    await expect(page.get_by_role("tabpanel", name="Order history")).to_contain_text(re.compile("cancell?ed"))


async def test_reduced_motion_is_respected(new_page):
    page = (await new_page()).page  # contexts emulate prefers-reduced-motion: reduce
    await goto(page, "/app/markets")
    name = await page.evaluate("""(() => { const d = document.createElement('div'); d.className = 'flash';
        document.body.append(d); return getComputedStyle(d).animationName; })()""")
    assert name == "none"
    other = await new_page(reduced_motion="no-preference")
    await goto(other.page, "/app/markets")
    name = await other.page.evaluate("""(() => { const d = document.createElement('div'); d.className = 'flash';
        document.body.append(d); return getComputedStyle(d).animationName; })()""")
    assert name == "flash"


async def test_errors_are_announced_and_tied_to_their_fields(new_page):
    page = (await new_page()).page
    await goto(page, "/app/register")
    await page.get_by_role("button", name="Create account").click()
    email = page.get_by_label("Email")
    await expect(email).to_have_attribute("aria-invalid", "true")
    await expect(email).to_be_focused()
    described = await email.get_attribute("aria-describedby")
    error_id = [i for i in described.split() if i.endswith("-error")][0]
    await expect(page.locator(f"#{error_id}")).to_have_text("Enter an email address like name@example.com.")
    status = page.get_by_role("status").filter(has_text="correct the highlighted fields")
    await expect(status).to_be_visible()
    await goto(page, "/app/login")
    await page.get_by_label("Email").fill("nobody@example.com")
    await page.get_by_label("Password", exact=True).fill("wrong-password-123")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("status").filter(has_text="Error:")).to_contain_text("invalid_credentials")
