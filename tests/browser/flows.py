"""Steps the browser tests share: sign up through the UI, confirm the email, sign in, get funds.

Everything goes through the real pages (forms, links, the dev mailbox); the database is only used to
create an administrator (there is deliberately no UI to become one).
"""
from __future__ import annotations

import re
import time

import pyotp
from playwright.async_api import Page, expect

from tests.support.factories import DEFAULT_PASSWORD, create_user

PASSWORD = "violet-harbour-lantern-93"


async def ready(page: Page) -> None:
    await page.wait_for_selector("html[data-ready=true]")


async def goto(page: Page, path: str) -> None:
    await page.goto(path)
    await ready(page)


async def sign_up(page: Page, email: str, password: str = PASSWORD) -> None:
    """Register through the sign-up form and land on "Check your email"."""
    await goto(page, "/app/register")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_label("Repeat the password").fill(password)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    await expect(page.get_by_text(email)).to_be_visible()


async def confirm_email_via_dev_mailbox(page: Page, email: str) -> None:
    """Follow the app's link to the dev mailbox, wait for the email, click its confirmation link."""
    await page.get_by_role("link", name="dev mailbox", exact=True).click()
    await expect(page.get_by_role("heading", name="Development mailbox")).to_be_visible()
    link = page.locator("article", has_text=email).locator("a[href*='verify-email']").first
    deadline = time.monotonic() + 20
    while await link.count() == 0:  # the outbox relay delivers within a second or two
        assert time.monotonic() < deadline, "the verification email never arrived in the dev mailbox"
        await page.wait_for_timeout(300)
        await page.reload()
    await link.click()
    await expect(page.get_by_role("heading", name="Email confirmed")).to_be_visible()
    await page.get_by_role("link", name=re.compile("sign in", re.I)).click()
    await ready(page)


async def sign_in(page: Page, email: str, password: str = PASSWORD, totp_code: str | None = None) -> None:
    if not page.url.endswith("/app/login") and "/app/login?" not in page.url:
        await goto(page, "/app/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Sign in").click()
    if totp_code is not None:
        code = page.get_by_label("Two-factor code")
        await expect(code).to_be_visible()
        await expect(code).to_be_focused()
        await code.fill(totp_code)
        await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_visible()
    await expect(page.locator("#user-area")).to_contain_text(email)


async def register_and_sign_in(page: Page, email: str) -> None:
    await sign_up(page, email)
    await confirm_email_via_dev_mailbox(page, email)
    await sign_in(page, email)


async def faucet(page: Page, asset: str, amount: str) -> None:
    await goto(page, "/app/wallet")
    form = page.get_by_role("form", name="Test-funds faucet")
    await form.get_by_label("Asset").select_option(asset)
    await form.get_by_label("Amount (optional)").fill(amount)
    await form.get_by_role("button", name="Get test funds").click()
    await expect(form.get_by_role("status")).to_contain_text(re.compile(rf"Received [0-9,.]+ {asset}"))


async def balance_row(page: Page, asset: str):
    return page.get_by_role("region", name="Balances").get_by_role("row").filter(has=page.get_by_role("rowheader", name=re.compile(f"^{asset} ")))


async def expect_available(page: Page, asset: str, text: str, timeout: float = 15_000) -> None:
    """The wallet page's Available column for `asset` (formatted, e.g. "9,499.6")."""
    row = await balance_row(page, asset)
    await expect(row.get_by_role("cell").nth(0)).to_have_text(text, timeout=timeout)


def totp_code(secret: str, step_offset: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.at(time.time() + step_offset * totp.interval)


async def create_admin(db, email: str) -> str:
    """Administrators are made by operators (database/CLI), not through the web app."""
    await create_user(db, email=email, role="admin")
    return DEFAULT_PASSWORD
