"""The live web app in Chromium (docs/frontend.md "Live updates"): screens update from the /ws streams,
without polling while connected, and recover (reconnect, book resync) after the socket dies.

- Two users in two browser contexts: A's resting order is filled by B's order; A's trade page shows the
  execution, the order leaving "Open orders", and the new balance, and A's wallet tab the new balance -
  with no request to the orders, trades or balances endpoints after the stream is up (no polling).
- The socket is killed in the page: the header says "Reconnecting…", the screens fall back to polling,
  then "Resyncing…" while the book is rebuilt from a REST snapshot plus buffered diffs, then "Live"; the
  rebuilt book equals the REST book after orders placed meanwhile.
"""
from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.flows import goto, sign_in
from tests.e2e.trading.kit import make_trader, place_ok
from tests.support.factories import DEFAULT_PASSWORD, create_user, fund

pytestmark = pytest.mark.browser

# Before the app's scripts: remember every WebSocket (so a test can kill it) and every text the
# connection indicator shows (states can be brief).
RECORD = """
window.__sockets = [];
window.__dropBookFrames = 0;   // > 0: that many book diffs are lost on their way (a gap)
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) { super(...args); window.__sockets.push(this); }
  addEventListener(type, listener, ...rest) {
    if (type !== 'message') return super.addEventListener(type, listener, ...rest);
    return super.addEventListener(type, (ev) => {
      if (window.__dropBookFrames > 0 && String(ev.data).includes('"stream":"book:')
          && String(ev.data).includes('"type":"data"')) { window.__dropBookFrames -= 1; return; }
      listener(ev);
    }, ...rest);
  }
};
window.__connStates = [];
new MutationObserver(() => {
  const el = document.getElementById('conn-state');
  if (el && !el.hidden) {
    const last = window.__connStates[window.__connStates.length - 1];
    if (last !== el.textContent) window.__connStates.push(el.textContent);
  }
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
"""
POLLED = re.compile(r"/api/v1/(trade/orders|trade/my-trades|wallet/balances|trade/trades/|trade/ticker|orderbook/)")


def count_requests(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if POLLED.search(r.url) else None)
    return seen


async def test_a_fill_by_another_user_shows_up_live_without_polling(new_page, db):
    a_id = await create_user(db, email="alice@example.com")
    b_id = await create_user(db, email="bob@example.com")
    await fund(db, a_id, "USDT", "10000")
    await fund(db, b_id, "BTC", "1")

    a = (await new_page()).page
    await a.context.add_init_script(RECORD)
    await sign_in(a, "alice@example.com", DEFAULT_PASSWORD)
    wallet = await a.context.new_page()
    await goto(wallet, "/app/wallet")
    await goto(a, "/app/trade/BTC-USDT")
    await expect(a.locator("#conn-state")).to_have_text("Live")
    form = a.get_by_role("region", name="Place order")
    await form.get_by_label("Price (USDT)", exact=True).fill("50000")
    await form.get_by_label("Quantity (BTC)", exact=True).fill("0.01")
    await form.get_by_role("button", name="Buy BTC").click()
    await expect(form.get_by_role("status").first).to_contain_text(re.compile(r"Buy limit order #\d+: new"))
    open_orders = a.get_by_role("tabpanel", name="Open orders")
    await expect(open_orders).to_contain_text("50,000")            # from the orders stream
    await expect(wallet.locator("#conn-state")).to_have_text("Live")
    await a.wait_for_timeout(1500)                                 # any catch-up load is done
    a_requests, wallet_requests = count_requests(a), count_requests(wallet)

    b = (await new_page()).page
    await sign_in(b, "bob@example.com", DEFAULT_PASSWORD)
    await goto(b, "/app/trade/BTC-USDT")
    b_form = b.get_by_role("region", name="Place order")
    await b_form.get_by_text("Sell", exact=True).click()
    await b_form.get_by_label("Price (USDT)", exact=True).fill("50000")
    await b_form.get_by_label("Quantity (BTC)", exact=True).fill("0.01")
    await b_form.get_by_role("button", name="Sell BTC").click()
    await expect(b_form.get_by_role("status").first).to_contain_text(re.compile(r"Sell limit order #\d+: filled"))

    # A sees the execution, the order gone from "Open orders", the trade and the new balance.
    await expect(a.locator("#trade-events")).to_contain_text("Trade executed: bought 0.01 BTC at 50,000 USDT", timeout=10_000)
    await expect(open_orders).to_contain_text("No open orders.")
    await expect(a.get_by_role("region", name="Recent trades")).to_contain_text("50,000")
    await a.get_by_role("tab", name="Trade history").click()
    await expect(a.get_by_role("tabpanel", name="Trade history")).to_contain_text("Maker")
    await form.get_by_text("Sell", exact=True).click()
    await expect(form).to_contain_text("Available: 0.01 BTC")
    # ... and the wallet tab its new BTC balance.
    row = wallet.get_by_role("region", name="Balances").get_by_role("row").filter(
        has=wallet.get_by_role("rowheader", name=re.compile("^BTC ")))
    await expect(row.get_by_role("cell").nth(0)).to_have_text("0.01")
    # None of it was polled.
    await a.wait_for_timeout(2500)                                 # longer than any polling interval used
    assert a_requests == [] and wallet_requests == [], (a_requests, wallet_requests)
    assert await a.evaluate("window.__sockets.length") == 1        # one socket for all of it


