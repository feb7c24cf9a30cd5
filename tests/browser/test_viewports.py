"""Layouts at phone, tablet, laptop (1280x720, 1366x768) and desktop sizes (Chromium only: Firefox and
WebKit are not installed here).

At each size, on every screen, with realistic data (a deep order book with long numbers, candles,
open orders, order and trade history, deposits, withdrawals, API keys): the layout audit
(`layout.js`) finds nothing sticking out of its container, no content cut off, no box scrolling
sideways (only wide tables inside their panel, on phones and tablets), no text on top of other text
and no canvas label overlapping another or cut off at the canvas' edge. The navigation and the main
content are visible and usable, touch targets are large enough, and the trade page uses 1, 2 or 3
columns. A self-check proves the audit notices each of those faults.
"""
from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.flows import goto, sign_in
from tests.e2e.trading.kit import make_trader, place_ok
from tests.support.factories import DEFAULT_PASSWORD, bearer, create_user, fund

pytestmark = pytest.mark.browser

HERE = Path(__file__).parent
LAYOUT_AUDIT = (HERE / "layout.js").read_text()
CANVAS_LABELS = (HERE / "canvas_labels.js").read_text()

SIZES = ["mobile", "tablet", "small-laptop", "laptop", "desktop"]
COLUMNS = {"mobile": 1, "tablet": 2, "small-laptop": 3, "laptop": 3, "desktop": 3}
SIGNED_IN_PAGES = ["/app/markets", "/app/trade/BTC-USDT", "/app/trade/ETH-BTC", "/app/wallet", "/app/alerts", "/app/account",
                   "/app/admin"]
GUEST_PAGES = ["/app/markets", "/app/trade/BTC-USDT", "/app/login", "/app/register", "/app/forgot-password",
               "/app/check-email?email=someone.with.a.long.address%40example.com",
               "/app/reset-password?token=abcdefghijkl", "/app/verify-email?token=abcdefghijkl", "/app/nowhere"]

SMALL_TARGETS = """[...document.querySelectorAll('main button, header button, header a.btn, nav a')]
  .filter(e => e.offsetParent !== null)
  .map(e => [e.textContent.trim(), e.getBoundingClientRect()])
  .filter(([, r]) => r.height < 24 || r.width < 24)
  .map(([t, r]) => t + ' ' + Math.round(r.width) + 'x' + Math.round(r.height))"""
BTC_ADDRESS = "bcrt1qqpzry9x8gf2tvdw0s3jn54khce6mua7lqpzry9"


# 2..120 intervals back (the current one belongs to the live trades), rising by 1 per interval.
CANDLE_HISTORY = """
INSERT INTO trade.candle (market_id, interval, open_time, open, high, low, close, volume, quote_volume,
                          trade_count, first_trade_id, last_trade_id)
SELECT m.id, v.name, date_bin(v.step, now(), '2000-01-01') - g * v.step, 50000 - g, 50100 - g, 49900 - g,
       50050 - g, 1.5, 75000, 3, 1, 3
FROM trade.market m,
     (VALUES ('1m', interval '1 minute'), ('1h', interval '1 hour'), ('1d', interval '1 day')) AS v(name, step),
     generate_series(2, 120) AS g
WHERE m.symbol = 'BTC-USDT'"""


