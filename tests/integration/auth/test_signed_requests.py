"""`authenticate_signed_request` as the Binance-compatible API uses it: a route of its own, form bodies,
query + body concatenation, permissions, and the distinct error codes."""
from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Request

from mycrypto.apps import create_app
from mycrypto.common.jsonresp import json_response
from mycrypto.container import get_container
from tests.conftest import make_settings
from tests.e2e.auth.helpers import fast_hash_settings
from tests.support.factories import bearer, create_user


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
async def binance_like(db_dsn, tmp_path):
    settings = make_settings(db_dsn, data_dir=tmp_path, **fast_hash_settings())
    app = create_app(settings, access_log=False)

    @app.post("/test-only/signed-order")
    async def order(request: Request):  # noqa: ANN202 - what the Binance team's route would do
        principal = await get_container(request).auth.authenticate_signed_request(request, permission="trade")
        form = await request.form()  # the body is still readable after verification
        return json_response({"user_id": principal.user_id, "api_key_id": principal.api_key_id,
                              "symbol": form.get("symbol"), "permissions": sorted(principal.permissions)})

    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            yield settings, app, client


async def _key(settings, app, client, permissions):  # noqa: ANN001, ANN202
    db = app.state.container.db
    user_id = await create_user(db)
    r = await client.post("/api/v1/auth/api-keys", json={"permissions": permissions}, headers=bearer(settings, user_id))
    assert r.status_code == 201, r.text
    return user_id, r.json()


async def test_form_body_and_query_are_signed_together(binance_like):
    settings, app, client = binance_like
    user_id, key = await _key(settings, app, client, ["read", "trade"])
    ts = int(time.time() * 1000)
    query = "symbol=BTCUSDT&side=BUY"
    body = urlencode({"quantity": "1", "price": "0.1", "recvWindow": 5000, "timestamp": ts})
    headers = {"X-MBX-APIKEY": key["api_key"], "Content-Type": "application/x-www-form-urlencoded"}
    # Binance: totalParams = query string + request body, no separator
    r = await client.post(f"/test-only/signed-order?{query}", content=f"{body}&signature={sign(key['secret'], query + body)}",
                          headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == user_id and r.json()["api_key_id"] == key["id"]
    # body only (ccxt style), signature in the body
    form = urlencode({"symbol": "ETHUSDT", "timestamp": ts})
    r = await client.post("/test-only/signed-order", content=f"{form}&signature={sign(key['secret'], form)}", headers=headers)
    assert r.status_code == 200 and r.json()["symbol"] == "ETHUSDT"
    # signing one body and sending another is refused
    r = await client.post("/test-only/signed-order",
                          content=f"{form.replace('ETHUSDT', 'BTCUSDT')}&signature={sign(key['secret'], form)}",
                          headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "signature_invalid"
    # two signatures are refused
    r = await client.post(f"/test-only/signed-order?signature={'0' * 64}",
                          content=f"{form}&signature={sign(key['secret'], form)}", headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "signature_invalid"


async def test_missing_permission_and_missing_key(binance_like):
    settings, app, client = binance_like
    _, key = await _key(settings, app, client, ["read"])
    form = urlencode({"symbol": "BTCUSDT", "timestamp": int(time.time() * 1000)})
    headers = {"X-MBX-APIKEY": key["api_key"], "Content-Type": "application/x-www-form-urlencoded"}
    r = await client.post("/test-only/signed-order", content=f"{form}&signature={sign(key['secret'], form)}", headers=headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    r = await client.post("/test-only/signed-order", content=f"{form}&signature={sign(key['secret'], form)}",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "api_key_missing"
