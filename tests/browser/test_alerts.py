"""Price alert screens in Chromium (docs/frontend.md "Alerts"): create alerts of several kinds through the
form (with its client-side and server-side field errors), list and delete them, and when a trade crosses
one, the in-app notification (toast, unread badge, list) and the triggered history - without a reload.

The trades are placed by two other traders through the HTTP API, as anybody else in the market would.
"""
from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.flows import goto, sign_in
from tests.e2e.trading.kit import make_trader, place_ok
from tests.support.factories import DEFAULT_PASSWORD, create_user

pytestmark = pytest.mark.browser


async def cross(url: str, maker, taker, price: str) -> None:
    """One trade at `price` on BTC-USDT."""
    async with httpx.AsyncClient(base_url=url) as c:
        await place_ok(c, maker, side="sell", price=price, quantity="0.01")
        await place_ok(c, taker, side="buy", price=price, quantity="0.01")


async def test_create_list_delete_and_get_notified_when_an_alert_fires(new_page, db, settings, live_server):
    await create_user(db, email="watcher@example.com")
    maker = await make_trader(db, settings, {"BTC": "5", "USDT": "1000000"})
    taker = await make_trader(db, settings, {"BTC": "5", "USDT": "1000000"})
    await cross(live_server.url, maker, taker, "50000")          # the market's last price

    page = (await new_page()).page
    await sign_in(page, "watcher@example.com", DEFAULT_PASSWORD)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Price alerts")
    form = page.get_by_role("form", name="New alert")
    mine = page.get_by_role("region", name="My alerts")
    history = page.get_by_role("region", name="Triggered alerts")
    await expect(history).to_contain_text("No alert has fired yet.")

    # A missing level is refused next to its field, before anything is sent.
    await form.get_by_label("Market").select_option("BTC-USDT")
    await form.get_by_role("button", name="Create alert").click()
    level = form.get_by_label("Price level")
    await expect(level).to_have_attribute("aria-invalid", "true")
    await expect(level).to_be_focused()
    # The server's refusal (a level 100x away from the last price) lands on the same field.
    await level.fill("9000000")
    await form.get_by_role("button", name="Create alert").click()
    await expect(form.get_by_role("status")).to_contain_text("alert_price_out_of_range")
    await expect(level).to_have_attribute("aria-invalid", "true")

    # A price alert that will fire, an RSI alert and a % change alert (the form follows the condition).
    await level.fill("51000")
    await form.get_by_label("Note (optional)").fill("take profit")
    await form.get_by_role("button", name="Create alert").click()
    await expect(form.get_by_role("status")).to_contain_text(re.compile(r"Alert #\d+ created: BTC-USDT traded at or above 51000"))
    await form.get_by_label("Condition").select_option("rsi")
    await expect(level).to_be_hidden()
    await form.get_by_label("RSI level").fill("70")
    await form.get_by_label("Candle interval").select_option("15m")
    await form.get_by_role("button", name="Create alert").click()
    await expect(form.get_by_role("status")).to_contain_text(re.compile(r"Alert #\d+ created: .*RSI"))
    await form.get_by_label("Condition").select_option("change")
    await expect(form.get_by_label("Direction")).to_have_value("up")
    await form.get_by_label("Direction").select_option("down")
    await form.get_by_label("Change (%)").fill("5")
    await form.get_by_label("Over the last").select_option("1h")
    await form.get_by_role("button", name="Create alert").click()
    await expect(form.get_by_role("status")).to_contain_text(re.compile(r"Alert #\d+ created"))
    await expect(mine.get_by_role("row")).to_have_count(4)     # header + 3 alerts

    # Delete the % change alert.
    await mine.get_by_role("button", name=re.compile(r"^Delete alert #\d+: BTC-USDT fell 5%")).click()
    await expect(mine.get_by_role("status")).to_contain_text(re.compile(r"Alert #\d+ deleted"))
    await expect(mine.get_by_role("row")).to_have_count(3)
    assert await db.fetchval("SELECT count(*) FROM trade.price_alert WHERE status = 'active'") == 2

    # A trade crosses 51000: the notification appears on this page, without a reload.
    bell = page.get_by_role("button", name=re.compile("^Notifications"))
    await expect(bell).to_have_accessible_name("Notifications")
    await cross(live_server.url, maker, taker, "51000")
    toast = page.locator(".toast")
    await expect(toast).to_contain_text("BTC-USDT traded at or above 51000", timeout=25_000)
    await expect(toast).to_contain_text("take profit")
    await expect(bell).to_have_accessible_name("Notifications, 1 unread")
    await expect(page.locator("#alert-announcer")).to_contain_text("51000")
    await expect(history.get_by_role("row")).to_have_count(2)
    await expect(history).to_contain_text("51,000")
    await mine.get_by_label("Show").select_option("triggered")
    await expect(mine).to_contain_text("triggered")
    # The list under the bell; opening it marks the firing read. Escape closes it.
    await bell.click()
    await expect(bell).to_have_attribute("aria-expanded", "true")
    panel = page.locator("#notifications-panel")
    await expect(panel).to_contain_text("BTC-USDT traded at or above 51000")
    await expect(bell).to_have_accessible_name("Notifications")
    await panel.get_by_role("link", name="All alerts and their history").focus()
    await page.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await expect(bell).to_be_focused()
    # The toast can be dismissed.
    await toast.get_by_role("button", name="Dismiss notification").click()
    await expect(toast).to_have_count(0)
    # A second crossing of the one-shot alert notifies nobody.
    await cross(live_server.url, maker, taker, "50000")
    await cross(live_server.url, maker, taker, "51500")
    await page.wait_for_timeout(1500)
    assert await db.fetchval("SELECT count(*) FROM trade.price_alert_event") == 1


async def test_the_trade_page_links_to_its_alerts(new_page, db):
    await create_user(db, email="linker@example.com")
    page = (await new_page()).page
    await sign_in(page, "linker@example.com", DEFAULT_PASSWORD)
    await goto(page, "/app/trade/ETH-BTC")
    await page.get_by_role("link", name="Set a price alert").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Price alerts")
    await expect(page.get_by_role("form", name="New alert").get_by_label("Market")).to_have_value("ETH-BTC")
