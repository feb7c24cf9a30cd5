"""OWASP API3 (broken object property level authorization): excessive data exposure and mass assignment.

Exposure: after alice turns on 2FA and has API keys, every GET operation of the OpenAPI document is called
as alice, as bob and as an admin (with alice's ids where a path needs one); no answer - body or header -
may carry a password, a password hash, an API secret, a TOTP seed or recovery code, a stored ciphertext,
the server's JWT or data key, or (for alice and bob) the other user's email. The same secrets must not
appear in any log line the server wrote meanwhile (the server runs in this process: its records are
captured, formatted as production formats them, JSON lines).

Mass assignment: fields a client must never set (role, is_admin, email_verified, balance, fee, status,
user_id, filled amounts, ...) sent in every create/update body are refused or ignored - the database
shows what the server decided, not what the client asked for.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pyotp
import pytest

from mycrypto.common.logging import JsonFormatter
from tests.security.conftest import start_platform
from tests.support.factories import DEFAULT_PASSWORD

DOC = json.loads((Path(__file__).parents[2] / "docs/api/openapi.json").read_text())
BTC_ADDR = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
LEAKY_PASSWORD = "my-own-Pa55word-nobody-may-log"


@pytest.fixture
async def logged(db, db_dsn, caplog):
    caplog.set_level(logging.DEBUG)
    p = await start_platform(db, db_dsn, rate_limits_enabled=False, access_log=True)
    try:
        yield p
    finally:
        p.server.stop()


def _get_paths(ids: dict[str, str]) -> list[str]:
    paths = []
    for path, operations in DOC["paths"].items():
        if "get" not in operations:
            continue
        concrete = path
        for name, value in ids.items():
            concrete = concrete.replace("{" + name + "}", value)
        if "{" not in concrete:
            paths.append(concrete)
    return paths


async def test_no_secret_in_any_response_or_log_line(logged, caplog) -> None:
    p = logged
    alice, bob = p.alice, p.bob
    with p.client(headers=alice.bearer) as c:
        enroll = c.post("/api/v1/auth/2fa/enroll").json()
        totp_seed = enroll["secret"]
        codes = c.post("/api/v1/auth/2fa/confirm", json={"code": pyotp.TOTP(totp_seed).now()})
        assert codes.status_code == 200, codes.text
        recovery = codes.json()["recovery_codes"]
        order = c.post("/api/v1/trade/orders", json={"symbol": "BTC-USDT", "side": "sell", "type": "limit",
                                                     "price": "90000", "quantity": "0.01"}).json()
        # a failed sign-in and a password change attempt carry passwords in their bodies
        c.post("/api/v1/auth/login", json={"email": alice.email, "password": LEAKY_PASSWORD})
        c.post("/api/v1/auth/password", json={"current_password": LEAKY_PASSWORD, "new_password": LEAKY_PASSWORD})
    rows = await p.db.fetch("SELECT password_hash, totp_secret_enc FROM auth.app_user")
    key_rows = await p.db.fetch("SELECT secret_enc FROM auth.api_key")
    secrets = {
        "password": DEFAULT_PASSWORD, "leaky password": LEAKY_PASSWORD,
        "alice api secret": alice.api_secret, "bob api secret": bob.api_secret, "totp seed": totp_seed,
        "jwt secret": p.settings.jwt_secret.get_secret_value(),
        "data key": p.settings.data_encryption_key.get_secret_value(),
        **{f"recovery code {i}": code for i, code in enumerate(recovery)},
        **{f"password hash {i}": r["password_hash"] for i, r in enumerate(rows)},
        **{f"totp ciphertext {i}": r["totp_secret_enc"] for i, r in enumerate(rows) if r["totp_secret_enc"]},
        **{f"api key ciphertext {i}": r["secret_enc"] for i, r in enumerate(key_rows)},
    }
    ids = {"order_id": str(order.get("order_id", order.get("id"))), "symbol": "BTC-USDT", "asset": "BTC",
           "user_id": str(alice.id), "name": "sma"}
    seen = 0
    for who, user, other in (("alice", alice, bob), ("bob", bob, alice), ("admin", p.admin, None)):
        with p.client(headers=user.bearer) as c:
            for path in _get_paths(ids):
                answer = c.get(path)
                seen += 1
                text = answer.text + json.dumps(dict(answer.headers))
                assert answer.status_code < 500, (who, path, answer.text)
                for name, secret in secrets.items():
                    assert secret not in text, (who, path, name)
                if other is not None and not path.startswith("/api/v1/wallet/admin"):
                    assert other.email not in text, (who, path, "the other user's email")
    assert seen >= 3 * 40

    lines = [JsonFormatter().format(record) for record in caplog.records]
    assert any('"path":"/api/v1/auth/login"' in line for line in lines), "the access log was not captured"
    for line in lines:
        for name, secret in secrets.items():
            assert secret not in line, (name, line[:300])


async def test_log_injection_is_escaped(logged, caplog) -> None:
    """A newline in any input (path, query, header, JSON field) never starts a new log line."""
    p = logged
    forged = "\n2026-01-01T00:00:00Z INFO mycrypto.auth login ok user=admin"
    with p.client() as c:
        c.get("/api/v1/trade/markets/BTC%0AUSDT%0Aforged")
        c.get("/api/v1/trade/orders", params={"symbol": "BTC-USDT" + forged})
        c.post("/api/v1/auth/login", json={"email": "x@example.com" + forged, "password": forged})
        c.post("/api/v1/auth/forgot-password", json={"email": "alice@example.com" + forged})
        c.get("/api/v1/wallet/balances", headers={"Authorization": "Bearer abc%0Aforged",
                                                  "User-Agent": "ua" + forged.replace("\n", "%0A")})
    records = caplog.records
    assert records
    for record in records:
        assert "\n" not in record.getMessage() or record.exc_info, record.getMessage()
        line = JsonFormatter().format(record)
        assert "\n" not in line, line[:300]     # one record, one line: the newline is escaped (\\n)
        assert "login ok user=admin" not in line or "\\n" in line


async def test_mass_assignment_is_refused_or_ignored(logged) -> None:
    p = logged
    alice, bob = p.alice, p.bob
    privileged = {"role": "admin", "is_admin": True, "user_id": bob.id, "email_verified": True,
                  "status": "filled", "fee": "0", "fee_rate": "0", "balance": "1000000", "available": "1000000",
                  "filled_quantity": "0.01", "maker_fee_rate": "0", "taker_fee_rate": "0", "id": 1}
    with p.client() as c:
        # sign-up: no role, no pre-verified email
        r = c.post("/api/v1/auth/register", json={"email": "mallory@example.com", "password": "long enough pw 123",
                                                   **privileged})
        assert r.status_code in (202, 400, 422), r.text
        row = await p.db.fetchrow("SELECT role::text, email_verified_at FROM auth.app_user "
                                  "WHERE email = 'mallory@example.com'")
        assert row is None or (row["role"] == "user" and row["email_verified_at"] is None)
    with p.client(headers=alice.bearer) as c:
        before = await p.db.fetchval("SELECT count(*) FROM trade.spot_order WHERE user_id = $1", bob.id)
        r = c.post("/api/v1/trade/orders", json={"symbol": "BTC-USDT", "side": "sell", "type": "limit",
                                                 "price": "95000", "quantity": "0.02", **privileged})
        if r.status_code == 201:
            order = await p.db.fetchrow("SELECT user_id, status::text, filled_quantity FROM trade.spot_order "
                                        "WHERE id = $1", r.json().get("order_id", r.json().get("id")))
            assert order["user_id"] == alice.id and order["status"] == "new" and order["filled_quantity"] == 0
        else:
            assert r.status_code in (400, 422), r.text
        assert await p.db.fetchval("SELECT count(*) FROM trade.spot_order WHERE user_id = $1", bob.id) == before

        r = c.post("/api/v1/wallet/withdrawals", json={"asset": "BTC", "address": BTC_ADDR, "amount": "0.01",
                                                       **privileged})
        assert r.status_code in (400, 422), r.text      # wallet bodies forbid unknown fields
        r = c.post("/api/v1/wallet/faucet", json={"asset": "USDT", **privileged})
        assert r.status_code in (400, 403, 422), r.text
        r = c.post("/api/v1/auth/api-keys", json={"label": "x", "permissions": ["read", "admin"]})
        assert r.status_code == 422, r.text
        r = c.post("/api/v1/auth/api-keys", json={"label": "x", "user_id": bob.id})
        assert r.status_code == 422, r.text
        r = c.post("/api/v1/trade/alerts", json={"symbol": "BTC-USDT", "condition": {
            "type": "price", "direction": "above", "price": "99000"}, **privileged})
        if r.status_code == 201:
            owner = await p.db.fetchval("SELECT user_id FROM trade.price_alert WHERE id = $1", r.json()["alert_id"])
            assert owner == alice.id
        else:
            assert r.status_code in (400, 422), r.text
        me = c.get("/api/v1/auth/me").json()
        assert me["role"] == "user"
    # nobody became an admin
    assert await p.db.fetchval("SELECT count(*) FROM auth.app_user WHERE role = 'admin'") == 1
