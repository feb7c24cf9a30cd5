"""The issue's "done when", as an operator runs it: real processes, real PostgreSQL.

1. `mycrypto up` serves the platform; `scripts/smoke_tests.sh URL` passes every journey against it
   (development extras: mailbox for the email step, faucet for the deposit step).
2. `mycrypto backup` of that populated database, then `mycrypto backup verify` restores it into a
   scratch database: identical row counts and a passing `mycrypto verify`.
3. `mycrypto integrity` passes as a post-deploy gate, also against the backup's counts.
4. A dead URL fails the smoke test at once, with the reason.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import asyncpg

from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[3]
MYCRYPTO = [sys.executable, "-m", "mycrypto.cli"]


def _env(db_dsn: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "AMQP_URL", "SMTP_URL")}
    env.update({"DATABASE_URL": db_dsn, "LOG_LEVEL": "WARNING", "PATH": f"{Path(sys.executable).parent}:"
                + env.get("PATH", "")}, **extra)
    return env


def _wait_for(url: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "mycrypto up exited"
        try:
            with urllib.request.urlopen(url + "/health/ready", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not become ready")


async def _counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow("SELECT (SELECT count(*) FROM auth.app_user) AS users, "
                                  "(SELECT count(*) FROM trade.spot_order) AS orders, "
                                  "(SELECT count(*) FROM trade.trade) AS trades")
        return dict(row)
    finally:
        await conn.close()


async def test_smoke_passes_against_up_then_backup_round_trips_and_integrity_holds(db_dsn, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = _env(db_dsn, MYCRYPTO_PORT=str(port), MYCRYPTO_DATA_DIR=str(tmp_path / "var"))
    up = subprocess.Popen(MYCRYPTO + ["up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          cwd=tmp_path)
    try:
        _wait_for(url, up)
        smoke = subprocess.run([str(ROOT / "scripts" / "smoke_tests.sh"), url], capture_output=True, text=True,
                               env=env, timeout=180)
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr
        verdicts = {line.split()[1]: line.split()[0] for line in smoke.stdout.splitlines()
                    if line[:4] in ("PASS", "FAIL", "SKIP")}
        assert verdicts == {name: "PASS" for name in (
            "reachable", "health", "registration", "email", "login", "deposit", "balance", "order_cancel",
            "execution", "trade_history", "balance_after")}, smoke.stdout
        assert smoke.stdout.strip().endswith("SMOKE: PASS")
        metrics = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
        assert 'mycrypto_http_requests_total{method="POST",route="/api/v1/trade/orders",service="all",status="201"}' \
            in metrics
        assert "mycrypto_trade_trades_total{market=\"BTC-USDT\"}" in metrics
    finally:
        up.send_signal(signal.SIGINT)
        up.communicate(timeout=60)
    counts = await _counts(db_dsn)
    assert counts["users"] >= 2 and counts["orders"] >= 3 and counts["trades"] >= 1

    out = tmp_path / "backups"
    backup = subprocess.run(MYCRYPTO + ["backup", "--out", str(out), "--json"], capture_output=True, text=True,
                            env=env, timeout=300)
    assert backup.returncode == 0, backup.stderr
    result = json.loads(backup.stdout)
    assert result["ledger_ok"] is True and result["tables"]["trade.trade"] == counts["trades"]
    assert result["tables"]["auth.app_user"] == counts["users"]
    dump = result["dump_path"]
    manifest = json.loads(Path(result["manifest_path"]).read_text())
    assert manifest["sha256"] == result["sha256"] and manifest["size_bytes"] == Path(dump).stat().st_size

    verify = subprocess.run(MYCRYPTO + ["backup", "verify", dump], capture_output=True, text=True, env=env,
                            timeout=300)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    for step in ("files", "restore", "row_counts", "verify"):
        assert f"PASS  {step}" in verify.stdout, verify.stdout
    assert "identical to the manifest" in verify.stdout and "the books balance" in verify.stdout

    gate = subprocess.run(MYCRYPTO + ["integrity", "--expect", result["manifest_path"], "--record"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "INTEGRITY: OK" in gate.stdout and "counts_not_lower" in gate.stdout


def test_smoke_against_a_dead_url_fails_fast_with_the_reason():
    port = free_port()   # nothing listens there
    started = time.monotonic()
    done = subprocess.run([str(ROOT / "scripts" / "smoke_tests.sh"), f"http://127.0.0.1:{port}"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert time.monotonic() - started < 20
    first = done.stdout.splitlines()[0]
    assert first.startswith("FAIL  reachable") and "cannot connect" in first and "refused" in first.lower()
    assert done.stdout.strip().endswith("SMOKE: FAIL (reachable)")
    usage = subprocess.run([str(ROOT / "scripts" / "smoke_tests.sh")], capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2 and "usage" in usage.stderr
