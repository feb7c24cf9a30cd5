"""The critical user journeys, end to end through the real web app in Chromium.

register -> confirm email from the dev mailbox -> sign in -> funds (faucet and the chain simulator)
-> limit order -> a second user's crossing order executes it -> both see the trade, the history and
their new balances; cancelling an order; 2FA enrolment and sign-in with a code; a withdrawal that an
administrator approves; a market halt.
"""
from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.flows import (create_admin, expect_available, faucet, goto, register_and_sign_in, sign_in,
                                 sign_up, totp_code)
from tests.support.factories import create_user

pytestmark = pytest.mark.browser


async def test_sign_up_fund_trade_and_history(new_page, settings):
    alice = (await new_page()).page
    bob = (await new_page()).page

    # Alice: sign-up, email confirmation through the dev mailbox, sign-in, faucet.
    await register_and_sign_in(alice, "alice@example.com")
    await faucet(alice, "USDT", "10000")
    await expect_available(alice, "USDT", "10,000")

    # Bob: the same, but his coins arrive as a (simulated) on-chain deposit to his deposit address.
    await register_and_sign_in(bob, "bob@example.com")
    await goto(bob, "/app/wallet")
    await expect(bob.locator("#deposit-address")).to_have_text(re.compile(r"^bcrt1q"))
    sim = bob.get_by_role("form", name="Simulate a deposit")
    await sim.get_by_label("Amount").fill("0.5")
    await sim.get_by_role("button", name="Simulate deposit").click()
    await expect(sim.get_by_role("status")).to_contain_text("Simulated deposit of 0.5 BTC")
    await expect_available(bob, "BTC", "0.5")
    deposits = bob.get_by_role("table", name="Recent deposits")
    await expect(deposits).to_contain_text("2 of 2")

    # Alice places a limit buy: the form shows the rules and the order value.
    await goto(alice, "/app/trade/BTC-USDT")
    form = alice.get_by_role("region", name="Place order")
    await form.get_by_label("Price (USDT)", exact=True).fill("50000")
    await form.get_by_label("Quantity (BTC)", exact=True).fill("0.01")
    await expect(form).to_contain_text("Order value: 500 USDT")
    await form.get_by_role("button", name="Buy BTC").click()
    await expect(form.get_by_role("status").first).to_contain_text(re.compile(r"Buy limit order #\d+: new"))
    open_orders = alice.get_by_role("tabpanel", name="Open orders")
    await expect(open_orders).to_contain_text("50,000.00")

    # The order is on the public book (Bob sees it on his page, refreshed live).
    await goto(bob, "/app/trade/BTC-USDT")
    bid = bob.get_by_role("button", name=re.compile(r"^Bid 50,000\.00 USDT"))
    await expect(bid).to_be_visible()
    # Bob clicks the bid to copy its price, then sells into it.
    await bid.click()
    bform = bob.get_by_role("region", name="Place order")
    await expect(bform.get_by_label("Price (USDT)", exact=True)).to_have_value("50000")
    await bform.get_by_text("Sell", exact=True).click()
    await bform.get_by_label("Quantity (BTC)", exact=True).fill("0.01")
    await bform.get_by_role("button", name="Sell BTC").click()
    await expect(bform.get_by_role("status").first).to_contain_text(re.compile(r"Sell limit order #\d+: filled, 0.01 of 0.01 BTC filled"))

    # Alice is told about the execution (live region), and sees it in her history and balances.
    await expect(alice.locator("#trade-events")).to_contain_text("Trade executed: bought 0.01 BTC at 50,000 USDT", timeout=15_000)
    await alice.get_by_role("tab", name="Trade history").click()
    trades = alice.get_by_role("tabpanel", name="Trade history")
    await expect(trades).to_contain_text("50,000.00")
    await expect(trades).to_contain_text("Maker")
    await alice.get_by_role("tab", name="Order history").click()
    await expect(alice.get_by_role("tabpanel", name="Order history")).to_contain_text("filled")
    await expect(alice.get_by_role("table", name="Latest BTC/USDT trades, newest first")).to_contain_text("50,000.00")

    await goto(alice, "/app/wallet")
    await expect_available(alice, "BTC", "0.01")
    await expect_available(alice, "USDT", "9,499.6")  # 500 + 0.08% maker fee
    await goto(bob, "/app/wallet")
    await expect_available(bob, "BTC", "0.49")
    await expect_available(bob, "USDT", "499.5")      # 500 - 0.1% taker fee
    history = bob.get_by_role("region", name="History")
    await expect(history).to_contain_text("trade")
    await expect(history).to_contain_text("deposit")
    csv = history.get_by_role("link", name="Download CSV")
    async with bob.expect_download() as info:
        await csv.click()
    download = await info.value
    content = open(await download.path(), encoding="utf-8").read()
    assert content.splitlines()[0].startswith("time,type,asset,amount")
    assert ",deposit,BTC,0.5," in content


