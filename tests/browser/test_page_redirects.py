"""A page's path typed without /app (/markets, /trade/BTC-USDT, /wallet) takes a browser to the app;
API clients asking for the same path still get the JSON 404 of any unknown path."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import expect

import mycrypto.web
from tests.browser.flows import ready

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
REDIRECTS = {"/markets": "/app/markets", "/trade/BTC-USDT": "/app/trade/BTC-USDT", "/wallet": "/app/wallet",
             "/account": "/app/account", "/login": "/app/login", "/trade": "/app/trade",
             "/reset-password?token=abc%2Bdef": "/app/reset-password?token=abc%2Bdef",
             "/trade/BTC%2FUSDT": "/app/trade/BTC%2FUSDT"}


def without_request_id(body: dict) -> dict:
    return {**body, "error": {k: v for k, v in body["error"].items() if k != "request_id"}}


async def test_browsers_are_redirected_api_clients_get_json_404(client):
    unknown = await client.get("/no-such-thing", headers=BROWSER)
    assert unknown.status_code == 404
    for path, target in REDIRECTS.items():
        r = await client.get(path, headers=BROWSER)
        assert (r.status_code, r.headers.get("location")) == (307, target), path
        assert (await client.head(path, headers=BROWSER)).status_code == 307
        for headers in ({}, {"accept": "application/json"}, {"accept": "*/*"}):
            r = await client.get(path, headers=headers)
            assert r.status_code == 404 and r.headers["content-type"] == "application/json", (path, headers)
            assert without_request_id(r.json()) == without_request_id(unknown.json())
        r = await client.post(path, headers=BROWSER, json={})
        assert r.status_code == 404 and without_request_id(r.json()) == without_request_id(unknown.json())
    # only the app's pages: an API path or an unknown one is never redirected
    for path in ["/api/v1/nothing", "/marketsx", "/static2/x", "/no-such-thing"]:
        r = await client.get(path, headers=BROWSER)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", path
    # the redirect stays on this origin whatever follows the page name
    for path in ["/markets//evil.example.com", "/trade/%2F%2Fevil.example.com", "/login/..%2F..%2Fx"]:
        location = (await client.get(path, headers=BROWSER)).headers["location"]
        assert location.startswith("/app/") and not location.startswith("//"), location


def test_app_pages_are_the_web_apps_routes():
    from mycrypto.web.api import APP_PAGES

    app_js = (Path(mycrypto.web.__file__).parent / "static" / "js" / "app.js").read_text()
    firsts = {m.group(1) for m in re.finditer(r'route\("/app/([a-z-]+)', app_js)}
    assert firsts == set(APP_PAGES)


@pytest.mark.browser
async def test_a_browser_lands_on_the_page(new_page):
    page = (await new_page("desktop")).page
    await page.goto("/trade/ETH-USDT")
    await ready(page)
    assert page.url.endswith("/app/trade/ETH-USDT")
    await expect(page.locator("main h1")).to_have_text("ETH/USDT")
    await page.goto("/markets")
    await ready(page)
    await expect(page.locator("main h1")).to_have_text("Markets")