async def busy_markets(url: str, db, settings, user_id: int) -> None:
    """Deep books with long numbers in two markets, trades (so candles), and the user's own orders,
    trades, a deposit, a withdrawal and an API key (so every table on every page has rows), and
    a long candle history (so the chart's time axis is full of labels)."""
    await db.execute(CANDLE_HISTORY)
    maker = await make_trader(db, settings, {"BTC": "3000", "ETH": "90000", "USDT": "90000000"})
    me = type(maker)(user_id, bearer(settings, user_id, role="admin"))
    for asset, amount in {"BTC": "30", "ETH": "300", "USDT": "3000000"}.items():
        await fund(db, user_id, asset, amount)
    async with httpx.AsyncClient(base_url=url) as c:
        for i in range(14):
            await place_ok(c, maker, side="sell", price=f"{51234.56 + i * 137.25:.2f}", quantity=f"{12.34567 + i * 7:.5f}")
            await place_ok(c, maker, side="buy", price=f"{49876.54 - i * 113.5:.2f}", quantity=f"{23.45678 + i * 9:.5f}")
            await place_ok(c, maker, symbol="ETH-BTC", side="sell", price=f"{0.05123 + i * 0.00021:.5f}",
                           quantity=f"{123.456 + i:.3f}")
            await place_ok(c, maker, symbol="ETH-BTC", side="buy", price=f"{0.04987 - i * 0.00019:.5f}",
                           quantity=f"{234.567 + i:.3f}")
        await place_ok(c, me, side="buy", type="market", quantity="1.23456")
        await place_ok(c, me, side="sell", type="market", quantity="2.5")
        await place_ok(c, me, symbol="ETH-BTC", side="buy", type="market", quantity="3.21")
        await place_ok(c, me, side="buy", price="45678.91", quantity="0.98765", client_order_id="a-long-client-id-1")
        await place_ok(c, me, side="sell", price="56789.12", quantity="1.5")
        address = (await c.get("/api/v1/wallet/deposit-address/BTC", headers=me.headers)).json()["address"]
        r = await c.post("/web/dev/deposit", json={"asset": "BTC", "address": address, "amount": "0.12345678"},
                         headers=me.headers)
        assert r.status_code < 300, r.text
        r = await c.post("/api/v1/wallet/withdrawals", json={"asset": "BTC", "address": BTC_ADDRESS, "amount": "0.25"},
                         headers={**me.headers, "Idempotency-Key": "viewport-1"})
        assert r.status_code == 201, r.text
        r = await c.post("/api/v1/auth/api-keys", json={"label": "my trading bot with a long label",
                                                      "permissions": ["read", "trade"]}, headers=me.headers)
        assert r.status_code == 201, r.text


async def settled(page, path: str) -> None:
    await expect(page.locator("main h1")).to_be_visible()
    if path.startswith("/app/trade/"):
        await expect(page.locator("canvas.chart:not(.depth)")).not_to_have_attribute("aria-label", re.compile("loading"))
        await expect(page.locator(".book table").first).to_be_visible()
    await page.wait_for_timeout(500)   # the first polls render their tables


async def layout_problems(page, size: str) -> list[str]:
    return await page.evaluate(LAYOUT_AUDIT, {"wideTablesMayScroll": size in ("mobile", "tablet")})