async def test_cancel_an_open_order(new_page):
    page = (await new_page()).page
    await register_and_sign_in(page, "carol@example.com")
    await faucet(page, "USDT", "1000")
    await goto(page, "/app/trade/BTC-USDT")
    form = page.get_by_role("region", name="Place order")
    await form.get_by_label("Price (USDT)", exact=True).fill("20000")
    await form.get_by_label("Quantity (BTC)", exact=True).fill("0.001")
    await form.get_by_role("button", name="Buy BTC").click()
    await expect(form.get_by_role("status").first).to_contain_text("new")
    cancel = page.get_by_role("button", name=re.compile(r"^Cancel buy order #\d+ at 20,000"))
    await cancel.click()
    mine = page.get_by_role("region", name="My orders and trades")
    await expect(mine.get_by_role("status").last).to_contain_text(re.compile(r"Order #\d+ cancelled"))
    await expect(page.get_by_role("tabpanel", name="Open orders")).to_contain_text("No open orders.")
    await goto(page, "/app/wallet")
    await expect_available(page, "USDT", "1,000")  # the hold was released


async def test_place_and_cancel_a_stop_limit_order(new_page):
    page = (await new_page()).page
    await register_and_sign_in(page, "stopper@example.com")
    await faucet(page, "USDT", "1000")
    await goto(page, "/app/trade/BTC-USDT")
    form = page.get_by_role("region", name="Place order")
    stop = form.get_by_label("Stop price (USDT)", exact=True)
    await expect(stop).to_be_hidden()
    await form.get_by_text("Stop-limit", exact=True).click()
    await stop.fill("60000")
    await form.get_by_label("Price (USDT)", exact=True).fill("60100")
    await form.get_by_label("Quantity (BTC)", exact=True).fill("0.001")
    await expect(form).to_contain_text("placed as a limit order when a trade at 60000 USDT or higher")
    await form.get_by_role("button", name="Buy BTC").click()
    await expect(form.get_by_role("status").first).to_contain_text(re.compile(r"stop-limit order #\d+: untriggered"))
    open_orders = page.get_by_role("tabpanel", name="Open orders")
    await expect(open_orders).to_contain_text("stop limit, stop 60,000")
    await expect(open_orders).to_contain_text("untriggered")
    await page.get_by_role("button", name=re.compile(r"^Cancel buy order #\d+ at 60,100")).click()
    await expect(open_orders).to_contain_text("No open orders.")
    await goto(page, "/app/wallet")
    await expect_available(page, "USDT", "1,000")  # the hold taken at placement was released


async def test_client_side_validation_of_tick_lot_and_format(new_page):
    page = (await new_page()).page
    await register_and_sign_in(page, "dave@example.com")
    await goto(page, "/app/trade/BTC-USDT")
    form = page.get_by_role("region", name="Place order")
    price = form.get_by_label("Price (USDT)", exact=True)
    qty = form.get_by_label("Quantity (BTC)", exact=True)
    await price.fill("50000.001")
    await qty.fill("1e-3")
    await form.get_by_role("button", name="Buy BTC").click()
    await expect(price).to_have_attribute("aria-invalid", "true")
    await expect(form).to_contain_text("multiple of the tick size 0.01 USDT")
    await expect(price).to_be_focused()
    await price.fill("50000")
    await form.get_by_role("button", name="Buy BTC").click()
    await expect(qty).to_have_attribute("aria-invalid", "true")
    await expect(form).to_contain_text("Use digits with an optional decimal point")
    await qty.fill("0.000015")
    await form.get_by_role("button", name="Buy BTC").click()
    await expect(form).to_contain_text("multiple of the lot size 0.00001 BTC")
    await qty.fill("0.00001")
    await form.get_by_role("button", name="Buy BTC").click()
    await expect(form).to_contain_text("below the minimum of 5 USDT")
    # Nothing reached the server: no order exists.
    await expect(page.get_by_role("tabpanel", name="Open orders")).to_contain_text("No open orders.")


