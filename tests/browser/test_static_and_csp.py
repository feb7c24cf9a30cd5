"""How the frontend is served: deep links, safe static paths, strict CSP, and sources free of inline code.

These are plain HTTP tests (no browser): they guard the rules in docs/frontend.md for contributors.
"""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import mycrypto.web

STATIC = Path(mycrypto.web.__file__).parent / "static"


APP_ROUTES = ["/", "/app", "/app/markets", "/app/trade/BTC-USDT", "/app/wallet", "/app/reset-password?token=x"]
ASSETS = [("/static/js/app.js", "text/javascript"), ("/static/app.css", "text/css"),
          ("/static/js/pages/trade.js", "text/javascript"), ("/static/img/favicon.svg", "image/svg+xml"),
          ("/favicon.ico", "image/svg+xml")]
UNSAFE = ["/static/../api.py", "/static/%2e%2e/api.py", "/static/js/../../api.py", "/static/.hidden.js",
          "/static/js/missing.js", "/static/api.py", "/static/JS/app.js", "/static/js//app.js",
          "/static/" + "a/" * 5 + "x.js", "/static/index.html/x"]


async def test_serving_rules(client):
    for path in APP_ROUTES:
        await _check_shell(client, path)
    for path, ctype in ASSETS:
        r = await client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith(ctype)
        assert r.headers["x-content-type-options"] == "nosniff"
    for path in UNSAFE:
        r = await client.get(path)
        assert r.status_code == 404, path


async def _check_shell(client, path):
    r = await client.get(path)
    assert r.status_code == 200, path
    assert r.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/js/app.js"></script>' in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-cache"


def _sources(*suffixes: str) -> list[Path]:
    return [p for p in STATIC.rglob("*") if p.suffix in suffixes]


def test_no_inline_script_style_or_handlers_in_html():
    for path in _sources(".html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline <script> in {path}"
        assert "<style" not in text, f"<style> block in {path}"
        assert not re.search(r"\sstyle\s*=", text), f"style attribute in {path}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler in {path}"


def test_scripts_never_use_html_injection_eval_or_token_storage():
    for path in _sources(".js"):
        text = re.sub(r"//.*$", "", path.read_text(), flags=re.M)  # comments may name what is banned
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                       "localStorage", "sessionStorage", "setAttribute(\"style\"", "parseFloat(", "cssText"):
            assert banned not in text, f"{banned} in {path}"
        # Number() only in chart geometry (decimal.toNumberForChart), never for amounts sent back.
        if path.name != "decimal.js":
            assert "Number(" not in text or path.name in ("charts.js", "router.js"), f"Number( in {path}"


async def test_config_and_dev_helpers(client):
    r = await client.get("/web/config")
    assert r.status_code == 200
    cfg = r.json()
    assert cfg["dev_tools"] is True and cfg["faucet"] is True and cfg["mailbox_url"] == "/dev/mailbox"
    assert (await client.post("/web/qr", json={"text": "otpauth://totp/x?secret=AAAA"})).status_code == 401
    r = await client.post("/web/dev/deposit", json={"asset": "BTC", "address": "x", "amount": "1"})
    assert r.status_code == 401


async def test_qr_and_simulated_deposit_for_a_signed_in_user(client, db, settings):
    from tests.support.factories import bearer, create_user

    uid = await create_user(db)
    auth = bearer(settings, uid)
    r = await client.post("/web/qr", json={"text": "otpauth://totp/MyCrypto:a?secret=JBSWY3DPEHPK3PXP"}, headers=auth)
    assert r.status_code == 200
    assert r.json()["data_uri"].startswith("data:image/svg+xml;base64,")
    r = await client.post("/web/qr", json={"text": "https://evil.example"}, headers=auth)
    assert r.status_code == 422 and r.json()["error"]["code"] == "qr_unsupported"
    address = (await client.get("/api/v1/wallet/deposit-address/BTC", headers=auth)).json()["address"]
    r = await client.post("/web/dev/deposit", json={"asset": "BTC", "address": address, "amount": "1e3"}, headers=auth)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_amount"
    r = await client.post("/web/dev/deposit", json={"asset": "BTC", "address": address, "amount": "0.25"}, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["amount"] == "0.25" and r.json()["confirmations"] == 2
    # The wallet's background watcher (0.3 s here) confirms and credits it like any deposit.
    for _ in range(100):
        r = await client.get("/api/v1/wallet/balances/BTC", headers=auth)
        if r.json()["available"] != "0":
            break
        await asyncio.sleep(0.1)
    assert r.json()["available"] == "0.25"


async def test_simulated_deposit_is_404_when_the_simulator_is_off(db_dsn, db):
    from asgi_lifespan import LifespanManager
    import httpx

    from mycrypto.apps import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(db_dsn, chain_simulator=False), services=["frontend"], access_log=False)
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            cfg = (await c.get("/web/config")).json()
            assert cfg["chain_simulator"] is False
            from mycrypto.auth.tokens import issue_access_token

            from tests.support.factories import create_user

            uid = await create_user(db)
            token, _ = issue_access_token(app.state.container.settings, user_id=uid, role="user", session_id=None)
            r = await c.post("/web/dev/deposit", json={"asset": "BTC", "address": "x", "amount": "1"},
                             headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 404
