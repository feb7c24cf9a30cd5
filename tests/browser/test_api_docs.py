"""The API reference (/api/docs) works offline, under the web app's strict CSP.

The browser test cuts the network off: every request that does not go to the loopback server is
aborted (and recorded). The reference must still render every operation of the OpenAPI document,
and open one; no request may have tried to leave the machine; no CSP violation, no console error.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.async_api import expect

from mycrypto.common.http import CONTENT_SECURITY_POLICY

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def operations(document: dict) -> set[str]:
    return {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item
            if method in METHODS}


# Each rendered operation as "METHOD /path" (an operation with two tags is shown under both).
RENDERED = """[...document.querySelectorAll('.opblock .opblock-summary')].map((s) =>
  s.querySelector('.opblock-summary-method').textContent.trim() + ' ' +
  s.querySelector('.opblock-summary-path').getAttribute('data-path'))"""


@pytest.mark.browser
async def test_reference_renders_every_operation_with_the_network_cut_off(new_page, live_server):
    w = await new_page("desktop")
    page = w.page
    left_the_machine: list[str] = []

    async def only_loopback(route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost", "::1"):
            await route.continue_()
        else:
            left_the_machine.append(route.request.url)
            await route.abort("internetdisconnected")

    await page.context.route("**/*", only_loopback)
    response = await page.goto("/api/docs")
    assert response.status == 200
    document = await (await page.request.get("/api/openapi.json")).json()
    expected = operations(document)
    assert len(expected) > 50

    await expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
    assert set(await page.evaluate(RENDERED)) == expected
    place = page.locator(".opblock-post", has=page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/v1/trade/orders$")))
    await expect(place.locator(".opblock-summary-description")).to_have_text("Place an order")
    await place.locator(".opblock-summary-control").click()
    body = place.locator(".opblock-section-request-body")
    await expect(body).to_be_visible()
    await expect(body).to_contain_text('"symbol": "BTC-USDT"')   # the schema's example, rendered
    assert left_the_machine == []
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY   # the web app's policy


async def test_docs_page_and_assets_are_ours(client):
    page = await client.get("/api/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY and "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text), "inline script"
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text), "an asset from another origin"
    for path, ctype, marker in [("/api/docs/init.js", "text/javascript", "SwaggerUIBundle("),
                                ("/api/docs/assets/swagger-ui-bundle.js", "text/javascript", "SwaggerUIBundle"),
                                ("/api/docs/assets/swagger-ui.css", "text/css", ".swagger-ui")]:
        r = await client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith(ctype) and marker in r.text, path
    for path in ["/api/docs/assets/redoc.standalone.js", "/api/docs/assets/..%2f__init__.py",
                 "/api/docs/assets/favicon.png", "/api/docs/assets/"]:
        r = await client.get(path)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", path