@pytest.mark.parametrize("size", SIZES)
async def test_every_screen_fits_at_each_size(new_page, db, settings, live_server, size):
    admin = await create_user(db, email=f"{size}@example.com", role="admin")
    await busy_markets(live_server.url, db, settings, admin)
    problems: dict[str, list[str]] = {}

    guest = (await new_page(size)).page
    await guest.context.add_init_script(CANVAS_LABELS)
    for path in GUEST_PAGES:
        await goto(guest, path)
        await settled(guest, path)
        if found := await layout_problems(guest, size):
            problems[f"guest {path}"] = found

    page = (await new_page(size)).page
    await page.context.add_init_script(CANVAS_LABELS)
    await goto(page, "/app/login")
    await sign_in(page, f"{size}@example.com", DEFAULT_PASSWORD)
    for path in SIGNED_IN_PAGES:
        await goto(page, path)
        await settled(page, path)
        if found := await layout_problems(page, size):
            problems[path] = found
        nav = page.get_by_role("navigation", name="Main")
        await expect(nav.get_by_role("link", name="Markets")).to_be_in_viewport()
        if small := await page.evaluate(SMALL_TARGETS):
            problems[f"{path} targets under 24x24 px"] = small
    # the trade page's other tabs (order history, trade history) fit too
    await goto(page, "/app/trade/BTC-USDT")
    await settled(page, "/app/trade/BTC-USDT")
    for tab in ["Order history", "Trade history"]:
        await page.get_by_role("tab", name=tab).click()
        await page.wait_for_timeout(300)
        if found := await layout_problems(page, size):
            problems[f"/app/trade/BTC-USDT {tab}"] = found
    # ... and so do the chart's other intervals (hours across days, daily candles)
    for interval in ["1 hour", "1 day"]:
        await page.get_by_role("button", name=interval, exact=True).click()
        await expect(page.locator("canvas.chart:not(.depth)")).to_have_attribute("aria-label", re.compile(interval))
        if found := await layout_problems(page, size):
            problems[f"/app/trade/BTC-USDT {interval} candles"] = found
    assert not problems, f"at {size}:\n" + "\n".join(f"{p}: {line}" for p, found in problems.items() for line in found)

    columns = await page.evaluate("getComputedStyle(document.querySelector('.trade-grid')).gridTemplateColumns.split(' ').length")
    assert columns == COLUMNS[size]
    await expect(page.get_by_role("button", name="Buy BTC")).to_be_visible()
    await page.get_by_role("button", name="Buy BTC").scroll_into_view_if_needed()
    await expect(page.get_by_role("button", name="Buy BTC")).to_be_in_viewport()
    # The candle chart fills its panel at every size.
    width = await page.evaluate("document.querySelector('canvas.chart').getBoundingClientRect().width")
    assert width > 200


async def test_the_layout_audit_notices_each_fault(new_page):
    page = (await new_page("laptop")).page
    await page.context.add_init_script(CANVAS_LABELS)
    await goto(page, "/app/login")
    await expect(page.locator("main h1")).to_be_visible()
    assert await layout_problems(page, "laptop") == []
    await page.evaluate("""(() => {
        const panel = document.createElement('section'); panel.className = 'panel'; panel.style.width = '200px';
        const wide = document.createElement('p'); wide.textContent = 'too wide'; wide.style.width = '400px';
        const clip = document.createElement('div'); clip.style.overflow = 'hidden'; clip.style.width = '50px';
        clip.style.whiteSpace = 'nowrap'; clip.textContent = 'this sentence is cut off';
        const scroller = document.createElement('div'); scroller.className = 'table-wrap'; scroller.style.width = '60px';
        const inner = document.createElement('div'); inner.style.width = '300px'; inner.textContent = 'scrolls';
        scroller.append(inner);
        const a = document.createElement('span'); a.textContent = 'first label';
        const b = document.createElement('span'); b.textContent = 'second label'; b.style.marginLeft = '-40px';
        panel.append(wide, clip, scroller, a, b);
        const canvas = document.createElement('canvas'); canvas.width = 200; canvas.height = 50;
        canvas.setAttribute('aria-label', 'test chart');
        panel.append(canvas);
        document.querySelector('main').append(panel);
        const ctx = canvas.getContext('2d');
        ctx.clearRect(0, 0, 200, 50);
        ctx.font = '11px sans-serif';
        ctx.fillText('2:49:00 PM', 100, 40);
        ctx.fillText('12/4/2026, 2:49:00 PM', 120, 40);
    })()""")
    found = " | ".join(await layout_problems(page, "laptop"))
    assert 'p "too wide" sticks out of section.panel' in found
    assert "cuts off its content" in found
    assert 'div.table-wrap "scrolls" scrolls sideways' in found
    assert 'text "first label" overlaps text "second label"' in found
    assert 'label "2:49:00 PM" overlaps label "12/4/2026, 2:49:00 PM"' in found
    assert 'label "12/4/2026, 2:49:00 PM" is cut off at the edge' in found
    # phones and tablets may scroll a wide table inside its panel
    assert "scrolls sideways" not in " | ".join(await layout_problems(page, "mobile"))
