"""`mycrypto preflight` as an operator runs it (a real process) against a real server on 127.0.0.1."""
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import uvicorn

from mycrypto.apps import create_app
from tests.conftest import make_settings
from tests.support.services import free_port

ALL_CHECKS = ("migrations", "health", "security_headers", "cors", "registration", "smoke", "load", "db_queries",
              "backup_restore", "verify", "alert_rules")
OPERATIONS = ("smoke", "backup_restore", "alert_rules")    # built on ops/smoke.py, ops/backup.py, ops/alerts.py
QUICK_LOAD = ("--load-seconds", "1", "--load-rps", "50")


def preflight(url: str, *args: str, db_dsn: str | None = None, out_dir=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "AMQP_URL", "SMTP_URL")}
    if db_dsn:
        env["DATABASE_URL"] = db_dsn
    cmd = [sys.executable, "-m", "mycrypto.cli", "preflight", url, *QUICK_LOAD, *args]
    if out_dir is not None:
        cmd += ["--out-dir", str(out_dir)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180)


def lines(stdout: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(check, item) -> (status, reason) from the printed table."""
    out = {}
    for line in stdout.splitlines():
        parts = [p for p in line.split("  ") if p.strip()]
        if len(parts) >= 4 and parts[0].strip() in ALL_CHECKS:
            out[(parts[0].strip(), parts[1].strip())] = (parts[2].strip(), "  ".join(parts[3:]).strip())
    return out


def test_full_table_against_a_live_server(live_server, db_dsn, tmp_path):
    r = preflight(live_server.url, db_dsn=db_dsn, out_dir=tmp_path)
    table = lines(r.stdout)
    assert {check for check, _ in table} == set(ALL_CHECKS)
    assert table[("migrations", "schema at head")][0] == "GO"
    for service in ("auth", "wallet", "trade", "frontend"):
        assert table[("health", service)][0] == "GO", table[("health", service)]
    assert table[("security_headers", "API (/api/v1/trade/markets)")][0] == "GO"
    assert table[("cors", "foreign origin refused")][0] == "GO"
    assert table[("registration", "registration toggle")] [1].startswith("sign-up is open")
    assert table[("verify", "books balance (mycrypto verify)")][0] == "GO"
    status, reason = next(v for (c, _), v in table.items() if c == "load")
    assert status == "GO" and "p95" in reason and "order book" in reason
    for check in OPERATIONS:
        statuses = {item: v for (c, item), v in table.items() if c == check}
        assert statuses and all(s in ("GO", "SKIPPED") for s, _ in statuses.values()), statuses
    for step in ("login", "order_cancel", "execution", "trade_history"):
        assert table[("smoke", step)][0] == "GO", table[("smoke", step)]
    assert table[("backup_restore", "restore drill: row_counts")][0] == "GO"
    assert table[("backup_restore", "restore drill: verify")][0] == "GO"
    assert table[("alert_rules", "promtool test_rules")][0] == "GO"
    # the shared test server has no pg_stat_statements preloaded: the SQL budget cannot be proven here
    db_queries = next(v for (c, _), v in table.items() if c == "db_queries")
    verdict = "GO" if db_queries[0] == "GO" else "NO-GO"
    assert r.returncode == (0 if verdict == "GO" else 1), r.stdout + r.stderr
    assert f"VERDICT: {verdict}" in r.stdout
    [json_file] = tmp_path.glob("preflight-*.json")
    report = json.loads(json_file.read_text())
    assert report["verdict"] == verdict and report["base_url"] == live_server.url
    assert {x["check"] for x in report["results"]} == set(ALL_CHECKS)
    assert all({"check", "item", "status", "reason"} <= set(x) for x in report["results"])
    md = json_file.with_suffix(".md").read_text()
    assert md.startswith(f"# Preflight: {verdict}") and "| check | item | result | reason |" in md


def test_go_when_everything_else_passes_and_the_rest_is_skipped(live_server, db_dsn, tmp_path):
    skips = [a for check in (*OPERATIONS, "db_queries") for a in ("--skip", check)]
    r = preflight(live_server.url, "--expect-registration", "open", *skips, db_dsn=db_dsn, out_dir=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "VERDICT: GO" in r.stdout
    table = lines(r.stdout)
    assert table[("smoke", "smoke journeys")] == ("SKIPPED", "skipped by --skip")
    assert table[("registration", "registration toggle")] == ("GO", "sign-up is open, as expected")


def test_stopped_server_is_no_go_with_the_reason(db_dsn, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"                   # nothing listens there
    r = preflight(url, "--no-database", out_dir=tmp_path)
    assert r.returncode == 1
    table = lines(r.stdout)
    for item in ("ready (/health/ready)", "auth", "wallet", "trade", "frontend"):
        status, reason = table[("health", item)]
        assert status == "NO-GO" and reason.startswith("unreachable: nothing accepts connections"), (item, reason)
    assert table[("load", "50 req/s for 1 s")][0] == "NO-GO"
    assert table[("migrations", "schema at head")] == ("NOT_RUN", "no database access (set DATABASE_URL, or drop "
                                                                  "--no-database)")
    assert "VERDICT: NO-GO" in r.stdout


class ThreadServer:
    def __init__(self, app) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 60
        while not self.server.started:
            assert time.time() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def test_a_missing_service_and_a_dependency_down_are_no_go(db_dsn, tmp_path):
    # only the trade service is deployed, and its Redis does not answer
    settings = make_settings(db_dsn, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with ThreadServer(create_app(settings, ("trade",), access_log=False)) as server:
        r = preflight(server.url, "--skip", "load", db_dsn=db_dsn, out_dir=tmp_path)
    assert r.returncode == 1
    table = lines(r.stdout)
    assert table[("health", "auth")] == ("NO-GO", "/api/v1/auth/health answered 404: the auth service is not "
                                                  "deployed here")
    status, reason = table[("health", "trade")]
    assert status == "NO-GO" and "down: cache" in reason, reason
    assert table[("health", "frontend")][0] == "NO-GO"


@pytest.fixture(autouse=True)
def _no_stray_reports(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)     # a default --out-dir would land here, never in the repository
