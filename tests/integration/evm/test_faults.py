"""Faults: the node down, answering garbage, restarted with the same chain, or a different chain.

Deposits wait, withdrawals stay queued (approved, nothing signed), /health shows the chain degraded,
and nothing is credited or debited twice; a node restarted with the same chain is read on from the
watcher's cursor; a node serving another chain is refused.
"""
from __future__ import annotations

import threading
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from eth_account import Account

from mycrypto.wallet.chain.status import chain_health
from mycrypto.wallet.schemas import WithdrawalCreate
from tests.integration.evm.conftest import make_world
from tests.support.evm.chain import DevChain
from tests.support.evm.contracts import compile_test_usdt
from tests.support.evm.fixtures import USDT_SUPPLY, EvmChain
from tests.support.evm.node import start_node
from tests.support.factories import create_user


class GarbleProxy:
    """Forwards JSON-RPC to the node; in `garbage` mode answers nonsense, in `bad_block` mode corrupts blocks."""

    def __init__(self, target: str) -> None:
        self.mode = "pass"
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                answer = httpx.post(target, content=body, headers={"content-type": "application/json"}).content
                if proxy.mode == "garbage":
                    answer = b"<html>502 upstream sad</html>"
                elif proxy.mode == "bad_block" and b'"parentHash"' in answer:
                    answer = answer.replace(b'"hash":"0x', b'"hash":"0xZZ', 1)
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


async def _request(world, user, amount):
    body, _ = await world.parts.withdrawals.request(
        user, WithdrawalCreate(asset="ETH", address=Account.create().address, amount=amount), None)
    return body["id"]


async def test_node_down_then_restarted_with_the_same_chain(db_dsn, tmp_path):
    node = start_node("ganache", db_path=tmp_path / "chain")
    try:
        chain = DevChain(node)
        token = chain.deploy_token(compile_test_usdt(), USDT_SUPPLY)
        async for world in make_world(db_dsn, EvmChain(chain, token)):
            await world.fund_hot(eth="2")
            user = await create_user(world.db)
            await world.deposit(user, eth="1")
            await world.round()
            assert await world.balance(user, "ETH") == (D("1"), 0)
            chain.send_eth(await world.address(user), "0.5", chain.accounts[5])  # 1 confirmation: pending
            await world.round()
            wid = await _request(world, user, "0.3")
            cursor_before = int(await world.db.fetchval("SELECT cursor FROM wallet.chain_cursor WHERE adapter = 'evm'"))

            node.stop()  # ---------------------------------------------------------------- node down
            out = await world.round()
            assert out["deposits"]["errors"] and out["withdrawals"]["retry_later"] == [wid]
            assert (await world.withdrawal_status(wid)) == "approved"
            assert await world.db.fetchval("SELECT count(*) FROM evm.tx WHERE kind = 'withdrawal'") == 0
            assert [r["status"] for r in await world.db.fetch(
                "SELECT status::text FROM wallet.deposit WHERE user_id = $1 ORDER BY id", user)] == ["credited", "pending"]
            health = await chain_health(world.db)
            assert health["ethereum"]["status"] == "degraded" and "unreachable" in health["ethereum"]["detail"]
            other = await create_user(world.db)
            assert (await world.address(other)).startswith("0x")  # addresses are derived offline

            node.start()  # ----------------------------------------------------- same chain, same port
            chain.mine(3)
            await world.settle()
            assert [r["status"] for r in await world.db.fetch(
                "SELECT status::text FROM wallet.deposit WHERE user_id = $1 ORDER BY id", user)] == ["credited"] * 2
            assert await world.balance(user, "ETH") == (D("1.5") - D("0.3") - D("0.0005"), 0)
            assert (await world.withdrawal_status(wid)) == "confirmed"
            first_scanned = await world.db.fetchval(
                "SELECT min(number) FROM evm.block WHERE chain = 'ethereum' AND number > $1", 0)
            assert first_scanned <= cursor_before + 1  # read on from the cursor, nothing skipped or rescanned
            assert (await chain_health(world.db))["ethereum"]["status"] == "ok"
            await world.assert_books_and_chain_agree()
    finally:
        node.stop()


async def test_a_node_answering_garbage_changes_nothing_until_it_answers_properly(db_dsn, evm_chain):
    proxy = GarbleProxy(evm_chain.chain.url)
    try:
        async for world in make_world(db_dsn, evm_chain, chain_eth_rpc_url=proxy.url):
            await world.fund_hot(eth="1")
            user = await create_user(world.db)
            await world.deposit(user, eth="0.4")
            await world.round()
            world.chain.send_eth(await world.address(user), "0.1", world.chain.accounts[5])
            await world.round()
            wid = await _request(world, user, "0.2")
            for mode in ("garbage", "bad_block"):
                proxy.mode = mode
                world.chain.mine(3)
                out = await world.round()
                assert out["deposits"]["errors"], mode
                assert await world.balance(user, "ETH") == (D("0.4") - D("0.2005"), D("0.2005")), mode
                assert (await world.withdrawal_status(wid)) == "approved", mode
                detail = (await chain_health(world.db))["ethereum"]["detail"]
                assert "garbage" in detail, (mode, detail)
            proxy.mode = "pass"
            await world.settle()
            assert await world.balance(user, "ETH") == (D("0.5") - D("0.2005"), 0)
            assert await world.db.fetchval("SELECT count(*) FROM wallet.deposit WHERE user_id = $1", user) == 2
            assert (await world.withdrawal_status(wid)) == "confirmed"
            await world.assert_books_and_chain_agree()
    finally:
        proxy.close()


async def test_a_node_on_another_chain_is_refused(db_dsn, evm_chain):
    async for world in make_world(db_dsn, evm_chain, chain_eth_chain_id=1):
        user = await create_user(world.db)
        await world.address(user)  # derived offline; the node is never trusted
        out = await world.round()
        assert any("chain id 1337" in e for e in out["deposits"]["errors"])
        detail = (await chain_health(world.db))["ethereum"]["detail"]
        assert "CHAIN_ETH_CHAIN_ID is 1" in detail
        assert await world.db.fetchval("SELECT count(*) FROM evm.block") == 0
    # a node reset to a new chain (another genesis) is refused too, not taken for a reorganisation
    async for world in make_world(db_dsn, evm_chain):
        await world.db.execute("INSERT INTO evm.block (chain, number, hash, parent_hash) "
                               "VALUES ('ethereum', -1, '0x' || repeat('ab', 32), '0x')")
        out = await world.round()
        assert any("genesis" in e for e in out["deposits"]["errors"])