async def test_a_dropped_socket_reconnects_and_resyncs_the_book(new_page, db, settings, live_server):
    maker = await make_trader(db, settings, {"BTC": "10", "USDT": "1000000"})
    page = (await new_page()).page
    await page.context.add_init_script(RECORD)
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        for i in range(3):
            await place_ok(c, maker, side="sell", price=str(51000 + i * 100), quantity="0.1")
            await place_ok(c, maker, side="buy", price=str(49000 - i * 100), quantity="0.1")
        await goto(page, "/app/trade/BTC-USDT")
        state = page.locator("#conn-state")
        await expect(state).to_have_text("Live")
        book = page.get_by_role("region", name="Order book")
        await expect(book.get_by_role("button", name=re.compile("^Ask 51,000.00"))).to_be_visible()
        # Live diffs move the book.
        await place_ok(c, maker, side="sell", price="50900", quantity="0.2")
        await expect(book.get_by_role("button", name=re.compile("^Ask 50,900.00"))).to_be_visible()

        requests = count_requests(page)
        before = len(await page.evaluate("window.__connStates"))
        await page.evaluate("window.__sockets.forEach((s) => s.close())")
        await expect(state).to_have_text(re.compile("Reconnecting|Resyncing|Live"))
        # Changes while the socket is down (or coming back) are not lost.
        await place_ok(c, maker, side="sell", price="50800", quantity="0.3")
        await place_ok(c, maker, side="buy", price="49500", quantity="0.4")
        await expect(state).to_have_text("Live")
        await expect(book.get_by_role("button", name=re.compile("^Ask 50,800.00"))).to_be_visible()
        await expect(book.get_by_role("button", name=re.compile("^Bid 49,500.00"))).to_be_visible()
        states = await page.evaluate("window.__connStates")
        after = states[before:]
        assert "Reconnecting…" in after and "Resyncing…" in after[after.index("Reconnecting…"):], states
        assert after[-1] == "Live", states
        assert await page.evaluate("window.__sockets.length") == 2
        # The REST snapshot of the resync (with its seq) was read.
        assert any("orderbook/BTC-USDT?depth=200" in u for u in requests), requests

        # The rebuilt book is exactly the server's.
        rest = (await c.get("/api/v1/orderbook/BTC-USDT", params={"depth": 12})).json()
    shown = await page.evaluate("""(() => {
        const rows = (kind) => [...document.querySelectorAll(`.book-${kind}`)].map((r) =>
            [r.querySelector('button').dataset.price, r.children[1].textContent]);
        return {asks: rows('ask').reverse(), bids: rows('bid')};
    })()""")
    assert [p for p, _ in shown["asks"]] == [p for p, _ in rest["asks"]]
    assert [p for p, _ in shown["bids"]] == [p for p, _ in rest["bids"]]


