"""Custody on a real node: sweeps (ERC-20 sweeps funded with gas first), hot -> cold above the threshold,
network fees posted, reconciliation of the node's balances with the ledger (and its CLI)."""
from __future__ import annotations

import os
from decimal import Decimal as D

from tests.e2e.wallet.helpers import assert_books_ok, run_cli
from tests.integration.evm.conftest import make_world
from tests.support.factories import create_user


async def test_deposits_are_swept_token_gas_funded_first_and_the_excess_goes_cold(db_dsn, evm_chain):
    async for world in make_world(db_dsn, evm_chain, chain_eth_hot_max="ETH=1,USDT=300",
                                  chain_eth_sweep_min="ETH=0.01,USDT=5"):
        await world.fund_hot(eth="0.5")  # the operator's ETH for network fees
        alice, bob = await create_user(world.db), await create_user(world.db)
        a_addr, b_addr = await world.address(alice), await world.address(bob)
        await world.deposit(alice, usdt="1000")        # a token-only address: its sweep needs gas from the hot wallet
        await world.deposit(bob, eth="4", usdt="2.5")  # ETH swept; 2.5 USDT is below the sweep minimum
        for _ in range(3):
            await world.round()

        fund = await world.db.fetchrow("SELECT * FROM evm.tx WHERE kind = 'fund'")
        assert fund is not None and fund["to_address"].lower() == a_addr.lower()
        await world.settle(8)
        hot, cold = world.keys.hot.address, world.keys.cold
        sweeps = await world.db.fetch("SELECT from_address, asset, status, success FROM evm.tx WHERE kind = 'sweep' "
                                      "ORDER BY id")
        assert {(s["from_address"], s["asset"]) for s in sweeps} == {(a_addr.lower(), "USDT"), (b_addr.lower(), "ETH")}
        assert all(s["status"] == "settled" and s["success"] for s in sweeps)
        assert world.chain.token_balance(world.token, a_addr) == 0
        assert world.chain.token_balance(world.token, b_addr) == 2_500_000  # below CHAIN_ETH_SWEEP_MIN: stays
        assert world.chain.balance(b_addr) < D("0.001")  # only the unspent part of the gas budget remains

        # hot wallet: everything above ETH=1 / USDT=300 moved to the cold address
        colds = await world.db.fetch("SELECT asset, amount, status FROM evm.tx WHERE kind = 'cold' ORDER BY asset")
        assert [(c["asset"], c["status"]) for c in colds] == [("ETH", "settled"), ("USDT", "settled")]
        assert world.chain.token_balance(world.token, hot) == 300 * 10**6
        assert world.chain.token_balance(world.token, cold) == 700 * 10**6
        assert D("0.99") < world.chain.balance(hot) < D("1.1")  # moves happen only above 110 % of the limit
        assert world.chain.balance(cold) > D("3")

        # every transaction's network fee was posted; users' balances untouched by custody moves
        fees = await world.db.fetch("SELECT count(*) AS n FROM wallet.posting WHERE ref_type = 'network_fee'")
        assert fees[0]["n"] == await world.db.fetchval("SELECT count(*) FROM evm.tx")
        assert await world.balance(alice, "USDT") == (D("1000"), 0)
        assert await world.balance(bob, "ETH") == (D("4"), 0)
        await world.assert_books_and_chain_agree()
        [eth] = [line for line in (await world.evm.reconcile()).lines if line.asset == "ETH"]
        assert eth.cold > 0 and eth.hot > 0 and eth.deposit_addresses > 0


async def test_reconcile_command_reports_a_difference_until_the_surplus_is_booked(world):
    user = await create_user(world.db)
    await world.deposit(user, eth="1")
    await world.settle()
    env = {"CHAIN_ETH_RPC_URL": world.settings.chain_eth_rpc_url,
           "CHAIN_ETH_CHAIN_ID": str(world.settings.chain_eth_chain_id),
           "CHAIN_ETH_TOKENS": world.settings.chain_eth_tokens,
           "CHAIN_ETH_HOT_KEY": world.settings.chain_eth_hot_key.get_secret_value(),
           "CHAIN_ETH_DEPOSIT_SEED": world.settings.chain_eth_deposit_seed.get_secret_value(),
           "CHAIN_ETH_COLD_ADDRESS": world.keys.cold, "MYCRYPTO_ENV": "test"}
    dsn = world.settings.database_url
    ok = run_cli("chain", "reconcile", dsn=dsn, **env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "RESULT: OK" in ok.stdout and "ETH" in ok.stdout
    verify = run_cli("verify", "--chain", dsn=dsn, **env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "the books balance" in verify.stdout and "the chain matches the ledger" in verify.stdout

    # someone sends the hot wallet 0.2 ETH from outside: the chain holds more than the ledger knows
    world.chain.wait(world.chain.send_eth(world.keys.hot.address, "0.2", world.chain.accounts[9]))
    await world.parts.watcher.scan_once()
    bad = run_cli("chain", "reconcile", "--json", dsn=dsn, **env)
    assert bad.returncode == 1
    assert '"difference": "0.2"' in bad.stdout
    assert run_cli("verify", "--chain", dsn=dsn, **env).returncode == 1
    refused = run_cli("chain", "book-surplus", "ETH", "0.3", "--memo", "too much", dsn=dsn, **env)
    assert refused.returncode == 1 and "surplus on chain is 0.2" in refused.stderr
    booked = run_cli("chain", "book-surplus", "ETH", "0.2", "--to", "network_fees", "--memo", "gas top-up", dsn=dsn,
                     **env)
    assert booked.returncode == 0, booked.stderr
    assert run_cli("chain", "reconcile", dsn=dsn, **env).returncode == 0
    await assert_books_ok(world.db)


async def test_reconcile_needs_a_configured_node(db_dsn):
    result = run_cli("chain", "reconcile", dsn=db_dsn, CHAIN_ETH_RPC_URL="")
    assert result.returncode == 1 and "CHAIN_ETH_RPC_URL is not set" in result.stderr
    down = run_cli("chain", "reconcile", dsn=db_dsn, CHAIN_ETH_RPC_URL="http://127.0.0.1:9",
                   CHAIN_ETH_DEPOSIT_XPUB=_XPUB)
    assert down.returncode == 1 and "unreachable" in down.stderr and "Traceback" not in down.stderr
    assert os.environ.get("CHAIN_ETH_RPC_URL") is None


# the public account key of the hardhat mnemonic (any valid xpub would do: nothing is signed here)
_XPUB = ("xpub6Ce9NcJvTk36xtLSrJLZqE7wtgA5deCeYs7rSQtreh4cj6ByPtrg9sD7V2FNFLPnf8heNP3FGkeV9qwfzvZNSd54JoNXVsXFYSYwHs"
         "nJxqP")

