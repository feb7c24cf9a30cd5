#!/usr/bin/env python3
"""Deposit-watcher benchmark on a real EVM node: 1,000 user addresses each receive a transfer in a burst of
blocks; how fast are the deposits credited, and how far behind the node's head does the watcher fall?

It starts ganache (tests/support/evm: npm install into tests/.node, never committed), deploys the test
USDT, creates a fresh database on the local PostgreSQL, 1,000 users with their deposit addresses
(through the real EVM adapter), then sends one transfer to each address (half ETH, half USDT by
default), mined into `--blocks` blocks, plus the confirmations. Then it runs the deposit watcher
(`DepositWatcher.scan_once`, exactly what the wallet's background loop runs) until every deposit is
credited, and prints:

    credited/s      deposits credited per second, from the first scan to the last credit
    lag (blocks)    head - watcher cursor when the watcher starts (= the burst) and after each round
    catch-up        seconds until the cursor reached the head
    rpc requests    JSON-RPC HTTP requests the watcher made (batches count once)

With --live the node keeps producing blocks of `--per-block` transfers every `--interval` seconds
while the watcher runs, and the lag is sampled at that rate instead.

Usage (repository root, venv active, PostgreSQL on 127.0.0.1):
    python bench/chain/run.py                         # 1,000 transfers in 10 blocks
    python bench/chain/run.py --users 1000 --blocks 20 --eth-only --runs 3
    python bench/chain/run.py --live --interval 1     # 100 transfers per second arriving while it runs
    PGURL=postgresql://postgres@127.0.0.1:5432/postgres python bench/chain/run.py

This machine is shared and noisy: compare runs made back to back, not across days.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import asyncpg  # noqa: E402
from eth_utils import to_checksum_address  # noqa: E402

from mycrypto.db.database import Database  # noqa: E402
from mycrypto.db.migrate import migrate  # noqa: E402
from mycrypto.wallet.api import build_components  # noqa: E402
from tests.support.evm import evm_settings, fresh_keys  # noqa: E402
from tests.support.evm.chain import DevChain  # noqa: E402
from tests.support.evm.contracts import compile_test_usdt  # noqa: E402
from tests.support.evm.fixtures import USDT_SUPPLY  # noqa: E402
from tests.support.evm.node import DevNode  # noqa: E402


def with_db(dsn: str, name: str) -> str:
    p = urlsplit(dsn)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


async def new_database(admin_dsn: str) -> tuple[str, str]:
    name = f"bench_chain_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_dsn)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    dsn = with_db(admin_dsn, name)
    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    await conn.close()
    return dsn, name


async def drop_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


def sign_burst(chain: DevChain, token: str, addresses: list[str], eth_only: bool) -> list[str]:
    """Signed transfers, one per address, from the node's funded accounts (nonces counted locally)."""
    base = int(chain.rpc("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    senders = chain.accounts[1:9]
    nonces = {s.address: int(chain.rpc("eth_getTransactionCount", s.address, "pending"), 16) for s in senders}
    from eth_abi import encode
    from eth_utils import function_signature_to_4byte_selector

    selector = function_signature_to_4byte_selector("transfer(address,uint256)")
    raws = []
    for i, address in enumerate(addresses):
        sender = senders[i % len(senders)]
        tx = {"type": 2, "chainId": chain.chain_id, "nonce": nonces[sender.address], "maxFeePerGas": 4 * base + 10**9,
              "maxPriorityFeePerGas": 10**9}
        nonces[sender.address] += 1
        if eth_only or i % 2 == 0:
            tx.update(to=to_checksum_address(address), value=10**16 + i, gas=21_000, data="0x")  # 0.01 ETH + i wei
        else:
            data = "0x" + (selector + encode(["address", "uint256"], [address, 1_000_000 + i])).hex()
            tx.update(to=token, value=0, gas=80_000, data=data)
        raws.append("0x" + sender.sign_transaction(tx).raw_transaction.hex())
    return raws


def send_batch(chain: DevChain, raws: list[str]) -> None:
    for start in range(0, len(raws), 100):
        body = [{"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [r]}
                for i, r in enumerate(raws[start:start + 100])]
        answers = chain.client.post(chain.url, json=body).json()
        errors = [a["error"] for a in answers if "error" in a]
        if errors:
            raise RuntimeError(f"node refused transfers: {errors[:3]}")


async def one_run(args: argparse.Namespace, chain: DevChain, token: str, admin_dsn: str) -> dict[str, float]:
    dsn, name = await new_database(admin_dsn)
    db = Database(dsn, min_size=1, max_size=8)
    await db.connect()
    settings = evm_settings(dsn, chain, token, fresh_keys(), chain_eth_scan_blocks=args.scan_blocks)
    parts = build_components(db, settings)
    try:
        users = [r["id"] for r in await db.fetch(
            "INSERT INTO auth.app_user (email, password_hash, email_verified_at) "
            "SELECT 'chainbench' || g || '@example.com', 'x', now() FROM generate_series(1, $1) g RETURNING id",
            args.users)]
        addresses = [(await parts.wallet.deposit_address(u, "ETH"))["address"] for u in users]
        await parts.watcher.scan_once()  # the cursor is at the head: the burst comes next
        evm = parts.chain.routes["ethereum"]
        raws = sign_burst(chain, token, addresses, args.eth_only)
        per_block = -(-len(raws) // args.blocks)
        chain.automine(False)
        producer = None
        try:
            if args.live:  # blocks keep arriving while the watcher works
                async def produce() -> None:
                    for start in range(0, len(raws), per_block):
                        send_batch(chain, raws[start:start + per_block])
                        chain.mine()
                        await asyncio.sleep(args.interval)
                    chain.mine(2)

                producer = asyncio.create_task(produce())
            else:
                for start in range(0, len(raws), per_block):
                    send_batch(chain, raws[start:start + per_block])
                    chain.mine()
                chain.mine(2)  # the last block's deposits reach 3 confirmations
        finally:
            if not args.live:
                chain.automine(True)
        rpc_before = evm.ctx.node.rpc.calls
        lags, rounds = [], 0
        started = time.perf_counter()
        caught_up = None
        credited = 0
        while credited < len(raws):
            head = chain.head()
            cursor = int(await db.fetchval("SELECT cursor FROM wallet.chain_cursor WHERE adapter = 'evm'"))
            lags.append(head - cursor)
            await parts.watcher.scan_once()
            rounds += 1
            credited = await db.fetchval("SELECT count(*) FROM wallet.deposit WHERE status = 'credited'")
            cursor = int(await db.fetchval("SELECT cursor FROM wallet.chain_cursor WHERE adapter = 'evm'"))
            if caught_up is None and cursor >= chain.head() and (producer is None or producer.done()):
                caught_up = time.perf_counter() - started
            if time.perf_counter() - started > args.timeout:
                raise RuntimeError(f"only {credited} of {len(raws)} credited after {args.timeout} s")
            if producer is not None and not producer.done():
                await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        if producer is not None:
            await producer
            chain.automine(True)
        return {"transfers": len(raws), "blocks": args.blocks, "seconds": elapsed, "credited_per_s": len(raws) / elapsed,
                "lag_start": lags[0], "lag_max": max(lags), "lag_median": statistics.median(lags),
                "catch_up_s": caught_up or elapsed, "rounds": rounds, "rpc": evm.ctx.node.rpc.calls - rpc_before}
    finally:
        await parts.chain.close()
        await db.close()
        await drop_database(admin_dsn, name)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--blocks", type=int, default=10, help="blocks the burst is mined into")
    parser.add_argument("--eth-only", action="store_true", help="only native transfers (default: half USDT)")
    parser.add_argument("--scan-blocks", type=int, default=200, help="CHAIN_ETH_SCAN_BLOCKS")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--live", action="store_true", help="blocks keep arriving while the watcher runs")
    parser.add_argument("--interval", type=float, default=1.0, help="--live: seconds between blocks")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    admin_dsn = os.environ.get("PGURL") or os.environ.get("TEST_DATABASE_URL") or \
        "postgresql://postgres@127.0.0.1:5432/postgres"
    node = DevNode("ganache").start()
    try:
        chain = DevChain(node)
        token = chain.deploy_token(compile_test_usdt(), USDT_SUPPLY)
        for account in chain.accounts[1:9]:
            chain.wait(chain.send_token(token, account.address, 10**9 * 10**6 // 10, chain.accounts[0]))
        results = []
        for run in range(args.runs):
            r = await one_run(args, chain, token, admin_dsn)
            results.append(r)
            print(f"run {run + 1}: {r['transfers']} transfers in {r['blocks']} blocks -> credited in {r['seconds']:.2f} s "
                  f"= {r['credited_per_s']:.0f} deposits/s; lag (blocks) at start {r['lag_start']}, max {r['lag_max']}, "
                  f"median {r['lag_median']}; caught up after {r['catch_up_s']:.2f} s; {r['rounds']} rounds, "
                  f"{r['rpc']} RPC requests", flush=True)
        if len(results) > 1:
            print(f"median of {len(results)}: {statistics.median(r['credited_per_s'] for r in results):.0f} deposits/s, "
                  f"catch-up {statistics.median(r['catch_up_s'] for r in results):.2f} s")
    finally:
        node.stop()



if __name__ == "__main__":
    asyncio.run(main())