async def test_wallet_and_account_follow_their_private_streams(new_page, db):
    """A withdrawal's progress and a sign-in elsewhere appear without a reload, balances and withdrawals
    without polling (the deposit list alone is still read every 10 s: detection has no event)."""
    user = await create_user(db, email="carol@example.com")
    await fund(db, user, "BTC", "1")
    page = (await new_page()).page
    await sign_in(page, "carol@example.com", DEFAULT_PASSWORD)
    account = await page.context.new_page()
    await goto(account, "/app/account")
    await goto(page, "/app/wallet")
    await expect(page.locator("#conn-state")).to_have_text("Live")
    await page.wait_for_timeout(1000)
    requests = count_requests(page)
    form = page.get_by_role("form", name="Withdrawal request")
    await form.get_by_label("Asset to withdraw").select_option("BTC")
    await form.get_by_label("Destination address").fill("bcrt1qqpzry9x8gf2tvdw0s3jn54khce6mua7lqpzry9")
    await form.get_by_label("Amount").fill("0.25")
    await form.get_by_role("button", name="Request withdrawal").click()
    await expect(form.get_by_role("status")).to_contain_text(re.compile(r"Withdrawal #\d+ of 0.25 BTC requested"))
    withdrawals = page.get_by_role("table", name="Recent withdrawals")
    await expect(withdrawals).to_contain_text("0.25")
    # The wallet processes it (approved, broadcast, confirmed): each status arrives on the transfers
    # stream, and the balance (0.25 + fee gone) on the balances stream - neither is polled.
    await expect(withdrawals).to_contain_text(re.compile("broadcast|confirmed"), timeout=20_000)
    row = page.get_by_role("region", name="Balances").get_by_role("row").filter(
        has=page.get_by_role("rowheader", name=re.compile("^BTC ")))
    await expect(row.get_by_role("cell").nth(0)).to_have_text(re.compile(r"^0\.7"))
    polled = [u for u in requests if "/wallet/balances" in u or "/wallet/withdrawals?" in u]
    assert polled == [], polled

    # A sign-in from another browser shows up in the account page's security log.
    logins = account.get_by_role("region", name="Security events").get_by_role("row").filter(has_text="login")
    await expect(logins).to_have_count(1)
    other = (await new_page()).page
    await sign_in(other, "carol@example.com", DEFAULT_PASSWORD)
    await expect(logins).to_have_count(2)


async def test_a_lost_book_diff_is_noticed_and_the_book_refetched(new_page, db, settings, live_server):
    maker = await make_trader(db, settings, {"BTC": "10", "USDT": "1000000"})
    page = (await new_page()).page
    await page.context.add_init_script(RECORD)
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        await place_ok(c, maker, side="sell", price="51000", quantity="0.1")
        await goto(page, "/app/trade/BTC-USDT")
        await expect(page.locator("#conn-state")).to_have_text("Live")
        book = page.get_by_role("region", name="Order book")
        await expect(book.get_by_role("button", name=re.compile("^Ask 51,000.00"))).to_be_visible()
        requests = count_requests(page)
        before = len(await page.evaluate("window.__connStates"))
        await page.evaluate("window.__dropBookFrames = 1")
        await place_ok(c, maker, side="sell", price="50500", quantity="0.1")     # its diff is lost
        await page.wait_for_function("window.__dropBookFrames === 0")
        await page.wait_for_timeout(300)
        # Nothing tells the page yet; the next diff's prev_seq does.
        await place_ok(c, maker, side="sell", price="50700", quantity="0.1")
        await expect(book.get_by_role("button", name=re.compile("^Ask 50,700.00"))).to_be_visible()
        await expect(book.get_by_role("button", name=re.compile("^Ask 50,500.00"))).to_be_visible()
    states = (await page.evaluate("window.__connStates"))[before:]
    assert "Resyncing…" in states and states[-1] == "Live", states
    assert any("orderbook/BTC-USDT?depth=200" in u for u in requests), requests
    assert await page.evaluate("window.__sockets.length") == 1        # a gap is not a reconnect
