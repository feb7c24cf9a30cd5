"""Through HTTP with ETH and USDT on a real node: addresses (+ QR), every bad withdrawal input a clear 4xx
that changes nothing, dev helpers refusing real coins, health, and withdrawals queued while the node is down."""
from __future__ import annotations

import base64

import pytest
from eth_account import Account

from tests.e2e.wallet.helpers import ledger_state, started_app
from tests.support.evm import evm_settings, fresh_keys
from tests.support.evm.fixtures import evm_chain  # noqa: F401 - the session's ganache node
from tests.support.factories import bearer, create_user, fund

URL = "/api/v1/wallet/withdrawals"
OUTSIDE = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55 checksummed (an example of EIP-55 itself)


@pytest.fixture
async def evm_app(db_dsn, evm_chain):  # noqa: F811
    keys = fresh_keys()
    settings = evm_settings(db_dsn, evm_chain.chain, evm_chain.token, keys)
    async for app, client in started_app(settings, ("wallet", "frontend")):
        yield client, settings, keys, evm_chain


async def test_one_checksummed_address_per_user_for_eth_and_usdt_with_a_qr_code(evm_app, db):
    client, settings, _, _ = evm_app
    user, other = await create_user(db), await create_user(db)
    h = bearer(settings, user)
    eth = (await client.get("/api/v1/wallet/deposit-address/ETH", headers=h)).json()
    usdt = (await client.get("/api/v1/wallet/deposit-address/USDT", headers=h)).json()
    assert eth["address"] == usdt["address"] and eth["chain"] == "ethereum"
    assert Account.create().address != eth["address"] and eth["address"] != eth["address"].lower()
    theirs = (await client.get("/api/v1/wallet/deposit-address/ETH", headers=bearer(settings, other))).json()
    assert theirs["address"] != eth["address"]
    btc = (await client.get("/api/v1/wallet/deposit-address/BTC", headers=h)).json()
    assert btc["address"].startswith("bcrt1q")  # BTC stays on the simulator

    qr = await client.post("/web/qr", json={"text": eth["address"]}, headers=h)
    assert qr.status_code == 200
    svg = base64.b64decode(qr.json()["data_uri"].split(",", 1)[1])
    assert svg.startswith(b"<svg") and b"<script" not in svg
    refused = await client.post("/web/qr", json={"text": "https://evil.example/"}, headers=h)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "qr_unsupported"


@pytest.fixture
async def funded(evm_app, db):
    client, settings, keys, evm = evm_app
    user, other = await create_user(db), await create_user(db)
    await fund(db, user, "ETH", "5")
    await fund(db, user, "USDT", "500")
    h = bearer(settings, user)
    mine = (await client.get("/api/v1/wallet/deposit-address/ETH", headers=h)).json()["address"]
    theirs = (await client.get("/api/v1/wallet/deposit-address/USDT", headers=bearer(settings, other))).json()["address"]
    return client, h, {"mine": mine, "theirs": theirs, "hot": keys.hot.address, "cold": keys.cold,
                       "token": evm.token}


BAD = [
    # (asset, address (a key of the addresses above, or literal), amount, status, code)
    ("ETH", OUTSIDE.lower(), "0.1", 422, "invalid_address"),           # no EIP-55 checksum
    ("ETH", OUTSIDE[:-1] + "D", "0.1", 422, "invalid_address"),        # a typo the checksum catches
    ("USDT", OUTSIDE.upper().replace("0X", "0x"), "20", 422, "invalid_address"),
    ("ETH", "mine", "0.1", 422, "address_not_allowed"),                 # our own deposit address
    ("USDT", "theirs", "20", 422, "address_not_allowed"),               # another user's deposit address
    ("ETH", "hot", "0.1", 422, "address_not_allowed"),
    ("ETH", "cold", "0.1", 422, "address_not_allowed"),
    ("USDT", "token", "20", 422, "address_not_allowed"),                # the token contract itself
    ("ETH", "0x0000000000000000000000000000000000000000", "0.1", 422, "address_not_allowed"),
    ("USDT", OUTSIDE, "20.1234567", 422, "amount_precision"),           # USDT has 6 decimals on chain
    ("ETH", OUTSIDE, "0.0009", 422, "amount_below_minimum"),            # below the dust limit
    ("ETH", OUTSIDE, "101", 400, "daily_limit_exceeded"),
    ("ETH", OUTSIDE, "4.9999", 400, "insufficient_funds"),
]


@pytest.mark.parametrize("asset, address, amount, status, code", BAD,
                         ids=[f"{c}-{i}" for i, (_, _, _, _, c) in enumerate(BAD)])
async def test_bad_withdrawal_is_a_clear_4xx_and_changes_nothing(funded, db, asset, address, amount, status, code):
    client, h, addresses = funded
    before = await ledger_state(db)
    r = await client.post(URL, json={"asset": asset, "address": addresses.get(address, address), "amount": amount},
                          headers=h)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code and r.json()["error"]["request_id"]
    assert await ledger_state(db) == before


async def test_real_coins_are_never_minted_or_simulated(evm_app, db):
    client, settings, _, _ = evm_app
    user = await create_user(db)
    h = bearer(settings, user)
    r = await client.post("/api/v1/wallet/faucet", json={"asset": "ETH"}, headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "faucet_disabled"
    assert (await client.post("/api/v1/wallet/faucet", json={"asset": "BTC"}, headers=h)).status_code == 200
    cfg = (await client.get("/web/config")).json()
    assert cfg["real_chains"] == ["ethereum"] and cfg["chain_simulator"] is True
    address = (await client.get("/api/v1/wallet/deposit-address/ETH", headers=h)).json()["address"]
    r = await client.post("/web/dev/deposit", json={"asset": "ETH", "address": address, "amount": "1"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "simulated_deposit_refused"
    health = (await client.get("/health")).json()
    assert health["checks"]["chain"] in ("ok", "degraded") and "ethereum" in health.get("chains", {}) or \
        health["checks"]["chain"] == "degraded"


async def test_with_the_node_down_a_withdrawal_is_accepted_and_waits_queued(db_dsn, evm_chain, db):  # noqa: F811
    settings = evm_settings(db_dsn, evm_chain.chain, evm_chain.token, fresh_keys(),
                            chain_eth_rpc_url="http://127.0.0.1:9")
    async for _app, client in started_app(settings):
        user = await create_user(db)
        await fund(db, user, "USDT", "100")
        h = bearer(settings, user)
        address = await client.get("/api/v1/wallet/deposit-address/USDT", headers=h)
        assert address.status_code == 200  # derived from the xpub: no node needed
        r = await client.post(URL, json={"asset": "USDT", "address": OUTSIDE, "amount": "10"}, headers=h)
        assert r.status_code == 201 and r.json()["status"] == "approved"
        parts = _app.state.container.wallet
        out = await parts.run_once()
        assert out["withdrawals"]["retry_later"] == [r.json()["id"]]
        assert (await client.get(f"{URL}/{r.json()['id']}", headers=h)).json()["status"] == "approved"
        health = (await client.get("/health")).json()
        assert health["status"] == "degraded" and health["checks"]["chain"] == "degraded"
        assert "unreachable" in health["chains"]["ethereum"]["detail"]
