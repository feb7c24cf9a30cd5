"""The deposit and withdrawal journeys in the web app with ETH and USDT on a real EVM node (ganache), not
the simulator: the deposit address with its QR code, coins sent from an outside wallet credited after
their confirmations, withdrawals (a refused non-checksummed address first) landing on chain and
completing, the background sweeping to the hot wallet, and the chain reconciling with the ledger.

A block producer thread mines a block every half second while the test runs, like a real chain.
"""
from __future__ import annotations

import asyncio
import re
import threading
from decimal import Decimal as D

import pytest
from eth_account import Account
from playwright.async_api import expect

from mycrypto.wallet.chain.evm import build_evm_adapter
from tests.browser.flows import expect_available, goto, register_and_sign_in
from tests.support.evm import evm_settings, fresh_keys
from tests.support.evm.fixtures import evm_chain  # noqa: F401 - the session's ganache node

pytestmark = pytest.mark.browser


@pytest.fixture
def keys():
    return fresh_keys()


@pytest.fixture
def settings(db_dsn, tmp_path, evm_chain, keys):  # noqa: F811 - overrides tests/browser/conftest.py's
    return evm_settings(db_dsn, evm_chain.chain, evm_chain.token, keys, data_dir=tmp_path, argon2_time_cost=1,
                        argon2_memory_kib=1024, argon2_parallelism=1, wallet_watch_interval_s=0.3, db_pool_max=8,
                        rate_limits_enabled=True)


@pytest.fixture
def block_producer(evm_chain):  # noqa: F811
    stop = threading.Event()

    def produce():
        while not stop.wait(0.5):
            evm_chain.chain.mine()

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=5)


async def test_deposit_and_withdraw_eth_and_usdt_through_a_real_node(new_page, settings, db, evm_chain,  # noqa: F811
                                                                     block_producer):
    chain, token = evm_chain.chain, evm_chain.token
    page = (await new_page()).page
    await register_and_sign_in(page, "dana@example.com")
    await goto(page, "/app/wallet")

    # The deposit address: EIP-55, one for ETH and USDT, with a scannable QR code; no simulated deposits here.
    deposit = page.get_by_role("region", name="Deposit")
    await deposit.get_by_label("Asset to deposit").select_option("ETH")
    address_box = page.locator("#deposit-address")
    await expect(address_box).to_have_text(re.compile(r"^0x[0-9a-fA-F]{40}$"))
    address = (await address_box.inner_text()).strip()
    assert address != address.lower()
    await expect(page.get_by_role("img", name="QR code of your ETH deposit address")).to_be_visible()
    await expect(page.get_by_role("form", name="Simulate a deposit")).to_be_hidden()
    await deposit.get_by_label("Asset to deposit").select_option("USDT")
    await expect(address_box).to_have_text(address)
    await expect(page.get_by_role("img", name="QR code of your USDT deposit address")).to_be_visible()

    # Coins from an outside wallet: pending with confirmations, then credited.
    chain.send_eth(address, "2", chain.accounts[3])
    chain.send_token(token, address, 500 * 10**6, chain.accounts[3])
    deposits = page.get_by_role("table", name="Recent deposits")
    await expect(deposits).to_contain_text(re.compile(r"\d of 3"), timeout=20_000)
    await expect_available(page, "ETH", "2", timeout=30_000)
    await expect_available(page, "USDT", "500", timeout=30_000)
    await expect(deposits).to_contain_text("credited")

    # A withdrawal to a non-checksummed address is refused with a clear message, changing nothing.
    form = page.get_by_role("form", name="Withdrawal request")
    outside = Account.create().address
    await form.get_by_label("Asset to withdraw").select_option("ETH")
    await form.get_by_label("Destination address").fill(outside.lower())
    await form.get_by_label("Amount").fill("0.5")
    await form.get_by_role("button", name="Request withdrawal").click()
    await expect(form.get_by_label("Destination address")).to_have_attribute("aria-invalid", "true")
    await expect(form.get_by_role("status")).to_contain_text("EIP-55")
    await expect_available(page, "ETH", "2")

    # ETH and USDT withdrawals: auto-approved, broadcast by the hot wallet (once the sweeps filled it),
    # completed after their confirmations.
    await form.get_by_label("Destination address").fill(outside)
    await form.get_by_role("button", name="Request withdrawal").click()
    await expect(form.get_by_role("status")).to_contain_text(re.compile(r"Withdrawal #\d+ of 0.5 ETH requested: approved"))
    await form.get_by_label("Asset to withdraw").select_option("USDT")
    await form.get_by_label("Amount").fill("120")
    await form.get_by_role("button", name="Request withdrawal").click()
    await expect(form.get_by_role("status")).to_contain_text(re.compile(r"Withdrawal #\d+ of 120 USDT requested: approved"))
    withdrawals = page.get_by_role("table", name="Recent withdrawals")
    rows = withdrawals.get_by_role("row")
    await expect(rows.filter(has_text="ETH").filter(has_text="confirmed")).to_have_count(1, timeout=60_000)
    await expect(rows.filter(has_text="USDT").filter(has_text="confirmed")).to_have_count(1, timeout=60_000)
    await expect_available(page, "ETH", "1.4995")
    await expect_available(page, "USDT", "379")
    assert chain.balance(outside) == D("0.5")
    assert chain.token_balance(token, outside) == 120 * 10**6

    # Behind the scenes: swept to the hot wallet, fees posted, the chain matches the ledger.
    adapter = build_evm_adapter(settings, db)
    try:
        for _ in range(60):  # the background loop settles the last transactions (network fees)
            report = await adapter.reconcile()
            if report.ok:
                break
            await asyncio.sleep(0.5)
        assert report.ok, report.render()
    finally:
        await adapter.close()
    assert await db.fetchval("SELECT count(*) FROM evm.tx WHERE kind = 'sweep' AND status = 'settled'") >= 2
