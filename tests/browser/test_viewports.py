"""Layouts at phone, tablet and desktop sizes (Chromium only: Firefox and WebKit are not installed here).

At each size: nothing overflows sideways, the navigation and the main content are visible and
usable, touch targets are large enough, and the trade page uses 1, 2 or 3 columns.
"""
from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.flows import goto, sign_in
from tests.support.factories import DEFAULT_PASSWORD, create_user

pytestmark = pytest.mark.browser

COLUMNS = {"mobile": 1, "tablet": 2, "desktop": 3}
PAGES = ["/app/markets", "/app/trade/BTC-USDT", "/app/wallet", "/app/account", "/app/login"]

NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth + 1"
SMALL_TARGETS = """[...document.querySelectorAll('main button, header button, header a.btn, nav a')]
  .filter(e => e.offsetParent !== null)
  .map(e => [e.textContent.trim(), e.getBoundingClientRect()])
  .filter(([, r]) => r.height < 24 || r.width < 24)
  .map(([t, r]) => t + ' ' + Math.round(r.width) + 'x' + Math.round(r.height))"""


@pytest.mark.parametrize("viewport", ["mobile", "tablet", "desktop"])
async def test_layout_at_each_size(new_page, db, viewport):
    await create_user(db, email=f"{viewport}@example.com")
    w = await new_page(viewport)
    page = w.page
    await goto(page, "/app/login")
    await sign_in(page, f"{viewport}@example.com", DEFAULT_PASSWORD)
    for path in PAGES[:-1]:
        await goto(page, path)
        await expect(page.locator("main h1")).to_be_visible()
        await page.wait_for_timeout(400)
        assert await page.evaluate(NO_OVERFLOW), f"{path} scrolls sideways at {viewport}"
        nav = page.get_by_role("navigation", name="Main")
        await expect(nav.get_by_role("link", name="Markets")).to_be_in_viewport()
        small = await page.evaluate(SMALL_TARGETS)
        assert not small, f"{path} at {viewport}: targets under 24x24 px: {small}"
    await goto(page, "/app/trade/BTC-USDT")
    columns = await page.evaluate("getComputedStyle(document.querySelector('.trade-grid')).gridTemplateColumns.split(' ').length")
    assert columns == COLUMNS[viewport]
    await expect(page.get_by_role("button", name="Buy BTC")).to_be_visible()
    await page.get_by_role("button", name="Buy BTC").scroll_into_view_if_needed()
    await expect(page.get_by_role("button", name="Buy BTC")).to_be_in_viewport()
    # The candle chart fills its panel at every size.
    width = await page.evaluate("document.querySelector('canvas.chart').getBoundingClientRect().width")
    assert width > 200


@pytest.mark.parametrize("viewport", ["mobile", "desktop"])
async def test_public_pages_fit_without_sign_in(new_page, viewport):
    page = (await new_page(viewport)).page
    for path in ["/app/markets", "/app/trade/ETH-BTC", "/app/register", "/app/login"]:
        await goto(page, path)
        await expect(page.locator("main h1")).to_be_visible()
        assert await page.evaluate(NO_OVERFLOW), f"{path} scrolls sideways at {viewport}"
