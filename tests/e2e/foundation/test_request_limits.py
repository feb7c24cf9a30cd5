"""Request limits on every route family (issue 11: /api/v1/wallet and /api/v1/trade had none): per
credential for signed-in clients, per IP otherwise; 429 rate_limited with Retry-After; probes never."""
from __future__ import annotations

import pytest

from tests.conftest import make_settings
from tests.e2e.trading.kit import make_trader
from tests.e2e.wallet.helpers import started_app

ALL = ("auth", "wallet", "trade", "frontend")
TIGHT = {f: (0.01, 3) for f in ("auth", "wallet", "trade", "binance", "web", "site")}


@pytest.fixture
async def limited(db_dsn):
    settings = make_settings(db_dsn, request_limits=TIGHT, request_limits_per_ip=TIGHT)
    async for app, client in started_app(settings, ALL):
        yield settings, client


SIGNED_IN = [   # (family, method, path, body) with a bearer token
    ("auth", "GET", "/api/v1/auth/sessions", None),
    ("wallet", "GET", "/api/v1/wallet/balances", None),
    ("trade", "GET", "/api/v1/trade/orders/open", None),
    ("trade", "POST", "/api/v1/trade/orders", {"symbol": "BTC-USDT", "side": "buy", "type": "limit",
                                               "price": "50000", "quantity": "0.001"}),   # the fast path
    ("web", "POST", "/web/qr", {"text": "otpauth://totp/x?secret=AAAA"}),
]
ANONYMOUS = [   # (family, path): per IP
    ("trade", "/api/v1/orderbook/BTC-USDT"),
    ("trade", "/api/v1/trade/ticker"),
    ("wallet", "/api/v1/wallet/assets"),
    ("binance", "/api/v3/ping"),
    ("web", "/web/config"),
    ("site", "/"),
]


def _assert_limited(r, family: str) -> None:
    assert r.status_code == 429, (family, r.status_code, r.text)
    err = r.json()["error"]
    assert err["code"] == "rate_limited" and err["request_id"] and err["details"]["family"] == family
    assert int(r.headers["retry-after"]) >= 1 and err["details"]["retry_after"] == int(r.headers["retry-after"])
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-request-id"]


@pytest.mark.parametrize("family, method, path, body", SIGNED_IN, ids=[p for _, _, p, _ in SIGNED_IN])
async def test_every_signed_in_family_is_limited_per_credential(limited, db, family, method, path, body):
    settings, client = limited
    alice = await make_trader(db, settings, {"USDT": "100000"})
    bob = await make_trader(db, settings, {"USDT": "100000"})
    for _ in range(3):
        r = await client.request(method, path, json=body, headers=alice.headers)
        assert r.status_code != 429, r.text
    _assert_limited(await client.request(method, path, json=body, headers=alice.headers), family)
    # another user (another credential) from the same address has a bucket of their own
    r = await client.request(method, path, json=body, headers=bob.headers)
    assert r.status_code != 429, r.text


@pytest.mark.parametrize("family, path", ANONYMOUS, ids=[p for _, p in ANONYMOUS])
async def test_every_public_family_is_limited_per_ip(limited, family, path):
    _, client = limited
    for _ in range(3):
        assert (await client.get(path)).status_code != 429
    _assert_limited(await client.get(path), family)


async def test_probes_are_never_limited_and_families_are_separate(limited, db):
    settings, client = limited
    for _ in range(10):
        assert (await client.get("/health/live")).status_code == 200
    trader = await make_trader(db, settings)
    for _ in range(3):
        await client.get("/api/v1/wallet/balances", headers=trader.headers)
    assert (await client.get("/api/v1/wallet/balances", headers=trader.headers)).status_code == 429
    assert (await client.get("/api/v1/trade/orders/open", headers=trader.headers)).status_code == 200


async def test_limits_are_off_with_rate_limits_disabled(db_dsn):
    settings = make_settings(db_dsn, rate_limits_enabled=False, request_limits=TIGHT, request_limits_per_ip=TIGHT)
    async for _, client in started_app(settings, ("wallet",)):
        for _ in range(10):
            assert (await client.get("/api/v1/wallet/assets")).status_code == 200


def test_unknown_families_and_bad_limits_are_configuration_errors():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        make_settings("postgresql://u@h/d", request_limits={"wallets": (1, 1)})
    with pytest.raises(ValidationError):
        make_settings("postgresql://u@h/d", request_limits={"wallet": (0, 1)})
    defaults = make_settings("postgresql://u@h/d")
    assert defaults.request_limits["trade"][0] >= 100 and defaults.request_limits_per_ip["trade"][0] >= 1000
