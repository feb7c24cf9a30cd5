"""The README's newcomer path cannot rot: its curl walk-through runs AS WRITTEN against a live server.

The walk-through's ```bash blocks are joined into one bash script (`set -euo pipefail` on top, so the
first failing command fails the test) and run in a folder whose `.venv` is this test environment, with
`BASE` pointing at a real uvicorn and `DATABASE_URL` at its database (what `./scripts/up` gives a user).
Then PostgreSQL must show what the README says happened: both users verified, the trade between them,
the cancelled order, one confirmed withdrawal for two requests with the same Idempotency-Key, and books
that balance. Other tests here keep the README honest about its one BASE variable and the ccxt extra.
"""
from __future__ import annotations

import asyncio
import os
import re
import sys
import tomllib
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.e2e.trading.kit import balances, check_books

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
WALKTHROUGH = "## Walk-through: from sign-up to a trade and a withdrawal (curl)\n"
BASE_LINES = {'export BASE=${BASE:-http://127.0.0.1:8000}', 'url = os.environ.get("BASE", "http://127.0.0.1:8000")'}


def section(title: str) -> str:
    return README.split(title, 1)[1].split("\n## ", 1)[0]


def blocks(text: str, language: str = r"\w*") -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def code_part(line: str) -> str:
    """The line without its trailing comment (bash and Python both use #)."""
    return re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()


@pytest.fixture
def settings(db_dsn, tmp_path):
    # the dev mailbox in this test's own folder; cheap password hashing
    return make_settings(db_dsn, data_dir=tmp_path / "data", argon2_time_cost=1, argon2_memory_kib=1024,
                         argon2_parallelism=1)


async def test_the_walkthrough_runs_as_written(live_server, settings, db, tmp_path):
    script = "set -euo pipefail\n" + "\n".join(blocks(section(WALKTHROUGH), "bash"))
    assert script.count("curl ") >= 10
    workdir = tmp_path / "clone"
    workdir.mkdir()
    (workdir / ".venv").symlink_to(sys.prefix)   # `.venv/bin/mycrypto`, as after ./scripts/up
    env = {**os.environ, "BASE": live_server.url, "DATABASE_URL": settings.database_url,
           "MYCRYPTO_ENV": "development", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    proc = await asyncio.create_subprocess_exec("bash", "-c", script, cwd=workdir, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=240)
    out_text, err_text = out.decode(), err.decode()
    assert proc.returncode == 0, f"the walk-through failed (exit {proc.returncode}):\n{out_text}\n{err_text}"

    users = {r["email"]: r for r in await db.fetch(
        "SELECT id, email, email_verified_at IS NOT NULL AS verified FROM auth.app_user")}
    alice, bob = users["alice@example.com"], users["bob@example.com"]
    assert alice["verified"] and bob["verified"]
    trades = await db.fetch("SELECT buyer_user_id, seller_user_id, price, quantity FROM trade.trade")
    assert [(t["buyer_user_id"], t["seller_user_id"], t["price"], t["quantity"]) for t in trades] == [
        (bob["id"], alice["id"], D(50000), D("0.1"))]
    orders = await db.fetch("SELECT user_id, price, status::text AS status FROM trade.spot_order ORDER BY id")
    assert [(o["user_id"], o["price"], o["status"]) for o in orders] == [
        (alice["id"], D(50000), "filled"), (alice["id"], D(60000), "canceled"), (bob["id"], None, "filled")]
    withdrawals = await db.fetch("SELECT user_id, asset, amount, idempotency_key, status::text AS status "
                                 "FROM wallet.withdrawal")
    assert [tuple(w.values()) for w in withdrawals] == [(bob["id"], "BTC", D("0.05"), "bob-withdrawal-1", "confirmed")]
    # Alice: 0.5 BTC in, 0.1 sold for 5,000 USDT less the 0.08 % maker fee. Bob: 30,000 USDT in, 0.1 BTC
    # bought for 5,000 + 0.10 % taker fee, 0.05 BTC withdrawn + 0.00002 fee.
    assert await balances(db, alice["id"]) == {"BTC": (D("0.4"), 0), "USDT": (D(4996), 0)}
    assert await balances(db, bob["id"]) == {"BTC": (D("0.04998"), 0), "USDT": (D(24995), 0)}
    await check_books(db)
    # what the README's comments promise is what the commands printed
    for shown in ['"status":"verified"', '"status":"canceled"', '"status":"filled"', '"status":"confirmed"',
                  '"available":"30000']:
        assert shown in out_text, shown


def test_every_command_block_that_talks_to_the_server_is_in_the_walkthrough():
    # The Operations block (backup, verify, smoke) is run against `mycrypto up` by
    # tests/e2e/ops/test_launch_gates.py, command by command.
    tested = blocks(section(WALKTHROUGH), "bash") + blocks(section("## Operations"), "bash")
    for block in blocks(README, "bash"):
        if "curl " in block or "$BASE" in block or "mycrypto chain" in block:
            assert block in tested, f"a README command block that no test runs:\n{block}"


def test_examples_use_one_base_variable():
    """No port in any example command: one BASE (exported by the walk-through, read by the ccxt snippet)."""
    with_port = {code_part(line) for block in blocks(README) for line in block.splitlines()
                 if ":8000" in code_part(line)}
    assert with_port == BASE_LINES


def test_the_ccxt_snippet_says_how_to_install_ccxt():
    text = section("## Binance-compatible API (ccxt, freqtrade)\n")
    before_snippet = text.split("```python", 1)[0]
    extra = re.search(r"\.venv/bin/pip install -e '\.\[(\w+)\]'", before_snippet).group(1)
    assert extra != "dev"   # a newcomer's client needs no test tools
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(re.match(r"ccxt\b", requirement) for requirement in extras[extra])
    assert 'os.environ.get("BASE"' in blocks(text, "python")[0]
