"""Every list endpoint has a maximum `limit` (issue 11, unrestricted resource consumption): the maximum
is served, one more is a 4xx with a stable code, and lists without a `limit` parameter are capped too."""
from __future__ import annotations

import pytest

from tests.e2e.trading.kit import make_trader

LISTS = [   # (path with {limit}, maximum, whose token: user / admin / none)
    ("/api/v1/wallet/deposits?limit={limit}", 500, "user"),
    ("/api/v1/wallet/withdrawals?limit={limit}", 500, "user"),
    ("/api/v1/wallet/history?limit={limit}", 500, "user"),
    ("/api/v1/wallet/admin/withdrawals?limit={limit}", 500, "admin"),
    ("/api/v1/trade/orders?limit={limit}", 1000, "user"),
    ("/api/v1/trade/orders/open?limit={limit}", 1000, "user"),
    ("/api/v1/trade/my-trades?limit={limit}", 1000, "user"),
    ("/api/v1/trade/trades/BTC-USDT?limit={limit}", 1000, "none"),
    ("/api/v1/trade/candles/BTC-USDT?interval=1m&limit={limit}", 1000, "none"),
    ("/api/v1/trade/alerts?limit={limit}", 200, "user"),
    ("/api/v1/trade/alerts/history?limit={limit}", 200, "user"),
    ("/api/v1/trade/indicators/sma?symbol=BTC-USDT&interval=1h&limit={limit}", 1000, "none"),
    ("/api/v1/auth/security-events?limit={limit}", 200, "user"),
    ("/api/v1/orderbook/BTC-USDT?depth={limit}", 5000, "none"),
]


@pytest.mark.parametrize("path, maximum, who", LISTS, ids=[p.split("?")[0] for p, _, _ in LISTS])
async def test_each_list_serves_its_maximum_and_refuses_more(client, db, settings, path, maximum, who):
    headers = {}
    if who != "none":
        headers = (await make_trader(db, settings, role="admin" if who == "admin" else "user")).headers
    r = await client.get(path.format(limit=maximum), headers=headers)
    assert r.status_code == 200, (path, r.text)
    for too_many in (maximum + 1, 10**9, 2**64):
        r = await client.get(path.format(limit=too_many), headers=headers)
        assert 400 <= r.status_code < 500, (path, too_many, r.status_code, r.text)
        assert r.json()["error"]["code"] in ("invalid_limit", "invalid_depth", "validation_error"), r.text


async def test_open_orders_without_a_limit_are_capped(client, db, settings):
    from mycrypto.trading.service import MAX_PAGE

    trader = await make_trader(db, settings, {"USDT": "100000"})
    for i in range(3):
        r = await client.post("/api/v1/trade/orders", json={"symbol": "BTC-USDT", "side": "buy", "type": "limit",
                                                            "price": str(40000 + i), "quantity": "0.001"},
                              headers=trader.headers)
        assert r.status_code == 201, r.text
    r = await client.get("/api/v1/trade/orders/open?limit=2", headers=trader.headers)
    assert [o["price"] for o in r.json()] == ["40002", "40001"]   # the newest first
    assert len((await client.get("/api/v1/trade/orders/open", headers=trader.headers)).json()) == 3
    assert MAX_PAGE == 1000


async def test_sessions_and_api_keys_lists_are_capped(db):
    """No `limit` parameter there: the repository answers at most MAX_LISTED rows."""
    from mycrypto.auth import repository
    from tests.support.factories import create_user

    user = await create_user(db)
    await db.execute(
        "INSERT INTO auth.api_key (user_id, label, api_key, secret_enc, permissions, ip_allowlist, revoked_at) "
        "SELECT $1, 'k' || g, 'key' || lpad(g::text, 60, '0'), 'x', ARRAY['read'], '{}', now() "
        "FROM generate_series(1, $2) g", user, repository.MAX_LISTED + 5)
    async with db.acquire() as conn:
        assert len(await repository.list_api_keys(conn, user)) == repository.MAX_LISTED


@pytest.mark.parametrize("depth", ["50%0A", "%2050", "5_0"])
async def test_integer_parameters_are_full_matched(client, depth):
    """int() takes "50\\n", " 50" and "5_0": an integer parameter must be plain digits (issue 11)."""
    r = await client.get(f"/api/v1/orderbook/BTC-USDT?depth={depth}")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_depth", r.text
