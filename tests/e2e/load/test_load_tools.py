"""The load tools, run for seconds: HTTP-only seeding against a live server, and bench/load/run.py end to end
(private PostgreSQL, `mycrypto serve all`, Locust, the hot-path driver, statement timing, charts, report).
These assert what the tools produce (fields, files, tables), never how fast anything was."""
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mycrypto.ops.verify import verify_books
from tests.support.services import in_ci

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench" / "load"))
import seed  # noqa: E402
from pgstats import find_bindir  # noqa: E402


@pytest.fixture
def settings(db_dsn, tmp_path):
    from tests.conftest import make_settings

    # every simulated user signs up from 127.0.0.1, as in a load run (bench/load turns limits off too)
    return make_settings(db_dsn, rate_limits_enabled=False, data_dir=tmp_path / "data")


async def test_seeding_goes_through_the_real_http_paths(live_server, db):
    accounts = await seed.create_accounts(live_server.url, 2, log=lambda *_: None)
    assert len({a.user_id for a in accounts}) == 2 and all(a.api_key and a.secret for a in accounts)
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        r = await c.post("/api/v1/auth/login", json={"email": accounts[0].email, "password": accounts[0].password})
        assert r.status_code == 200 and r.json()["user"]["email_verified"] is True
        balances = (await c.get("/api/v1/wallet/balances",
                                headers={"Authorization": f"Bearer {r.json()['access_token']}"})).json()["balances"]
    assert {b["asset"]: b["available"] for b in balances} == {"BTC": "2", "ETH": "30", "USDT": "30000"}
    statuses = await seed.seed_resting(live_server.url, accounts, 6)
    assert statuses == {"200": 12}                                  # 6 per market, two markets
    statuses = await seed.seed_history(live_server.url, accounts, 3)
    assert statuses == {"200": 6}                                   # 3 trades: a sell and a buy each
    assert await db.fetchval("SELECT count(*) FROM trade.trade") == 3
    assert await db.fetchval("SELECT count(*) FROM trade.spot_order WHERE status IN ('new', 'partially_filled')") == 12
    kinds = {r["kind"] for r in await db.fetch("SELECT DISTINCT kind::text AS kind FROM wallet.posting")}
    assert kinds == {"faucet", "trade"}                             # every credit went through the ledger
    async with db.acquire() as conn:
        assert (await verify_books(conn)).ok


def test_seeding_refuses_remote_targets():
    with pytest.raises(seed.SeedError, match="127.0.0.1"):
        asyncio.run(seed.seed_resting("http://192.0.2.1:8000", [], 1))


@pytest.mark.slow
def test_a_tiny_load_run_writes_the_report_the_json_and_the_charts(tmp_path):
    if find_bindir() is None and in_ci():
        pytest.fail("no PostgreSQL with pg_stat_statements under /usr/lib/postgresql (CI=true)")
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "AMQP_URL", "SMTP_URL")}
    cmd = [sys.executable, str(ROOT / "bench" / "load" / "run.py"), "--users", "4", "--spawn-rate", "4",
           "--seconds", "3", "--accounts", "3", "--resting", "10", "--history", "1", "--scales", "1,2",
           "--hot-seconds", "1", "--hot-rate", "50", "--conns", "4", "--out", str(out)]
    if find_bindir() is None:
        cmd += ["--pg", "existing"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=420, cwd=str(ROOT))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert [s["scale"] for s in results["scales"]] == [1.0, 2.0]
    for sc in results["scales"]:
        s = sc["summary"]
        assert {"throughput_rps", "error_rate", "latency", "endpoints", "timeline", "cpu", "ramp_up"} <= set(s)
        assert {"p50_ms", "p95_ms", "p99_ms"} <= set(s["latency"])
        assert s["requests"] > 0 and s["timeline"]
        for e in s["endpoints"].values():
            assert {"requests", "rps", "p50_ms", "p95_ms", "p99_ms", "errors", "error_rate"} <= set(e)
        assert isinstance(sc["ratios_to_const"], dict)      # empty when the few seconds drew no baseline call
        assert {"requests", "share_of_requests", "est_share_of_server_cpu", "measured_share_of_server_cpu"} <= set(
            sc["login"])
        assert {"server_s", "server_event_loop_s", "server_argon2id_s", "postgres_s", "locust_s"} <= set(s["cpu"])
        assert s["ramp_up"]["every_user_signed_in"] is True and s["duration_s"] >= 2.5   # Locust stopped itself

        assert sc["rows"]["users"] == 3 and (out / sc["chart"]).stat().st_size > 10_000
        timing = sc["statement_timing"]
        assert timing["query_stats"] == "ok" or find_bindir() is None
        if timing["query_stats"] == "ok":
            assert timing["statements"] > 0 and {"mean_ms", "p95_ms", "p95_bound_ms", "verdict"} <= set(
                timing["slowest"][0])
    # the 2x run has twice the seeded resting orders and more history than the 1x run
    assert results["scales"][1]["rows"]["resting"] > results["scales"][0]["rows"]["resting"]
    assert results["scales"][1]["rows"]["trades"] > results["scales"][0]["rows"]["trades"]
    hot = results["hot"]
    assert {"orders_max", "orders_at_50", "const_max", "book_max", "book_at_50", "book_vs_const"} <= set(hot)
    assert hot["orders_max"]["endpoints"]["POST /api/v3/order (signed)"]["requests"] > 0
    assert hot["book_vs_const"]["median"] > 0
    for png in ("mixed-1x.png", "mixed-2x.png", "scale.png", "hot-orders_max.png", "hot-book_at_50.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    report = (out / "report.md").read_text()
    assert "## Verdicts" in report and "| target | measured | met |" in report
    assert "## Mixed journey at 2x data" in report and "## Hot paths (asyncio driver)" in report
    assert "Login (argon2id), measured window:" in report
    assert "written:" in r.stdout