async def test_two_factor_withdrawal_and_admin_approval(new_page, db):
    user = (await new_page()).page
    await register_and_sign_in(user, "erin@example.com")

    # Enrol 2FA: the secret, the otpauth URI and a QR code are shown; a code turns it on.
    await goto(user, "/app/account")
    await user.get_by_role("button", name="Set up two-factor authentication").click()
    secret = (await user.locator("#totp-secret").inner_text()).strip()
    await expect(user.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    await user.get_by_text("Setup URI (otpauth)").click()
    await expect(user.locator("#totp-uri")).to_contain_text("otpauth://totp/")
    await user.get_by_label("Code from your authenticator app").fill(totp_code(secret))
    await user.get_by_role("button", name="Turn on 2FA").click()
    codes = user.locator("#recovery-codes li")
    await expect(codes.first).to_be_visible()
    recovery = [c.strip() for c in await codes.all_inner_texts()]
    assert len(recovery) >= 5
    await user.get_by_role("button", name="I saved them").click()
    await expect(user.locator("#totp-state")).to_have_text("On")

    # Sign out, then sign in again: the form asks for the code (next time step: never a replay).
    await user.get_by_role("button", name="Sign out", exact=True).click()
    await expect(user.get_by_role("heading", level=1)).to_have_text("Sign in")
    await sign_in(user, "erin@example.com", totp_code=totp_code(secret, 1))

    # Withdraw more than the auto-approval limit: 2FA (a recovery code) required, admin must approve.
    await faucet(user, "BTC", "1")
    form = user.get_by_role("form", name="Withdrawal request")
    await form.get_by_label("Asset to withdraw").select_option("BTC")
    await form.get_by_label("Destination address").fill("bcrt1q" + "q" * 38)
    await form.get_by_label("Amount").fill("0.6")
    await expect(form).to_contain_text("total deducted 0.60002 BTC")
    await form.get_by_role("button", name="Request withdrawal").click()
    await expect(form.get_by_label("Two-factor code")).to_have_attribute("aria-invalid", "true")
    await form.get_by_label("Two-factor code").fill(recovery[0])
    await form.get_by_role("button", name="Request withdrawal").click()
    await expect(form.get_by_role("status")).to_contain_text(re.compile(r"Withdrawal #\d+ of 0.6 BTC requested: requested"))
    await expect_available(user, "BTC", "0.39998")

    # The administrator approves it; the chain simulator then broadcasts it.
    password = await create_admin(db, "admin@example.com")
    admin = (await new_page()).page
    await sign_in(admin, "admin@example.com", password)
    await admin.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    await expect(admin.get_by_role("heading", level=1)).to_have_text("Administration")
    approve = admin.get_by_role("button", name=re.compile(r"^Approve withdrawal #\d+ of 0.6 BTC"))
    await approve.click()
    await expect(admin.get_by_role("region", name="Withdrawals").get_by_role("status")).to_contain_text("approved")
    withdrawals = user.get_by_role("table", name="Recent withdrawals")
    await expect(withdrawals).to_contain_text(re.compile("broadcast|confirmed"), timeout=20_000)

    # Market halt and resume from the admin page.
    markets = admin.get_by_role("region", name="Markets")
    await markets.get_by_role("button", name="Halt ETH-BTC").click()
    await expect(markets.get_by_role("status")).to_contain_text("ETH-BTC is now halted")
    await goto(user, "/app/trade/ETH-BTC")
    await expect(user.get_by_text("Trading is halted in this market")).to_be_visible()
    await markets.get_by_role("button", name="Resume ETH-BTC").click()
    await expect(markets.get_by_role("status")).to_contain_text("ETH-BTC is now trading")


async def test_non_admin_cannot_see_admin_and_session_refresh_and_logout(new_page, db):
    await create_user(db, email="frank@example.com")
    w = await new_page()
    page = w.page
    from tests.support.factories import DEFAULT_PASSWORD

    await sign_in(page, "frank@example.com", DEFAULT_PASSWORD)
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Admin")).to_have_count(0)
    await goto(page, "/app/admin")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Administrators only")

    # The access cookie is gone (as after it expires): the app refreshes the session and carries on.
    cookies = await page.context.cookies()
    assert {c["name"] for c in cookies} >= {"mc_access", "mc_refresh", "mc_csrf"}
    assert all(c["httpOnly"] for c in cookies if c["name"] in ("mc_access", "mc_refresh"))
    await page.context.clear_cookies(name="mc_access")
    await goto(page, "/app/wallet")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Wallet")
    await expect(page.get_by_role("region", name="Balances")).to_contain_text("BTC")
    assert "mc_access" in {c["name"] for c in await page.context.cookies()}

    # Sign out: the cookies are cleared and private pages send you to sign in.
    await page.get_by_role("button", name="Sign out", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    names = {c["name"] for c in await page.context.cookies()}
    assert not names & {"mc_access", "mc_refresh", "mc_csrf"}
    await goto(page, "/app/wallet")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert "next=%2Fapp%2Fwallet" in page.url


async def test_forgot_and_reset_password(new_page, settings):
    page = (await new_page()).page
    await sign_up(page, "gina@example.com")
    await goto(page, "/app/forgot-password")
    await page.get_by_label("Email").fill("gina@example.com")
    await page.get_by_role("button", name="Send reset link").click()
    await expect(page.get_by_role("status")).to_contain_text("If that account exists")
    await page.get_by_role("link", name="dev mailbox", exact=True).click()
    link = page.locator("article", has_text="gina@example.com").locator("a[href*='reset-password']").first
    for _ in range(60):
        if await link.count():
            break
        await page.wait_for_timeout(300)
        await page.reload()
    href = await link.get_attribute("href")
    token = href.split("token=", 1)[1]
    # The app's own reset page (the emailed link's server page works too; this one is the SPA's).
    await goto(page, f"/app/reset-password?token={token}")
    await page.get_by_label("New password", exact=True).fill("quiet-meadow-copper-kettle-17")
    await page.get_by_label("Repeat the new password").fill("quiet-meadow-copper-kettle-17")
    await page.get_by_role("button", name="Set password").click()
    await expect(page.get_by_text("Your password was changed")).to_be_visible()
    await sign_in(page, "gina@example.com", "quiet-meadow-copper-kettle-17")
